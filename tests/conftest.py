"""Shared fixtures: a migrated database per backend, emptied before each test.

The data-layer tests run on SQLite always, and on PostgreSQL when
TEST_DATABASE_URL is set (CI sets REQUIRE_POSTGRES=1 so that an unreachable
server fails the run instead of silently skipping).
"""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from core.db import get_engine, upgrade
from core.models import Base
from core.permissions import Actor
from core.reasons import install_default_catalogue

# A cookie key as random as the app asks for (core.config checks its length and its letters).
TEST_COOKIE_KEY = "tEsT-c00kie-K3y_q8Zr5nW2xLp7Vb4Hj9Dm1Fs6Gy0Ua3EcRt"
# Admin: tests of imports and settings act with every permission; test_users covers the refusals.
TESTER = Actor("test", "admin")
REALDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
if os.environ.get("REQUIRE_POSTGRES") and "postgresql" not in BACKENDS:
    raise RuntimeError("REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not")
# Tables that hold data; the calendar and the Alembic version stay.
DATA_TABLES = [table.name for table in reversed(Base.metadata.sorted_tables) if table.name not in ("calendar_days",)]


def _postgres_url() -> str:
    url = os.environ["TEST_DATABASE_URL"]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[Engine]:
    """An engine on a database with no tables: a new SQLite file in `folder`, or a throw-away PostgreSQL schema."""
    if backend == "sqlite":
        engine = get_engine(f"sqlite:///{folder / 'onefunnel.db'}")
        yield engine
        engine.dispose()
        return
    url = _postgres_url()
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with empty_database(request.param, tmp_path_factory.mktemp("db")) as engine:
        upgrade(engine)
        yield engine


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    with migrated_engine.begin() as connection:
        for table in DATA_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
        install_default_catalogue(connection)  # as the migration leaves a new database
    return migrated_engine


def csv_file(content: str, name: str = "upload.csv", encoding: str = "utf-8") -> io.BytesIO:
    """An in-memory upload, as the Data page hands it to core."""
    handle = io.BytesIO(content.encode(encoding))
    handle.name = name
    return handle


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every data table, to prove that a refused import changed nothing."""
    result = {}
    with engine.connect() as connection:
        for table in DATA_TABLES:
            rows = connection.execute(text(f"SELECT * FROM {table}")).all()
            result[table] = sorted((tuple(row) for row in rows), key=repr)
    return result


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present on this machine")
    return REALDATA


def database_url(engine: Engine) -> str:
    """A URL the CLI can open for the same database as `engine` (on PostgreSQL, the test's own schema)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"


def as_read(markdown: str) -> str:
    """Markdown from a page as a person reads it: the backslash escapes and zero-width spaces that keep data
    inert removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")
