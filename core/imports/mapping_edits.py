"""Edits to a mapping document, as the Data page's widgets make them: pure functions, tested without Streamlit.

A document is the plain dict form of a mapping (`Mapping.to_dict()`); every function returns a new one and
leaves its argument alone. `core.mapping.parse_mapping` validates the result.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import ValidationError

from core.imports.mapping import Condition, FieldMapping, Mapping
from core.text import fold_spaces

SourceKind = Literal["column", "constant", "import_day", "none"]
Joiner = Literal["all", "any"]


@dataclass(frozen=True)
class ConditionRow:
    """One test of a condition as the page lists it: column, whether it must (or must not) be one of values."""

    column: str
    negated: bool
    values: tuple[str, ...]


def field_source(mapping: Mapping | dict[str, Any], field: str, header: list[str]) -> tuple[SourceKind, str | None]:
    """Where a field comes from: a column of this file (its spelling in the header), a constant, the day of
    the import, or nowhere (a column the file does not have counts as nowhere). Takes a mapping, or a document
    that need not be a whole valid mapping yet (a page mid-edit)."""
    if isinstance(mapping, Mapping):
        source = mapping.fields.get(field)
    else:
        raw = (mapping.get("fields") or {}).get(field)
        try:
            source = FieldMapping.model_validate(raw) if raw else None
        except ValidationError:
            source = None
    if source is None:
        return "none", None
    if source.import_day:
        return "import_day", None
    if source.constant is not None:
        return "constant", source.constant
    folded = {fold_spaces(column): column for column in header}
    for candidate in source.candidates:
        if fold_spaces(candidate) in folded:
            return "column", folded[fold_spaces(candidate)]
    return "none", None


def _field_document(document: dict[str, Any], field: str) -> dict[str, Any]:
    return dict(document.get("fields", {}).get(field) or {})


def with_source(document: dict[str, Any], field: str, kind: SourceKind, value: str | None = None) -> dict[str, Any]:
    """The document with `field` read from a column, set to a constant, to the import day, or not imported.

    A new column keeps the field's value map, default and condition (a preset's map survives a renamed
    column); a constant or the import day drop what only applies to a column's values.
    """
    result = copy.deepcopy(document)
    fields = result.setdefault("fields", {})
    current = _field_document(result, field)
    for key in ("column", "constant", "import_day"):
        current.pop(key, None)
    if kind == "none":
        fields.pop(field, None)
        return result
    if kind == "column":
        current["column"] = value
    else:
        for key in ("map", "map_other", "fold_case", "default", "date_format"):
            current.pop(key, None)
        if kind == "constant":
            current["constant"] = value or ""
        else:
            current["import_day"] = True
    fields[field] = current
    return result


def with_details(document: dict[str, Any], field: str, **changes: Any) -> dict[str, Any]:
    """The document with some of a field's settings changed (map, map_other, fold_case, default, date_format,
    when); a value of None, False, "" or an empty map removes the setting."""
    result = copy.deepcopy(document)
    current = _field_document(result, field)
    for key, value in changes.items():
        if value is None or value is False or value == "" or value == {} or value == []:
            current.pop(key, None)
        else:
            current[key] = value
    result.setdefault("fields", {})[field] = current
    return result


def with_list(document: dict[str, Any], key: str, values: list[Any]) -> dict[str, Any]:
    """The document with a top-level list (null_values, ignore_columns, skip_rows) replaced."""
    result = copy.deepcopy(document)
    if values:
        result[key] = list(values)
    else:
        result.pop(key, None)
    return result


def with_numbers(document: dict[str, Any], decimal: str | None, thousands: str | None) -> dict[str, Any]:
    """The document with the number separators set, or left to the guess (None)."""
    result = copy.deepcopy(document)
    for key, value in (("decimal_separator", decimal), ("thousands_separator", thousands)):
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def condition_rows(condition: Condition | None) -> tuple[Joiner, list[ConditionRow]]:
    """A condition as the page edits it: its joiner and one row per single-column test (nested groups are
    flattened into the outer joiner; the YAML view keeps any nesting)."""
    if condition is None:
        return "all", []
    joiner: Joiner = "any" if condition.any_ is not None else "all"
    rows = [
        ConditionRow(
            leaf.candidates[0],
            leaf.in_ is None,
            tuple(leaf.in_ if leaf.in_ is not None else leaf.not_in or []),
        )
        for leaf in condition.leaves()
    ]
    return joiner, rows


def condition_document(joiner: Joiner, rows: list[ConditionRow]) -> dict[str, Any] | None:
    """The `when` of a field (or a skip rule) from the page's rows; None with no complete row."""
    tests = [
        {"column": row.column, ("not_in" if row.negated else "in"): list(row.values)}
        for row in rows
        if row.column and row.values
    ]
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    return {joiner: tests}


def value_table(source: FieldMapping | None, counts: list[tuple[str, int]]) -> pd.DataFrame:
    """The values a column holds, most frequent first, with what each becomes under the field's value map
    (blank: kept as it is). Mapped values the file does not hold are listed too, with 0 rows."""
    folded_map = source.folded_map() if source is not None else {}
    seen: set[str] = set()
    rows: list[tuple[str, int, str]] = []
    for value, count in counts:
        rows.append((value, count, folded_map.get(fold_spaces(value), "")))
        seen.add(fold_spaces(value))
    for key, becomes in (source.map if source is not None else {}).items():
        if fold_spaces(key) not in seen:
            rows.append((key, 0, becomes))
    return pd.DataFrame(rows, columns=["value", "rows", "becomes"])


def map_from_table(table: pd.DataFrame) -> dict[str, str]:
    """The value map a table edited on the page means: only the values given something to become."""
    result: dict[str, str] = {}
    for value, becomes in zip(table["value"], table["becomes"], strict=True):
        if isinstance(becomes, str) and becomes.strip() and isinstance(value, str):
            result[value] = becomes.strip()
    return result


def folded_spellings(counts: list[tuple[str, int]]) -> int:
    """How many rows hold a value spelled more than one way (case or spacing): what "fold case" would merge."""
    groups: dict[str, Counter[str]] = {}
    for value, count in counts:
        groups.setdefault(fold_spaces(value), Counter())[value] += count
    return sum(sum(group.values()) for group in groups.values() if len(group) > 1)
