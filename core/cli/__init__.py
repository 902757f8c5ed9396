"""`python -m core …`: everything the app does with data, without Streamlit.

Each area's module registers its subcommands and the function that runs each (`run`); a new command is one
`add_parser` and one function in its area's module. Exit codes: 0 success, 2 bad input (with the report on
stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.cli import admin, alignment, funnel, imports, rejections, sandbox
from core.cli.common import BAD_INPUT
from core.db import open_database
from core.imports.mapping import MappingError
from core.imports.runs import ImportRefused
from core.permissions import PermissionDenied

AREAS = (admin, imports, funnel, rejections, alignment, sandbox)


def parser() -> argparse.ArgumentParser:
    assembled = argparse.ArgumentParser(prog="python -m core", description="OneFunnel data spine")
    assembled.add_argument("--database-url", help="default: DATABASE_URL or the SQLite file under data/")
    commands = assembled.add_subparsers(dest="command", required=True)
    for area in AREAS:
        area.register(commands)
    return assembled


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    engine = open_database(args.database_url)
    try:
        return int(args.run(engine, args))
    except ImportRefused as refused:
        print(refused.report(), file=sys.stderr)
        return BAD_INPUT
    except (MappingError, ValueError, PermissionDenied) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    finally:
        engine.dispose()
