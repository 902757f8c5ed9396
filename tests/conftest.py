"""Shared fixtures: a migrated database per backend, emptied before each test.

The data-layer tests run on SQLite always, and on PostgreSQL when
TEST_DATABASE_URL is set (CI sets REQUIRE_POSTGRES=1 so that an unreachable
server fails the run instead of silently skipping).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine, create_engine, text
from streamlit.testing.v1 import AppTest

from core import config
from core.admin import users
from core.db import get_engine, open_database, upgrade
from core.models import Base
from core.permissions import Actor
from core.rejections.catalogue import install_default_catalogue
from ui.auth import USER_KEY

# A cookie key as random as the app asks for (core.config checks its length and its letters).
TEST_COOKIE_KEY = "tEsT-c00kie-K3y_q8Zr5nW2xLp7Vb4Hj9Dm1Fs6Gy0Ua3EcRt"
# Admin: tests of imports and settings act with every permission; test_users covers the refusals.
TESTER = Actor("test", "admin")
ROOT = Path(__file__).resolve().parent.parent
REALDATA = ROOT.parent / "shared" / "realdata"
# Debian's Chromium, for the browser tests (.ci/run installs it).
CHROMIUM = Path("/usr/bin/chromium")
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


# --- the app driven by AppTest: a database of its own, the pages, and people signed in -----------------------

APP = str(ROOT / "app.py")
PASSWORD = "a long enough password"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.delenv("ONEFUNNEL_DEMO", raising=False)
    monkeypatch.setattr(config, "_secrets_files", lambda: [])
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    # AppTest runs in this process, so Streamlit's caches would otherwise carry another test's engine.
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = open_database(url)
    users.create_user(
        engine,
        Actor("setup", "admin"),
        username="erin",
        name="Erin Exec",
        email="e@x.io",
        role="exec",
        password=PASSWORD,
    )
    yield engine
    engine.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


def run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, [exception.message for exception in app.exception]
    return app


def sign_in(app: AppTest, username: str = "erin", password: str = PASSWORD) -> AppTest:
    app.text_input(key="sign_in_username").input(username)
    app.text_input(key="sign_in_password").input(password)
    app.button[0].click()  # the form's submit button
    return run(app)


def signed_in_as(database: Engine, username: str, role: str, page: str = APP) -> AppTest:
    users.create_user(
        database,
        Actor("setup", "admin"),
        username=username,
        name=username.title(),
        email=f"{username}@x.io",
        role=role,
        password=PASSWORD,
    )
    return signed_in_as_existing(database, username, page)


EVERYONE = ["Scoreboard", "Rejections", "Definitions", "Diagnostic", "Weekly sync", "Your account"]
# Those who may propose a definition also get the Sandbox, after the Diagnostic.
PROPOSERS = [*EVERYONE[:4], "Sandbox", *EVERYONE[4:-1]]
OPERATIONS = ["Data", "Targets & spend", "Audit log"]
ADMIN = ["Users and roles", "Settings"]
MENUS = {
    "exec": EVERYONE,
    "sales_lead": [*PROPOSERS, "Your account"],
    "ops": [*PROPOSERS, *OPERATIONS, "Your account"],
    "admin": [*PROPOSERS, *OPERATIONS, *ADMIN, "Your account"],
}


def signed_in_as_existing(database: Engine, username: str, page: str) -> AppTest:
    app = AppTest.from_file(page, default_timeout=60)
    app.session_state[USER_KEY] = users.get_user(database, username)
    return app


def page_file(name: str) -> str:
    return str(ROOT / "pages" / name)


# --- servers started by tests ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load_module() -> Any:
    """bench/load.py as a module: the load client speaks Streamlit's websocket protocol for tests too."""
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file is being run
    spec.loader.exec_module(module)
    return module


def seeded_for_load(load: Any, folder: Path) -> str:
    """The URL of a new SQLite database holding the sample company and the load client's two accounts."""
    database_url = f"sqlite:///{folder / 'app.db'}"
    environment = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "-m", "core", "seed"], cwd=ROOT, env=environment, check=True, capture_output=True)
    load.ensure_accounts(database_url)
    return database_url


@contextmanager
def demo_server(folder: Path) -> Iterator[str]:
    """`streamlit run serve.py` in demo mode on the embedded database `folder`/onefunnel.db (demo mode runs on
    nothing else), its output in `folder`/server.log; yields the URL once /_stcore/health answers."""
    port = free_port()
    environment = {
        **{key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
        "ONEFUNNEL_DATA_DIR": str(folder),
        "ONEFUNNEL_DEMO": "1",
        "ONEFUNNEL_COOKIE_KEY": "",
    }
    command = [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    url = f"http://127.0.0.1:{port}"
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.read() == b"ok":
                            break
                except OSError:
                    time.sleep(0.5)
            else:
                raise RuntimeError("streamlit did not answer /_stcore/health within 60 s")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)
