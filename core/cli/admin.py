"""The deployment's commands: the schema, the sample data, the first admin, lifting a lockout."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from sqlalchemy import Engine

from core.admin.logins import FAILURE_WINDOW
from core.admin.seed import SAMPLE_DIR, seed_sample_data
from core.admin.users import UserError, create_user, unlock
from core.cli.common import Commands, actor
from core.permissions import ROLES


def register(commands: Commands) -> None:
    for name, text in (
        ("init-db", "create or upgrade the database schema"),
        ("migrate", "upgrade the schema to the newest revision (run once per deploy before starting replicas)"),
    ):
        commands.add_parser(name, help=text).set_defaults(run=_database_ready)

    seed = commands.add_parser("seed", help="load the sample data and put its signed definitions in force (idempotent)")
    seed.add_argument(
        "--dir",
        type=Path,
        default=SAMPLE_DIR,
        help="folder with the five canonical CSVs and, optionally, definitions.yaml",
    )
    seed.add_argument("--actor")
    seed.add_argument(
        "--no-definitions",
        action="store_true",
        help="only the data: do not put the folder's definitions.yaml in force",
    )
    seed.add_argument(
        "--no-survey", action="store_true", help="do not load the folder's survey.csv or open a survey round"
    )
    seed.set_defaults(run=_seed)

    creator = commands.add_parser(
        "create-user", help="create a user (the first admin of a deployment); the password is read without echo"
    )
    creator.add_argument("--username", required=True)
    creator.add_argument("--name", required=True)
    creator.add_argument("--email", required=True)
    creator.add_argument("--role", required=True, choices=ROLES)
    creator.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (for scripts)"
    )
    creator.set_defaults(run=_create_user)

    unlocker = commands.add_parser(
        "unlock-user",
        help=f"lift a sign-in lockout: clears the user's wrong passwords of the last "
        f"{FAILURE_WINDOW.seconds // 60} minutes (audited)",
    )
    unlocker.add_argument("--username", required=True)
    unlocker.add_argument("--actor")
    unlocker.set_defaults(run=_unlock_user)


def _database_ready(engine: Engine, args: argparse.Namespace) -> int:
    # Opening the database has already upgraded it.
    print(f"database ready at {engine.url.render_as_string(hide_password=True)}")
    return 0


def _seed(engine: Engine, args: argparse.Namespace) -> int:
    seeded = seed_sample_data(
        engine,
        args.dir,
        actor=actor(args),
        with_definitions=not args.no_definitions,
        with_survey=not args.no_survey,
    )
    for line in seeded.summaries():
        print(line)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise UserError("the two passwords differ")
    return first


def _create_user(engine: Engine, args: argparse.Namespace) -> int:
    user = create_user(
        engine,
        actor(args),
        username=args.username,
        name=args.name,
        email=args.email,
        role=args.role,
        password=_read_password(args.password_stdin),
    )
    print(f"created {user.username} ({user.role})")
    return 0


def _unlock_user(engine: Engine, args: argparse.Namespace) -> int:
    cleared = unlock(engine, actor(args), args.username)
    print(f"unlocked {args.username.strip().lower()}: {cleared} wrong passwords cleared")
    return 0
