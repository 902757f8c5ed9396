"""The widgets for one kind of definition's rules, one small function per kind (RULE_FORMS): a new kind is one
function and one row. Each is called inside a form, filled from the rules it starts from, and returns the
rules as core.definitions.rules validates them; `prefix` keeps the keys of two forms on one page apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.formats import SENIORITIES
from core.formatting import MISSING
from core.vocabulary import seniority_name

Rules = dict[str, object]
RuleForm = Callable[[dict[str, Any], str], Rules]


def _lines(label: str, values: list[str], key: str) -> list[str]:
    """A list as a text area of one item per line."""
    return st.text_area(label, "\n".join(values), key=key).splitlines()


def icp_form(start: dict[str, Any], prefix: str) -> Rules:
    left, right = st.columns(2)
    return {
        "company_size_min": left.number_input(
            "Company size from", 0, value=start["company_size_min"], step=10, key=f"{prefix}_min"
        ),
        "company_size_max": right.number_input(
            "Company size to", 0, value=start["company_size_max"], step=10, key=f"{prefix}_max"
        ),
        "industries": _lines("Industries (one per line)", start["industries"], f"{prefix}_industries"),
        "countries": _lines("Countries (one per line)", start["countries"], f"{prefix}_countries"),
    }


def mql_form(start: dict[str, Any], prefix: str) -> Rules:
    return {
        "score_threshold": st.slider(
            "Score threshold", 0, 100, int(start["score_threshold"]), key=f"{prefix}_threshold"
        ),
        "intent_signals": _lines(
            "Intent signals that qualify on their own (one per line)", start["intent_signals"], f"{prefix}_signals"
        ),
        "icp_fit_required": st.checkbox("Must fit the ICP", bool(start["icp_fit_required"]), key=f"{prefix}_fit"),
        "seniorities": st.multiselect(
            "Seniorities (none: any)",
            SENIORITIES,
            default=start["seniorities"],
            format_func=seniority_name,
            key=f"{prefix}_seniorities",
        ),
        "departments": _lines("Departments (one per line; none: any)", start["departments"], f"{prefix}_departments"),
    }


def sql_form(start: dict[str, Any], prefix: str) -> Rules:
    return {
        "criteria": _lines(
            "What sales confirms before accepting (one per line)", start["criteria"], f"{prefix}_criteria"
        )
    }


def stages_form(start: dict[str, Any], prefix: str) -> Rules:
    stages = st.data_editor(
        pd.DataFrame(start["stages"] or [{"name": "", "entry": "", "exit": ""}]),
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Stage", required=True),
            "entry": st.column_config.TextColumn("Enters when"),
            "exit": st.column_config.TextColumn("Leaves when"),
        },
        key=f"{prefix}_stages",
        placeholder=MISSING,
    )
    return {"stages": [row for row in stages.fillna("").to_dict(orient="records") if row.get("name")]}


def sla_form(start: dict[str, Any], prefix: str) -> Rules:
    left, right = st.columns(2)
    return {
        "response_hours": left.number_input(
            "Response within (hours)", 0.25, value=float(start["response_hours"]), step=0.25, key=f"{prefix}_hours"
        ),
        "business_hours": right.checkbox(
            "Business hours (not calendar hours)", bool(start["business_hours"]), key=f"{prefix}_business"
        ),
        "min_touch_attempts": left.number_input(
            "Touch attempts before a rejection", 0, value=int(start["min_touch_attempts"]), key=f"{prefix}_touches"
        ),
        "min_touch_days": right.number_input(
            "…over at least (days)", 0, value=int(start["min_touch_days"]), key=f"{prefix}_days"
        ),
        # Gates are stored as shares and typed as the percentages people say.
        "conversion_gate": left.number_input(
            "MQL→SQL gate (%)", 0, 100, round(start["conversion_gate"] * 100), key=f"{prefix}_gate"
        )
        / 100,
        "rejection_gate": right.number_input(
            "Rejection-share gate (%)", 0, 100, round(start["rejection_gate"] * 100), key=f"{prefix}_rejection"
        )
        / 100,
        "review_interval_days": left.number_input(
            "Review every (days)", 1, value=int(start["review_interval_days"]), key=f"{prefix}_review"
        ),
        # Left empty, the monthly targets table sets it; without this field an edit would silently drop one.
        "monthly_mql_target": right.number_input(
            "Monthly MQL target (empty: the targets table)",
            0,
            value=start["monthly_mql_target"],
            step=10,
            key=f"{prefix}_target",
        ),
    }


RULE_FORMS: dict[str, RuleForm] = {
    "icp": icp_form,
    "mql": mql_form,
    "sql": sql_form,
    "stages": stages_form,
    "sla": sla_form,
}
