"""Building a mapping on the Data page: the header, a first guess, column overrides and the mapped preview."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from core.db import session_scope
from core.imports.mapping import MappingError, load_preset, save_mapping, saved_mappings, suggest_mapping, with_columns
from core.imports.preview import preview
from core.imports.reading import read_header
from core.imports.runs import ImportRefused
from tests.conftest import TESTER, csv_file, snapshot

RENAMED = (
    "Record,Created,Where from,Employees,Lead Score\n"
    "A1,2025-01-06 08:00:00,Paid Search,120,88\n"
    "A2,2025-01-07 09:30:00,Webinar,twelve,40\n"
    "A3,2025-01-08 10:00:00,,15,\n"
)


def test_header_of_a_semicolon_file_with_a_bom() -> None:
    handle = csv_file("\ufefflead_id;created_at;source\nL1;2025-01-01;web\n", encoding="utf-8")
    assert read_header(handle) == ["lead_id", "created_at", "source"]
    with pytest.raises(ImportRefused, match="the file is empty"):
        read_header(csv_file(""))


def test_a_first_guess_uses_the_presets_spellings() -> None:
    header = ["Lead ID", "Create Date", "Lead Source", "No. of Employees", "Favourite colour"]
    guess = suggest_mapping("leads", header)
    assert {name: field.column for name, field in guess.fields.items()} == {
        "lead_id": "Lead ID",
        "created_at": "Create Date",
        "company_size": "No. of Employees",
        "source": "Lead Source",
    }


def test_overriding_columns_keeps_the_base_value_maps() -> None:
    base = load_preset("salesforce_leads")
    built = with_columns(base, {"source": "Where from", "lead_id": "Record", "country": None}, name=" my sf ")
    assert built.name == "my sf"
    assert built.fields["source"].column == "Where from"
    assert built.fields["source"].map == base.fields["source"].map  # the preset's source map survives
    assert "country" not in built.fields
    with pytest.raises(MappingError, match="choose a column for lead_id"):
        with_columns(base, {"lead_id": None}, name="x")
    with pytest.raises(MappingError, match="needs a name"):
        with_columns(base, {}, name="  ")


def test_preview_maps_the_first_rows_and_lists_problems_without_writing(engine: Engine) -> None:
    mapping = with_columns(
        suggest_mapping("leads", ["Record", "Created", "Where from", "Employees"]),
        {"lead_id": "Record", "created_at": "Created", "source": "Where from", "company_size": "Employees"},
        name="renamed",
    )
    before = snapshot(engine)
    shown = preview(engine, "leads", csv_file(RENAMED), mapping, rows=2)
    assert snapshot(engine) == before
    assert shown.columns == {
        "lead_id": "Record",
        "created_at": "Created",
        "source": "Where from",
        "company_size": "Employees",
    }
    assert list(shown.raw["Record"]) == ["A1", "A2"]  # only the rows asked for
    assert list(shown.mapped["lead_id"]) == ["A1", "A2"]
    assert shown.mapped["created_at"].iloc[1] == dt.datetime(2025, 1, 7, 9, 30)
    assert shown.mapped["company_size"].iloc[0] == 120 and shown.mapped["company_size"].isna().iloc[1]
    assert [(p.row, p.column, p.value) for p in shown.problems] == [(3, "Employees", "twelve")]
    assert any("Lead Score" in note for note in shown.notes)  # a column the mapping leaves out is named


def test_preview_of_a_file_missing_a_required_column(engine: Engine) -> None:
    shown = preview(engine, "leads", csv_file("lead_id,source\nL1,web\n"))
    assert shown.mapped.empty
    assert "missing required column 'created_at'" in shown.problems[0].expected


def test_saving_a_mapping_never_replaces_a_preset_or_another_kinds_mapping(engine: Engine) -> None:
    leads = with_columns(load_preset("salesforce_leads"), {}, name="acme")
    opportunities = with_columns(load_preset("salesforce_opportunities"), {}, name="acme")
    with session_scope(engine) as session:
        save_mapping(session, leads, actor=TESTER)
    with pytest.raises(MappingError, match="already a mapping for leads files"), session_scope(engine) as session:
        save_mapping(session, opportunities, actor=TESTER)
    shadow = with_columns(load_preset("salesforce_leads"), {}, name="salesforce_leads")
    with pytest.raises(MappingError, match="shipped preset"), session_scope(engine) as session:
        save_mapping(session, shadow, actor=TESTER)
    with session_scope(engine) as session:
        assert [(m.name, m.kind) for m in saved_mappings(session)] == [("acme", "leads")]
