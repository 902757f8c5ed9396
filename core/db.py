"""Engine factory and schema upgrades.

Every entry point (app, CLI, tests) calls `get_engine()` and then `upgrade()`,
so the database is always at the newest Alembic revision before it is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from core.config import database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant for pg_advisory_lock so that replicas starting together
# run the migrations one after another instead of racing.
_MIGRATION_LOCK_ID = 4_242_001
MIGRATION_WAIT_SECONDS = 600  # a replica waits this long for another's migration before giving up


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the app) and a writer (an import) work at once;
    # busy_timeout turns a momentary lock into a short wait instead of an error.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite may be built without math functions; time-decay attribution needs exp().
    dbapi_connection.create_function("exp", 1, math.exp, deterministic=True)


def get_engine(url: str | None = None) -> Engine:
    """A new engine for `url` (default: DATABASE_URL or the SQLite file under data/)."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call from several processes."""
    config = alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock_conn:
            lock_conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            try:
                command.upgrade(config, "head")
            finally:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                lock_conn.commit()
    elif (path := _sqlite_file(engine)) is not None:
        # Processes on one machine share the file: one migrates while the others wait, then find it done.
        with FileLock(f"{path}.migrate.lock", timeout=MIGRATION_WAIT_SECONDS):
            command.upgrade(config, "head")
    else:  # an in-memory database belongs to one process
        command.upgrade(config, "head")


def _sqlite_file(engine: Engine) -> str | None:
    database = engine.url.database
    return database if database and database != ":memory:" and not database.startswith("file::memory:") else None


def open_database(url: str | None = None) -> Engine:
    """The engine, upgraded: what the app and the CLI call at start."""
    engine = get_engine(url)
    upgrade(engine)
    return engine
