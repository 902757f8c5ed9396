"""What every area's commands share: who the command line acts as, dates and files named on it, the mapping
it names, and the exit code of bad input."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from core.db import read_scope
from core.imports.mapping import Mapping, find_mapping, load_mapping_file
from core.permissions import Actor
from core.vocabulary import CLI_ACTOR_PREFIX

BAD_INPUT = 2

# The subcommands of one parser; each area's register() adds its own and sets `run` on each.
Commands = argparse._SubParsersAction  # argparse exposes no public name for it
Run = Callable[[Engine, argparse.Namespace], int]


def actor(args: argparse.Namespace) -> Actor:
    # A shell on the server can reach the database anyway: the command line acts as an admin.
    return Actor(getattr(args, "actor", None) or f"{CLI_ACTOR_PREFIX}{getpass.getuser()}", "admin")


def date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; expected YYYY-MM-DD") from None


def missing(path: Path) -> bool:
    """True, with the error said, when a file named on the command line is not there."""
    if path.is_file():
        return False
    print(f"error: no such file {path}", file=sys.stderr)
    return True


def chosen_mapping(engine: Engine, args: argparse.Namespace) -> Mapping | None:
    """The mapping named on the command line: a file, or a mapping saved on the Data page, or a preset."""
    if args.mapping:
        return load_mapping_file(args.mapping)
    if args.preset:
        with read_scope(engine) as session:
            return find_mapping(session, args.preset)
    return None
