"""Importing CSVs and the mapping presets they may be read with."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine

from core.cli.common import BAD_INPUT, Commands, actor, chosen_mapping, missing
from core.formats import KINDS
from core.imports.display_names import clear_name, set_name
from core.imports.mapping import preset_names
from core.imports.runs import import_csv
from core.vocabulary import humanise


def register(commands: Commands) -> None:
    importer = commands.add_parser("import", help="import a CSV file (all or nothing)")
    importer.add_argument("kind", choices=sorted(KINDS))
    importer.add_argument("file", type=Path)
    source = importer.add_mutually_exclusive_group()
    source.add_argument("--mapping", type=Path, help="a mapping file (YAML or JSON)")
    source.add_argument("--preset", help=f"a saved mapping (Data page) or a preset: {', '.join(preset_names())}")
    importer.add_argument("--sheet", help="the sheet of an Excel workbook to import (default: its first)")
    importer.add_argument("--dry-run", action="store_true", help="validate and report without writing")
    importer.add_argument("--actor", help="who is importing (recorded in the import history)")
    importer.set_defaults(run=_import)

    commands.add_parser("presets", help="list the shipped mapping presets").set_defaults(run=_presets)

    names = commands.add_parser(
        "display-name", help="the name a source shows under on every page (the stored value stays as imported)"
    )
    names.add_argument("source", help="the source as imported, e.g. content_syndication")
    names.add_argument("name", nargs="?", help="the name it shows under, e.g. 'Content syndication partners'")
    names.add_argument("--clear", action="store_true", help="remove its display name: the source shows as imported")
    names.add_argument("--actor", help="who is naming (recorded in the audit log)")
    names.set_defaults(run=_display_name)


def _import(engine: Engine, args: argparse.Namespace) -> int:
    if missing(args.file):
        return BAD_INPUT
    result = import_csv(
        engine,
        args.kind,
        args.file,
        actor=actor(args),
        mapping=chosen_mapping(engine, args),
        dry_run=args.dry_run,
        sheet=args.sheet,
    )
    print(result.summary())
    return 0


def _presets(engine: Engine, args: argparse.Namespace) -> int:
    for name in preset_names():
        print(name)
    return 0


def _display_name(engine: Engine, args: argparse.Namespace) -> int:
    if args.clear == (args.name is not None):
        print("error: give the source a NAME, or --clear its name; not both", file=sys.stderr)
        return BAD_INPUT
    if args.clear:
        cleared = clear_name(engine, args.source, actor=actor(args))
        print(f"{args.source}: the display name {cleared.before!r} is cleared; it shows as {humanise(args.source)!r}")
    elif (named := set_name(engine, args.source, args.name, actor=actor(args))) is None:
        print(f"{args.source}: already shows as {args.name.strip()!r}; nothing changed")
    else:
        print(f"{args.source}: shows as {named.after!r}" + (f" (was {named.before!r})" if named.before else ""))
    return 0
