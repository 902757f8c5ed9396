"""Regressions found reviewing the issue 10 hardening: reads that took SQLite's write lock (a start-up schema check,
the Data page) and a PostgreSQL deadlock shown as a conflict instead of being run again."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from streamlit.testing.v1 import AppTest

from core import config, db
from core.admin import users
from core.definitions import versions
from core.permissions import Actor
from tests.conftest import TEST_COOKIE_KEY
from ui.auth import USER_KEY

ROOT = Path(__file__).resolve().parent.parent
MARKETING = Actor("mia", "marketing")
MARKETING_LEAD = Actor("morgan", "marketing_lead")
SALES_LEAD = Actor("sasha", "sales_lead")


def _sqlite_file(engine: Engine) -> Path:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database write lock only")
    assert engine.url.database
    return Path(engine.url.database)


@pytest.fixture
def import_merging(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Another process holds SQLite's write lock, as an import does while it merges (several seconds for a
    million leads); the busy timeout is cut to 1 s so that a wait for the lock fails fast instead of after 30 s.
    Yields a fresh engine on the same file (its new connections take the short timeout)."""
    path = _sqlite_file(engine)
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)
    fresh = db.get_engine(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield fresh
    finally:
        holder.rollback()
        holder.close()
        fresh.dispose()


# --------------------------------------------------------------------------- core/migrations/env.py


def test_upgrade_of_a_database_at_head_does_not_wait_for_the_write_lock(import_merging: Engine) -> None:
    started = time.monotonic()
    db.upgrade(import_merging)  # nothing to migrate: a read of alembic_version is all it needs
    assert time.monotonic() - started < 0.5


# --------------------------------------------------------------------------- pages/data.py


@pytest.fixture
def data_page_app(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    path = _sqlite_file(engine)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.delenv("ONEFUNNEL_DEMO", raising=False)
    monkeypatch.setattr(config, "_secrets_files", lambda: [])
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    st.cache_resource.clear()
    st.cache_data.clear()
    users.create_user(
        engine, Actor("setup", "admin"), username="olu", name="Olu Ops", email="o@x.io", role="ops", password="p" * 12
    )

    def run() -> AppTest:
        app = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=60)
        app.session_state[USER_KEY] = users.get_user(engine, "olu")
        app.run()
        return app

    warm = run()  # the process's engine is made (and the schema checked) before anyone holds the lock
    assert not warm.exception, [exception.message for exception in warm.exception]
    yield run
    from ui import cache

    cache.engine().dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


def test_the_data_page_renders_while_an_import_holds_the_write_lock(
    data_page_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)
    database = Path(str(config.database_url()).removeprefix("sqlite:///"))
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # an import merging
    try:
        # The page's engine is cached with its pooled connection (30 s timeout); a new connection gets 1 s.
        from ui import cache

        cache.engine().pool.dispose()
        app = data_page_app()
    finally:
        holder.rollback()
        holder.close()
    traces = ["".join(exception.stack_trace) for exception in app.exception]
    assert not any("database is locked" in trace for trace in traces), traces
    assert not app.exception, traces


# --------------------------------------------------------------------------- core/definitions/versions.py


def _real_deadlock(engine: Engine) -> OperationalError:
    """A genuine PostgreSQL deadlock (40P01) as SQLAlchemy raises it: two transactions update two rows in
    opposite orders."""
    table = "review_issue10_deadlock"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, n int)"))
        connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text(f"INSERT INTO {table} VALUES (1, 0), (2, 0)"))
    barrier = threading.Barrier(2)
    errors: list[OperationalError] = []

    def cross(first: int, second: int) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(text(f"UPDATE {table} SET n = n + 1 WHERE id = :i"), {"i": first})
                barrier.wait(timeout=10)
                connection.execute(text(f"UPDATE {table} SET n = n + 1 WHERE id = :i"), {"i": second})
        except OperationalError as error:
            errors.append(error)

    threads = [threading.Thread(target=cross, args=(1, 2)), threading.Thread(target=cross, args=(2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {table}"))
    assert len(errors) == 1 and db.must_retry(errors[0]), errors
    return errors[0]


def test_a_deadlock_in_a_sign_off_is_run_again(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("deadlocks (40P01) are PostgreSQL's")
    deadlock = _real_deadlock(engine)
    assert "blocked by process" in str(deadlock)
    version = versions.propose(engine, MARKETING, "mql", {"score_threshold": 50})
    real_sign = versions._sign
    calls = {"n": 0}

    def sign_chosen_as_the_victim_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # the first attempt is the one PostgreSQL rolled back
            raise deadlock
        return real_sign(*args, **kwargs)

    monkeypatch.setattr(versions, "_sign", sign_chosen_as_the_victim_once)
    signed = versions.approve(engine, MARKETING_LEAD, version.id, revision=version.revision)
    assert calls["n"] == 2
    assert [signoff.side for signoff in signed.signoffs] == ["marketing"]


def test_copying_stored_leads_into_a_trial_leaves_the_write_lock_free(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored trial of a million leads copies for many seconds; others' writes must not wait for the copy, only
    for the final statements (as with an import's merge)."""
    import datetime as dt

    from core.imports.runs import import_csv
    from core.sandbox import trials
    from tests.conftest import TESTER

    path = _sqlite_file(engine)
    import_csv(engine, "leads", ROOT / "sample_data" / "leads.csv", actor=TESTER)
    others_could_write: list[bool] = []
    stage_write = trials._stage_write

    def while_copying(connection: Any, rows: Any) -> None:
        stage_write(connection, rows)
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            others_could_write.append(True)
        except sqlite3.OperationalError:
            others_could_write.append(False)
        finally:
            other.close()

    monkeypatch.setattr(trials, "_stage_write", while_copying)
    monkeypatch.setattr(trials, "CHUNK_ROWS", 5_000)
    trial = trials.stored_trial(engine, Actor("olga", "ops"), "2026", dt.date(2024, 1, 1), dt.date(2026, 12, 31))
    assert trial.rows == 20_000
    assert others_could_write == [True] * 4
