"""The tables the scoreboard's charts and grid draw, shaped from KPI rows without Streamlit: the trend with its
period labels and verdicts, the sources with their weight and verdict, the funnel's bar labels, and the KPI
table as people read it (labels for headers, percentages as %, a missing value as "—").

The CSV download keeps `kpi_table`'s machine columns and raw values; only the grid on screen is worded here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from core import formatting
from core.funnel.kpis import COVERAGE_COUNTS, NO_LEAD
from core.funnel.scoreboard import MATURING, MIN_MQLS_FOR_A_FLAG, SLA_FLAG_BELOW
from core.funnel.segments import NOT_SET
from core.periods import Grain, is_partial, period_label
from core.vocabulary import KPI_KINDS, kpi_label, value_name

MEETS, UNDER = "meets the gate", "under the gate"
ENOUGH, FEW = f"{MIN_MQLS_FOR_A_FLAG} MQLs or more", f"under {MIN_MQLS_FOR_A_FLAG} MQLs"
SLA_MET, SLA_MISSED = f"{SLA_FLAG_BELOW:.0%} or more", f"under {SLA_FLAG_BELOW:.0%}"
# The groupings' placeholders as people read them.
BLANKS = {NO_LEAD: "No linked lead", NOT_SET: "Not set"}
NOTE_COLUMNS = {"unavailable": "Not available", "coverage_notes": "Based on", "maturing": "Still maturing"}
FORMATS: dict[str, Callable[[Any], str]] = {
    "percent": formatting.percent,
    "money": formatting.money,
    "hours": formatting.hours,
    "days": formatting.days,
    "text": formatting.text,
}


def trend(table: pd.DataFrame, grain: Grain) -> pd.DataFrame:
    """A trend's rows with each period's axis label (a partial one starred) and its conversion's verdict."""
    labels = [
        period_label(start, grain) + (" *" if is_partial(start, end, grain) else "")
        for start, end in zip(table["period_start"], table["period_end"], strict=True)
    ]
    # A cohort too young to have converted is drawn grey, not red: its rate is not a result yet.
    verdicts = [
        MATURING if "mql_to_sql" in young else (UNDER if rate < gate else MEETS)
        for rate, gate, young in zip(table["mql_to_sql"], table["conversion_gate"], table["maturing"], strict=True)
    ]
    return table.assign(period=labels, under_gate=verdicts)


def sources(by_source: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The sources that delivered MQLs, by their display names, with how much their rates weigh and say."""
    shown = by_source[(by_source["mqls"] > 0) & (by_source["group"] != NO_LEAD)]
    return shown.assign(
        source=[value_name(group, names) for group in shown["group"]],
        weight=(shown["mqls"] >= MIN_MQLS_FOR_A_FLAG).map({True: ENOUGH, False: FEW}),
        verdict=(shown["mql_to_sql"] < shown["conversion_gate"]).map({True: UNDER, False: MEETS}),
        sla_verdict=(shown["sla_compliance"] < SLA_FLAG_BELOW).map({True: SLA_MISSED, False: SLA_MET}),
    ).sort_values("mqls", ascending=False)


def named(table: pd.DataFrame, column: str, names: Mapping[str, str] | None, as_column: str) -> pd.DataFrame:
    """The table with `as_column` holding `column`'s values by their display names (channels, sources)."""
    known_names = {**BLANKS, **(names or {})}
    return table.assign(**{as_column: [value_name(value, known_names) for value in table[column]]})


def funnel_labels(stages: pd.DataFrame) -> pd.DataFrame:
    """The funnel's stages with the text beside each bar: the count, its share of the stage before."""
    labels = [
        "not in the imported data"
        if isinstance(row.not_in_data, str)
        else f"{row.count:,}"
        + (
            f"  ({formatting.percent(row.from_previous)} of the stage before)"
            if formatting.known(row.from_previous)
            else ""
        )
        + (f"  {MATURING}" if row.maturing else "")
        for row in stages.itertuples()
    ]
    return stages.assign(label=labels)


def _notes(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{kpi_label(kpi)}: {text}" for kpi, text in value.items())
    return ", ".join(kpi_label(kpi) for kpi in value) if isinstance(value, list) else ""


def kpi_grid(table: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The KPI table as people read it: labelled columns, each value formatted by its kind, groups by name."""
    # The coverage counts explain the notes; the CSV keeps them, the grid shows the notes.
    shown = table.drop(columns=["maturity_days", *COVERAGE_COUNTS], errors="ignore").copy()
    for column in shown.columns:
        if column in NOTE_COLUMNS:
            shown[column] = shown[column].map(_notes)
        elif column == "sla_business_hours":
            shown[column] = shown[column].map({True: "Yes", False: "No"})
        elif column == "group":
            shown[column] = [value_name(group, {**BLANKS, **(names or {})}) for group in shown[column]]
        else:
            shown[column] = shown[column].map(FORMATS.get(KPI_KINDS.get(column, ""), formatting.count))
    return shown.rename(columns={column: NOTE_COLUMNS.get(column) or kpi_label(column) for column in shown.columns})
