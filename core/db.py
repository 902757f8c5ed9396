"""Engine factory and schema upgrades.

Every entry point (app, CLI, tests) calls `get_engine()` and then `upgrade()`,
so the database is always at the newest Alembic revision before it is read.
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.config import database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant for pg_advisory_lock so that replicas starting together
# run the migrations one after another instead of racing.
_MIGRATION_LOCK_ID = 4_242_001
MIGRATION_WAIT_SECONDS = 600  # a replica waits this long for another's migration before giving up
# How long a SQLite writer waits for the write lock before the driver gives up. An import of a million
# leads holds it for several seconds while it merges its staged rows.
SQLITE_BUSY_SECONDS = 30
# The execution option that marks a connection's transactions as writes (see `writing`).
WRITE_OPTION = "onefunnel_write"
# SQLSTATEs after which PostgreSQL asks the client to run the transaction again: serialization failure and
# deadlock detected. The first can come from REPEATABLE READ or SERIALIZABLE; the second from two row locks
# taken in opposite orders under any isolation.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})
RETRY_ATTEMPTS = 6

P = ParamSpec("P")
R = TypeVar("R")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Python's driver opens no transaction for a SELECT, so a read followed by a write is not atomic, and it
    # would begin writes itself as DEFERRED. Turned off here; `_sqlite_on_begin` issues every BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the app) and a writer (an import) work at once;
    # busy_timeout turns a momentary lock into a short wait instead of an error.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite may be built without math functions; time-decay attribution needs exp().
    dbapi_connection.create_function("exp", 1, math.exp, deterministic=True)


def _sqlite_on_begin(connection: Connection) -> None:
    # A write transaction takes the write lock when it begins (waiting up to the busy timeout for it), so
    # what it reads cannot be changed by another writer before it writes. A deferred transaction that read
    # first would instead fail at its first write if anyone had committed since ("database is locked"), a
    # failure the busy timeout cannot help. Reads stay deferred: in WAL they never block or wait for a writer.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def get_engine(url: str | None = None) -> Engine:
    """A new engine for `url` (default: DATABASE_URL or the SQLite file under data/)."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def writing(engine: Engine) -> Engine:
    """`engine` for a transaction that writes: on SQLite it begins IMMEDIATE (see `_sqlite_on_begin`);
    on PostgreSQL nothing changes, its writes lock rows as they go."""
    return engine.execution_options(**{WRITE_OPTION: True})


def write_from_here(connection: Connection, transaction: RootTransaction) -> RootTransaction:
    """SQLite: commits what `transaction` wrote (an import's or a trial's rows staged in a temporary table, without
    the write lock) and begins IMMEDIATE on the same connection for the statements that write the database, so the
    lock is held only for those. The caller re-checks whatever it read before, which may have changed."""
    transaction.commit()  # the staged rows live on in the temporary table until it is dropped
    connection.execution_options(**{WRITE_OPTION: True})
    return connection.begin()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work that writes: commit on success, roll back on any error."""
    with session_factory(writing(engine))() as session, session.begin():
        yield session


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session that only reads: one consistent snapshot, never the write lock, nothing committed."""
    with session_factory(engine)() as session, session.begin():
        yield session
        session.rollback()


def must_retry(error: BaseException) -> bool:
    """Whether the database asked for the whole transaction to run again."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state in RETRY_SQLSTATES


def retry_pause(tries: int) -> None:
    # Not for secrecy: a jitter that keeps two retrying writers apart.
    time.sleep(random.uniform(0.005, 0.02) * 2**tries)


def retrying(function: Callable[P, R]) -> Callable[P, R]:
    """Runs a function that does one whole transaction again when PostgreSQL reports a serialization failure
    or a deadlock (the transaction was rolled back, so running it again is safe), with a short random pause
    so that the two sides do not collide again. After the last attempt the error goes up as it is."""

    @functools.wraps(function)
    def attempt(*args: P.args, **kwargs: P.kwargs) -> R:
        for tries in range(1, RETRY_ATTEMPTS + 1):
            try:
                return function(*args, **kwargs)
            except DBAPIError as error:
                if tries == RETRY_ATTEMPTS or not must_retry(error):
                    raise
            retry_pause(tries)
        raise AssertionError("unreachable")

    return attempt


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call from several processes."""
    config = alembic_config(engine)
    if _at_head(engine, config):
        return  # every start and CLI command comes here: a plain read, never a wait for the write lock
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


def _at_head(engine: Engine, config: Config) -> bool:
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == _script_heads(config.get_main_option("script_location") or str(MIGRATIONS_DIR))


@functools.cache
def _script_heads(location: str) -> frozenset[str]:
    """The newest revisions the migration scripts define: read once per process (every new engine, such as a
    page's after its caches were cleared, checks the schema, and parsing the scripts cost more than the check)."""
    config = Config()
    config.set_main_option("script_location", location)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _sqlite_file(engine: Engine) -> str | None:
    database = engine.url.database
    return database if database and database != ":memory:" and not database.startswith("file::memory:") else None


def open_database(url: str | None = None) -> Engine:
    """The engine, upgraded: what the app and the CLI call at start."""
    engine = get_engine(url)
    upgrade(engine)
    return engine
