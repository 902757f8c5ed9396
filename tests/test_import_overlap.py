"""Imports that overlap, on both databases: each counts exactly what it inserted and updated, and a settings
change committed while a file was read refuses that import (the hardening probe found both wrong on
PostgreSQL: two overlapping imports both recorded "inserted 300,000", and a timezone change left rows on the
wrong day)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from core import cli
from core.admin import settings
from core.imports.runs import ImportRefused, ImportResult, import_csv
from core.models import ImportRun, Lead
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


class _DatabaseSaid(Exception):
    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@contextmanager
def fail_merges(engine: Engine, sqlstate: str, times: int) -> Iterator[list[int]]:
    """Makes the database refuse the first `times` merges with `sqlstate` (40P01 is PostgreSQL's deadlock), as a
    real one would: the statement fails and the transaction rolls back. Returns the count of merges tried."""
    tried = [0]

    def refuse(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO IMPORT_RUNS"):
            tried[0] += 1
            if tried[0] <= times:
                raise OperationalError(statement, parameters, _DatabaseSaid(sqlstate, f"{sqlstate} said the database"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield tried
    finally:
        event.remove(engine, "before_cursor_execute", refuse)  # the engine outlives the test


def test_an_import_that_meets_a_deadlock_is_read_again_and_counted_once(engine: Engine) -> None:
    with fail_merges(engine, "40P01", times=2) as tried:
        result = import_csv(engine, "leads", csv_file(leads(0, 40, "Acme")), actor=TESTER)
    assert tried[0] == 3 and (result.inserted, result.updated) == (40, 0)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Lead)).scalar_one() == 40
        assert connection.execute(select(func.count()).select_from(ImportRun)).scalar_one() == 1


def test_any_other_database_error_is_a_refusal_with_its_report_and_exit_2(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(leads(0, 40, "Acme"))
    monkeypatch.setattr(cli, "open_database", lambda *args, **kwargs: engine)
    monkeypatch.setattr(engine, "dispose", lambda *args, **kwargs: None)
    with fail_merges(engine, "53100", times=99) as tried:  # PostgreSQL's "disk full"
        with pytest.raises(ImportRefused, match=r"the database stopped the import \(53100 said the database\)"):
            import_csv(engine, "leads", csv_file(leads(0, 40, "Acme")), actor=TESTER)
        assert tried[0] == 1  # not retried: only deadlocks and serialization failures are
        # The command line reports it like any refused file, and exits 2 rather than with a traceback.
        code = cli.main(["import", "leads", str(path), "--actor", "ops-robot"])
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Lead)).scalar_one() == 0
    assert code == 2
    assert "leads.csv was not imported (1 problem; nothing was changed)" in capsys.readouterr().err
