"""Several app processes starting together on an empty database: one migrates, the others wait for it, and
every one of them comes up on the newest schema (PostgreSQL: an advisory lock; SQLite: a lock file)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from core.db import MIGRATIONS_DIR, alembic_config, get_engine
from tests.conftest import _postgres_url

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = 3
# Each process imports the app's core, then waits for a shared moment so that their migrations overlap.
STARTER = """
import sys, time
start_at = float(sys.argv[2])
from core.db import open_database
time.sleep(max(0.0, start_at - time.time()))
engine = open_database(sys.argv[1])
with engine.connect() as connection:
    print(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())
"""


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config(get_engine("sqlite://"))).get_current_head()
    assert head is not None and (MIGRATIONS_DIR / "versions").is_dir()
    return head


def _start_together(url: str) -> list[subprocess.CompletedProcess[str]]:
    start_at = f"{time.time() + 4:.3f}"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, url, start_at],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def _all_on_head(results: list[subprocess.CompletedProcess[str]]) -> None:
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == _head()


def test_replicas_starting_together_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    _all_on_head(_start_together(f"sqlite:///{database}"))
    with create_engine(f"sqlite:///{database}").connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        # The migrations' own rows were written once, not once per process.
        assert connection.execute(text("SELECT count(*) FROM rejection_reasons")).scalar_one() == 12


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL is not set")
def test_replicas_starting_together_on_an_empty_postgresql_database() -> None:
    url = _postgres_url()
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        separator = "&" if "?" in url else "?"
        _all_on_head(_start_together(f"{url}{separator}options=-csearch_path%3D{schema}"))
        with admin.connect() as connection:
            versions = connection.execute(text(f"SELECT count(*) FROM {schema}.alembic_version")).scalar_one()
            reasons = connection.execute(text(f"SELECT count(*) FROM {schema}.rejection_reasons")).scalar_one()
        assert (versions, reasons) == (1, 12)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
