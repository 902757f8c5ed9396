"""The mapping language: constants and the import day, case folding, compound conditions, and a mapping's own
errors reported once, before any row is read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.cli import main
from core.db import session_scope
from core.imports import validation
from core.imports.mapping import MappingError, parse_mapping, save_mapping
from core.imports.runs import ImportRefused, import_csv
from core.models import Lead
from tests.conftest import TESTER, csv_file, database_url, snapshot
from tests.fixtures import UNDATED_LEADS, UNDATED_LEADS_MAPPING


def stored(engine: Engine) -> dict[str, tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Lead.lead_id,
                Lead.source,
                Lead.industry,
                Lead.created_at,
                Lead.sql_at,
                Lead.rejected_at,
                Lead.rejection_reason,
            )
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_an_undated_export_imports_through_the_language(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "import_day", lambda settings: "2026-11-16")
    mapping = parse_mapping(UNDATED_LEADS_MAPPING)
    result = import_csv(engine, "leads", csv_file(UNDATED_LEADS, "Leads.csv"), actor=TESTER, mapping=mapping)
    assert result.inserted == 14 and not result.notes
    rows = stored(engine)
    monday = dt.datetime(2026, 11, 16)
    # "Google", "google" and "Google " are one source; "Select" is no industry.
    assert {rows[key][0] for key in ("p-05", "p-06", "p-10")} == {"google"}
    assert rows["p-01"][1] is None and rows["p-03"][1] == "Business Administration"
    assert rows["p-03"][2:] == (monday, monday, None, None)  # converted: an SQL, not rejected, no reason
    assert rows["p-02"][2:] == (monday, None, monday, "Ringing")
    assert rows["p-13"][2:] == (monday, None, monday, None)  # rejected without a reason


def test_a_row_imported_again_keeps_its_first_import_day(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = parse_mapping(UNDATED_LEADS_MAPPING)
    monkeypatch.setattr(validation, "import_day", lambda settings: "2026-11-16")
    import_csv(engine, "leads", csv_file(UNDATED_LEADS), actor=TESTER, mapping=mapping)
    before = snapshot(engine)["leads"]
    monkeypatch.setattr(validation, "import_day", lambda settings: "2026-11-23")
    again = import_csv(engine, "leads", csv_file(UNDATED_LEADS), actor=TESTER, mapping=mapping)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 14)
    assert snapshot(engine)["leads"] == before
    new_row = UNDATED_LEADS + "p-15,660550,API,Reference,1,1,Select,,Select\n"
    third = import_csv(engine, "leads", csv_file(new_row), actor=TESTER, mapping=mapping)
    assert (third.inserted, third.updated) == (1, 0)
    assert stored(engine)["p-15"][2] == dt.datetime(2026, 11, 23)


def test_compound_conditions(engine: Engine) -> None:
    document = {
        **UNDATED_LEADS_MAPPING,
        "fields": {
            **UNDATED_LEADS_MAPPING["fields"],  # type: ignore[dict-item]
            # Rejected only where not converted AND a reason was given; "any" for the SQLs.
            "rejected_at": {
                "import_day": True,
                "when": {"all": [{"column": "Converted", "in": ["0"]}, {"column": "Tags", "not_in": [""]}]},
            },
            "sql_at": {
                "import_day": True,
                "when": {
                    "any": [{"column": "Converted", "in": ["1"]}, {"column": "Tags", "in": ["Already a student"]}]
                },
            },
        },
    }
    import_csv(engine, "leads", csv_file(UNDATED_LEADS), actor=TESTER, mapping=parse_mapping(document))
    rows = stored(engine)
    assert rows["p-13"][4] is None  # no reason: not counted as rejected
    assert rows["p-02"][4] is not None
    assert rows["p-10"][3] is not None  # "Already a student" counts as converted under "any"
    assert sum(row[3] is not None for row in rows.values()) == 7


@pytest.mark.parametrize(
    "condition",
    [{"all": []}, {"column": "Converted"}, {"all": [{"column": "A", "in": ["1"]}], "column": "B", "in": ["2"]}],
)
def test_malformed_conditions_are_mapping_errors(condition: dict[str, object]) -> None:
    document = {
        **UNDATED_LEADS_MAPPING,
        "fields": {**UNDATED_LEADS_MAPPING["fields"], "sql_at": {"import_day": True, "when": condition}},
    }  # type: ignore[dict-item]
    with pytest.raises(MappingError, match=r"fields\.sql_at\.when"):
        parse_mapping(document)


def test_a_bad_constant_is_one_mapping_error_before_any_row(engine: Engine) -> None:
    document = {
        **UNDATED_LEADS_MAPPING,
        "fields": {**UNDATED_LEADS_MAPPING["fields"], "created_at": {"constant": "last Tuesday"}},
    }  # type: ignore[dict-item]
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, "leads", csv_file(UNDATED_LEADS * 1), actor=TESTER, mapping=parse_mapping(document))
    assert caught.value.total == 1
    [problem] = caught.value.problems
    assert problem.row is None and problem.column == "created_at (constant in the mapping)"
    assert problem.value == "last Tuesday" and "a date" in problem.expected


def test_a_condition_on_a_column_the_file_lacks_is_one_mapping_error(engine: Engine) -> None:
    document = {
        **UNDATED_LEADS_MAPPING,
        "fields": {
            **UNDATED_LEADS_MAPPING["fields"],
            "sql_at": {"import_day": True, "when": {"column": "IsConverted", "in": ["1"]}},
        },  # type: ignore[dict-item]
    }
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, "leads", csv_file(UNDATED_LEADS), actor=TESTER, mapping=parse_mapping(document))
    assert caught.value.total == 1
    assert "the condition of sql_at tests the column 'IsConverted', which the file does not have" in str(caught.value)


def test_import_day_is_for_dates_and_not_keys() -> None:
    with pytest.raises(MappingError, match="source is not a date field"):
        parse_mapping(
            {**UNDATED_LEADS_MAPPING, "fields": {**UNDATED_LEADS_MAPPING["fields"], "source": {"import_day": True}}}
        )  # type: ignore[dict-item]
    touches = {
        "name": "t",
        "kind": "touches",
        "fields": {"touched_at": {"import_day": True}, "channel": {"column": "c"}},
    }
    with pytest.raises(MappingError, match="part of the key"):
        parse_mapping(touches)


def test_the_cli_imports_with_a_mapping_saved_on_the_data_page(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        save_mapping(session, parse_mapping(UNDATED_LEADS_MAPPING), actor=TESTER)
    path = tmp_path / "Leads.csv"
    path.write_text(UNDATED_LEADS, encoding="utf-8")
    code = main(
        [
            "--database-url",
            database_url(engine),
            "import",
            "leads",
            str(path),
            "--preset",
            "lead scoring export",
            "--dry-run",
        ]
    )
    assert code == 0
    assert "would insert 14" in capsys.readouterr().out
