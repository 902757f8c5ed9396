"""The Data page's edits to a mapping document, as pure functions: each gives a valid mapping that imports
as the page says."""

from __future__ import annotations

import pandas as pd

from core.imports import mapping_edits as edits
from core.imports.import_warnings import Fix, apply_fix
from core.imports.mapping import parse_mapping
from tests.fixtures import UNDATED_LEADS_MAPPING

HEADER = ["Prospect ID", "Lead Source", "Converted", "Tags", "Specialization"]


def test_sources_round_trip() -> None:
    document = {"name": "x", "kind": "leads", "fields": {"lead_id": {"column": "prospect id"}}}
    assert edits.field_source(document, "lead_id", HEADER) == ("column", "Prospect ID")
    document = edits.with_source(document, "created_at", "import_day")
    document = edits.with_source(document, "source", "constant", "web")
    assert edits.field_source(document, "created_at", HEADER) == ("import_day", None)
    assert edits.field_source(document, "source", HEADER) == ("constant", "web")
    mapping = parse_mapping(document)
    assert mapping.fields["created_at"].import_day and mapping.fields["source"].constant == "web"
    assert edits.field_source(edits.with_source(document, "source", "none"), "source", HEADER) == ("none", None)
    # A column the file lacks is nowhere; a half-made document is still read field by field.
    assert edits.field_source({"fields": {"email": {"column": "E-mail"}}}, "email", HEADER) == ("none", None)


def test_a_new_column_keeps_the_value_map_and_a_constant_drops_it() -> None:
    document = {"name": "x", "kind": "leads", "fields": {"source": {"column": "A", "map": {"Web": "organic"}}}}
    moved = edits.with_source(document, "source", "column", "Lead Source")
    assert moved["fields"]["source"] == {"column": "Lead Source", "map": {"Web": "organic"}}
    assert edits.with_source(document, "source", "constant", "web")["fields"]["source"] == {"constant": "web"}
    assert document["fields"]["source"]["column"] == "A"  # the argument is left alone


def test_conditions_from_rows_and_back() -> None:
    rows = [edits.ConditionRow("Converted", False, ("0",)), edits.ConditionRow("Tags", True, ("",))]
    when = edits.condition_document("all", rows)
    assert when == {"all": [{"column": "Converted", "in": ["0"]}, {"column": "Tags", "not_in": [""]}]}
    document = edits.with_details(dict(UNDATED_LEADS_MAPPING), "rejected_at", when=when)
    mapping = parse_mapping(document)
    assert edits.condition_rows(mapping.fields["rejected_at"].when) == ("all", rows)
    assert edits.condition_document("any", [edits.ConditionRow("Converted", False, ())]) is None
    assert edits.condition_document("any", rows[:1]) == {"column": "Converted", "in": ["0"]}


def test_the_value_table_lists_the_files_values_and_the_map() -> None:
    mapping = parse_mapping(UNDATED_LEADS_MAPPING)
    source = mapping.fields["source"].model_copy(update={"map": {"google": "paid_search", "Bing": "paid_search"}})
    table = edits.value_table(source, [("Google", 3), ("Direct Traffic", 4), ("google", 1)])
    assert table.values.tolist() == [
        ["Google", 3, "paid_search"],
        ["Direct Traffic", 4, ""],
        ["google", 1, "paid_search"],
        ["Bing", 0, "paid_search"],
    ]
    edited = pd.DataFrame({"value": ["Google", "Direct Traffic"], "rows": [3, 4], "becomes": ["paid_search", " "]})
    assert edits.map_from_table(edited) == {"Google": "paid_search"}
    assert edits.folded_spellings([("Google", 3), ("google", 1), ("Direct", 4)]) == 4


def test_lists_numbers_and_fixes() -> None:
    document = edits.with_list(dict(UNDATED_LEADS_MAPPING), "null_values", ["Select", "N/A"])
    document = edits.with_numbers(document, ",", ".")
    mapping = parse_mapping(document)
    assert mapping.null_values == ["Select", "N/A"] and mapping.number_format() is not None
    assert "null_values" not in edits.with_list(document, "null_values", [])
    fixed = apply_fix(mapping, Fix("blank", field="industry", default="(blank)"))
    assert fixed.fields["industry"].default == "(blank)" and fixed.fields["industry"].column == "Specialization"
