"""A re-import of the very file the last import of its kind read, with the same mapping, is recognised by its
checksum before it is parsed: recorded and audited, nothing changed. Any other file, or the same file read
another way, or after another file of its kind, is read as before."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

import core.imports.runs
from core.imports.mapping import identity_mapping
from core.imports.runs import import_csv
from core.models import AuditEntry, ImportRun, Lead
from tests.conftest import TESTER, csv_file, snapshot
from tests.fixtures import LEADS


def never_read(*_: object, **__: object) -> None:
    raise AssertionError("the file was read again")


def test_the_same_file_again_is_recognised_and_recorded_without_being_read(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    before = snapshot(engine)
    monkeypatch.setattr(core.imports.runs, "chunks", never_read)
    again = import_csv(engine, "leads", csv_file(LEADS, "leads (1).csv"), actor=TESTER)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, first.inserted)
    assert (again.rows_read, again.rows_skipped) == (first.rows_read, first.rows_skipped)
    assert again.same_as == first.import_id
    assert again.summary().startswith(
        f"leads (1).csv: the same {first.rows_read} rows as import #{first.import_id}, recognised by checksum"
    )
    after = snapshot(engine)
    assert {table: rows for table, rows in after.items() if table not in ("import_runs", "audit_log")} == {
        table: rows for table, rows in before.items() if table not in ("import_runs", "audit_log")
    }
    with engine.connect() as connection:
        runs = connection.execute(select(ImportRun.id, ImportRun.unchanged).order_by(ImportRun.id)).all()
        audited = connection.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_key == str(again.import_id))
        ).scalar_one()
    assert [tuple(run) for run in runs] == [(first.import_id, 0), (again.import_id, first.inserted)]
    assert audited == 1


def set_source(engine: Engine) -> str:
    with engine.connect() as connection:
        return connection.execute(select(Lead.source).where(Lead.lead_id == "L1")).scalar_one()


def test_after_another_file_of_the_kind_the_same_file_is_read_again(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS, "a.csv"), actor=TESTER)
    moved = LEADS.replace("a@acme.io,Acme,120,VP Sales,paid_search", "a@acme.io,Acme,120,VP Sales,webinar")
    assert moved != LEADS
    import_csv(engine, "leads", csv_file(moved, "b.csv"), actor=TESTER)
    assert set_source(engine) == "webinar"
    again = import_csv(engine, "leads", csv_file(LEADS, "a.csv"), actor=TESTER)
    assert again.updated == 1 and set_source(engine) == "paid_search"  # A's value is back: it was read


def test_the_same_file_read_another_way_is_read_again(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    header = LEADS.splitlines()[0].split(",")
    other = identity_mapping("leads", header).model_copy(update={"description": "an edited mapping"})
    read = []
    real_chunks = core.imports.runs.chunks

    def counted(*arguments: object, **keywords: object) -> object:
        read.append(True)
        return real_chunks(*arguments, **keywords)  # type: ignore[arg-type]

    monkeypatch.setattr(core.imports.runs, "chunks", counted)
    result = import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER, mapping=other)
    assert read and (result.inserted, result.updated, result.same_as) == (0, 0, None)
    dry = import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER, mapping=other, dry_run=True)
    assert dry.dry_run and len(read) == 2  # a dry run always reads: it is asked what the file holds
