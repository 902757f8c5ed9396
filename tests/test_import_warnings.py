"""An import that says what it will mean: each warning on a small fixture, its count, and its one-click fix."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from core.imports import validation
from core.imports.import_warnings import apply_fix
from core.imports.mapping import Mapping, parse_mapping
from core.imports.runs import ImportResult, import_csv
from core.models import ImportRun, Lead
from tests.conftest import TESTER, csv_file, snapshot
from tests.fixtures import UNDATED_LEADS

# What a first try at the undated export looks like: each field from its column, nothing more.
FIRST_TRY = {
    "name": "first try",
    "kind": "leads",
    "fields": {
        "lead_id": {"column": "Prospect ID"},
        "created_at": {"import_day": True},
        "source": {"column": "Lead Source"},
        "industry": {"column": "Specialization"},
        "rejection_reason": {"column": "Tags"},
    },
}


def check(engine: Engine, content: str, mapping: Mapping | None = None, kind: str = "leads") -> ImportResult:
    before = snapshot(engine)
    result = import_csv(engine, kind, csv_file(content), actor=TESTER, mapping=mapping, dry_run=True)
    assert snapshot(engine) == before, "a check writes nothing"
    return result


def by_code(result: ImportResult) -> dict[str, list[tuple[str | None, int]]]:
    found: dict[str, list[tuple[str | None, int]]] = {}
    for warning in result.warnings:
        found.setdefault(warning.code, []).append((warning.field, warning.count))
    return found


@pytest.fixture(autouse=True)
def fixed_import_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "import_day", lambda settings: "2026-11-16")


def test_a_clean_first_try_says_what_it_will_mean(engine: Engine) -> None:
    result = check(engine, UNDATED_LEADS, parse_mapping(FIRST_TRY))
    assert result.inserted == 14
    assert by_code(result) == {
        "no_mql_date": [("mql_at", 14)],
        "reasons_without_rejection": [("rejection_reason", 13)],  # p-13 has no tag
        "placeholder": [("industry", 7)],  # Select
        "case_variants": [("source", 4)],  # Google ×3 (one with a trailing space) and google
        "one_date": [("created_at", 14)],
    }
    summary = result.summary()
    assert "warning: no field gives the MQL date: none of these leads will count as MQLs (14 rows)" in summary
    assert "'Google' / 'google'" in summary


def test_each_fix_clears_its_warning(engine: Engine) -> None:
    mapping = parse_mapping(FIRST_TRY)
    first = check(engine, UNDATED_LEADS, mapping)
    for warning in first.warnings:
        if warning.fix is not None:
            mapping = apply_fix(mapping, warning.fix)
    assert mapping.null_values == ["Select"] and mapping.fields["source"].fold_case
    after = by_code(check(engine, UNDATED_LEADS, mapping))
    assert "placeholder" not in after and "case_variants" not in after
    assert "no_mql_date" in after  # no fix can invent MQL dates: the person maps them


def test_blanks_that_would_merge_with_a_literal_value(engine: Engine) -> None:
    content = "lead_id,created_at,source\nL1,2026-01-05,unknown\nL2,2026-01-05,\nL3,2026-01-06,web\nL4,2026-01-07,\n"
    [warning] = [w for w in check(engine, content).warnings if w.code == "blank_merges"]
    assert (warning.field, warning.count) == ("source", 2)
    assert "2 blanks would become 'unknown' and merge with the 1 row that say 'unknown'" in warning.message
    assert warning.fix is not None
    mapping = apply_fix(
        parse_mapping(
            {
                "name": "x",
                "kind": "leads",
                "fields": {
                    "lead_id": {"column": "lead_id"},
                    "created_at": {"column": "created_at"},
                    "source": {"column": "source"},
                },
            }
        ),
        warning.fix,
    )
    import_csv(engine, "leads", csv_file(content), actor=TESTER, mapping=mapping)
    with engine.connect() as connection:
        sources = dict(connection.execute(select(Lead.lead_id, Lead.source)).all())
    assert sources == {"L1": "unknown", "L2": "(blank)", "L3": "web", "L4": "(blank)"}
    # No literal "unknown" in the file: blanks becoming "unknown" merge with nothing, so no warning.
    assert "blank_merges" not in by_code(check(engine, content.replace("unknown", "web")))


def test_a_deals_file_with_only_wins(engine: Engine) -> None:
    content = "opportunity_id,created_at,amount,closed_at,is_won\n"
    content += "O1,2026-01-05,10,2026-02-01,true\nO2,2026-01-05,20,2026-02-03,won\nO3,2026-01-06,5,,\n"
    assert by_code(check(engine, content, kind="opportunities"))["only_won"] == [("is_won", 2)]
    with_loss = content.replace("O2,2026-01-05,20,2026-02-03,won", "O2,2026-01-05,20,2026-02-03,lost")
    assert "only_won" not in by_code(check(engine, with_loss, kind="opportunities"))


def test_a_date_column_with_every_row_on_one_day(engine: Engine) -> None:
    content = (
        "lead_id,created_at,source,mql_at\nL1,2026-01-05 09:00,web,2026-01-05\nL2,2026-01-05 17:00,web,2026-01-06\n"
    )
    assert by_code(check(engine, content)) == {"one_date": [("created_at", 2)]}


def test_the_warnings_are_kept_with_the_import(engine: Engine) -> None:
    result = import_csv(engine, "leads", csv_file(UNDATED_LEADS), actor=TESTER, mapping=parse_mapping(FIRST_TRY))
    with engine.connect() as connection:
        notes = connection.execute(select(ImportRun.notes).where(ImportRun.id == result.import_id)).scalar_one()
    assert [w["code"] for w in notes["warnings"]] == [w.code for w in result.warnings]
    assert notes["warnings"][0]["count"] == 14
