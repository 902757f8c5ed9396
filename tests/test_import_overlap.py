"""Imports that overlap, on both databases: each counts exactly what it inserted and updated, and a settings
change committed while a file was read refuses that import (the hardening probe found both wrong on
PostgreSQL: two overlapping imports both recorded "inserted 300,000", and a timezone change left rows on the
wrong day)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from core import settings
from core.importer import ImportRefused, ImportResult, import_csv
from core.models import Lead
from tests.conftest import TESTER, csv_file

ROWS = 1_500


def leads(first: int, last: int, company: str) -> str:
    rows = [f"K{n:05d},2026-01-05 10:00,web,{company}" for n in range(first, last)]
    return "lead_id,created_at,source,company\n" + "\n".join(rows) + "\n"


def pause_when_read(barrier: threading.Barrier) -> Callable[[float, str], None]:
    """A progress callback that waits for the other import once its whole file is read, before the merge."""
    waited = False

    def progress(fraction: float, message: str) -> None:
        nonlocal waited
        if message.startswith("validated") and fraction >= 0.84 and not waited:
            waited = True
            barrier.wait()

    return progress


def run_both(engine: Engine, files: list[str]) -> list[ImportResult | BaseException]:
    barrier = threading.Barrier(len(files), timeout=60)
    results: list[ImportResult | BaseException] = [RuntimeError("did not run")] * len(files)

    def one(position: int, content: str) -> None:
        try:
            results[position] = import_csv(
                engine, "leads", csv_file(content), actor=TESTER, progress=pause_when_read(barrier)
            )
        except BaseException as exc:
            results[position] = exc

    threads = [threading.Thread(target=one, args=(n, content)) for n, content in enumerate(files)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_overlapping_imports_count_exactly(engine: Engine) -> None:
    # Keys 0–1,499 and 750–2,249: 750 shared, with another company in the second file.
    results = run_both(engine, [leads(0, ROWS, "Acme"), leads(ROWS // 2, ROWS + ROWS // 2, "Beta")])
    assert all(isinstance(result, ImportResult) for result in results), results
    inserted = sum(result.inserted for result in results)  # type: ignore[union-attr]
    updated = sum(result.updated for result in results)  # type: ignore[union-attr]
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Lead)).scalar_one()
    assert stored == ROWS + ROWS // 2
    # Whichever merged second inserted its 750 new keys and updated the 750 shared ones.
    assert (inserted, updated) == (stored, ROWS // 2)


def test_a_settings_change_while_a_file_is_read_refuses_it(engine: Engine) -> None:
    read = threading.Event()
    changed = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("validated") and fraction >= 0.84 and not read.is_set():
            read.set()
            assert changed.wait(60)

    outcome: list[BaseException | ImportResult] = []

    def importing() -> None:
        try:
            outcome.append(
                import_csv(engine, "leads", csv_file(leads(0, ROWS, "Acme")), actor=TESTER, progress=progress)
            )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=importing)
    thread.start()
    assert read.wait(60)
    settings.update(engine, {"timezone": "America/New_York"}, actor=TESTER)
    changed.set()
    thread.join(120)
    [result] = outcome
    assert isinstance(result, ImportRefused), result
    assert "settings changed while the file was read" in str(result)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Lead)).scalar_one() == 0


@pytest.fixture(autouse=True)
def _utc(engine: Engine) -> None:
    settings.update(engine, {"timezone": "UTC"}, actor=TESTER)
