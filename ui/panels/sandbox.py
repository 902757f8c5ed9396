"""The Sandbox page's controls: the form that starts a trial, and the knobs.

The knobs' widgets hold the only copy of the knobs: each keeps its value in its own session-state key (kept for
the session when another trial is shown, `persist_state`), and the outcomes and a proposal read the knobs
back from those keys after the widgets are drawn. A second copy (the knobs last used, kept aside to put back)
could lag the widgets after quick key presses, and then the page would propose a threshold it does not show.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from core.admin.users import UserInfo
from core.formats import SENIORITIES
from core.imports.mapping import find_mapping, mapping_names
from core.imports.problems import ImportRefused, problems_frame
from core.permissions import PermissionDenied, may
from core.sandbox.outcome import Knobs, knob_values, knobs_from
from core.sandbox.trials import SandboxError, stored_trial, upload_trial
from core.vocabulary import humanise, rule_label, seniority_name
from ui import cache, feedback
from ui.tables import show_table

AS_THE_FILE_SAYS = "(the file's own column names)"
# The knobs with a widget; the rest (industries, countries, departments) stay as in force.
PANEL = (
    "score_threshold",
    "intent_signals",
    "seniorities",
    "icp_fit_required",
    "company_size_min",
    "size_limited",
    "company_size_max",
    "sla_hours",
    "sla_business_hours",
    "conversion_gate",
    "rejection_gate",
    "minutes_per_response",
    "rep_hours_per_day",
)


def knob_key(trial_id: int, name: str) -> str:
    return f"sb_{trial_id}_{name}"


def set_knobs(trial_id: int, knobs: Knobs) -> None:
    """Puts `knobs` in the widgets (before they are drawn: at the top of a run, or in a button's callback)."""
    values = knob_values(knobs)
    for name in PANEL:
        st.session_state[knob_key(trial_id, name)] = values[name]


def knobs_panel(trial_id: int, baseline: Knobs, choices: dict[str, list[str]]) -> Knobs:
    """Draws the knobs and returns what they are set to; an impossible setting is explained and stops the run."""
    if knob_key(trial_id, "score_threshold") not in st.session_state:  # the trial's first showing
        set_knobs(trial_id, baseline)
    key = lambda name: knob_key(trial_id, name)  # noqa: E731
    keep: dict[str, Any] = {"persist_state": "session"}
    st.button(
        "Back to the definitions in force",
        icon=":material/restart_alt:",
        key="sb_reset",
        on_click=set_knobs,
        args=(trial_id, baseline),
    )
    st.slider(rule_label("score_threshold"), 0, 100, key=key("score_threshold"), **keep)
    offered = sorted({*choices.get("intent_signal", []), *st.session_state[key("intent_signals")]})
    st.multiselect(
        rule_label("intent_signals"),
        offered,
        format_func=humanise,
        key=key("intent_signals"),
        help="A lead with one of these qualifies whatever its score.",
        placeholder="none",
        **keep,
    )
    st.multiselect(
        rule_label("seniorities"),
        list(SENIORITIES),
        format_func=seniority_name,
        key=key("seniorities"),
        placeholder="any seniority",
        **keep,
    )
    st.toggle(rule_label("icp_fit_required"), key=key("icp_fit_required"), **keep)
    sizes = st.columns(2)
    sizes[0].number_input(rule_label("company_size_min"), min_value=0, step=10, key=key("company_size_min"), **keep)
    limited = sizes[1].toggle("Upper limit", key=key("size_limited"), **keep)
    if limited:
        st.number_input(rule_label("company_size_max"), min_value=0, step=50, key=key("company_size_max"), **keep)
    st.divider()
    st.number_input(
        rule_label("response_hours"), min_value=0.25, max_value=240.0, step=0.5, key=key("sla_hours"), **keep
    )
    st.toggle("Business hours (else calendar hours)", key=key("sla_business_hours"), **keep)
    for gate in ("conversion_gate", "rejection_gate"):
        st.slider(rule_label(gate), 0.0, 100.0, step=1.0, format="%g%%", key=key(gate), **keep)
    with st.expander("Capacity assumptions"):
        st.number_input(
            "Minutes a rep spends on a first response", min_value=1.0, step=5.0, key=key("minutes_per_response"), **keep
        )
        st.number_input(
            "Hours a day a rep gives new MQLs",
            min_value=0.5,
            max_value=12.0,
            step=0.5,
            key=key("rep_hours_per_day"),
            **keep,
        )
    try:
        return knobs_from({name: st.session_state.get(key(name)) for name in PANEL}, baseline)
    except SandboxError as problem:
        st.error(f"{str(problem)[:1].upper()}{str(problem)[1:]}.", icon=":material/error:")
        st.stop()


def new_trial_form(user: UserInfo) -> None:
    """Starts a trial on the stored leads of a period, or (ops and admins) on an uploaded CSV."""
    sources = ["Stored leads"] + (["Upload a CSV"] if may(user.role, "import_data") else [])
    if st.radio("Leads to try on", sources, horizontal=True, key="sb_source") == "Stored leads":
        _stored_form(user)
    else:
        _upload_form(user)


def _started(trial_id: int, message: str) -> None:
    st.session_state["sb_next"] = trial_id
    feedback.after_write("sandbox", message)


def _stored_form(user: UserInfo) -> None:
    span = cache.date_span()
    if span is None:
        st.info("No stored leads yet: upload a CSV instead, or import data first.")
        return
    first = max(span[0], span[1] - dt.timedelta(days=364))
    with st.form("sb_new_stored"):
        picked = st.date_input("Leads created from – to", (first, span[1]), key="sb_range")
        name = st.text_input("Name", f"Stored leads {first:%b %Y} – {span[1]:%b %Y}", key="sb_stored_name")
        if not st.form_submit_button("Start the trial", type="primary", key="sb_stored_submit"):
            return
    if not (isinstance(picked, tuple) and len(picked) == 2):
        st.error("Pick the last day of the period too.")
        return
    try:
        with st.spinner("Copying the leads into your trial…"):
            made = stored_trial(cache.engine(), user.actor, name, picked[0], picked[1])
    except (SandboxError, PermissionDenied) as problem:
        st.error(f"No trial started: {problem}")
        return
    _started(made.id, f"Started {made.describe()}.")


def _upload_form(user: UserInfo) -> None:
    with st.form("sb_new_upload"):
        upload = st.file_uploader("A leads CSV (up to 1,000,000 rows)", type=["csv"], key="sb_file")
        mapping_name = st.selectbox(
            "Column mapping", [AS_THE_FILE_SAYS, *mapping_names(None, "leads")], key="sb_mapping"
        )
        name = st.text_input("Name", "", placeholder="e.g. HubSpot export, Q3", key="sb_upload_name")
        if not st.form_submit_button("Upload and start the trial", type="primary", key="sb_upload_submit"):
            return
    if upload is None:
        st.error("Choose a file first.")
        return
    mapping = None if mapping_name == AS_THE_FILE_SAYS else find_mapping(None, mapping_name)
    bar = st.progress(0.0, "reading the file")

    def show_progress(fraction: float, message: str) -> None:
        bar.progress(min(fraction, 1.0), message)

    try:
        made = upload_trial(
            cache.engine(),
            user.actor,
            name or upload.name,
            upload,
            mapping=mapping,
            file_name=upload.name,
            progress=show_progress,
        )
    except ImportRefused as refused:
        bar.empty()
        st.error(
            f"{upload.name} was not used: {refused.total} problems; nothing was kept. Fix them and upload again.",
            icon=":material/error:",
        )
        show_table(problems_frame(refused.problems), key="sb_problems")
        return
    except (SandboxError, PermissionDenied) as problem:
        bar.empty()
        st.error(f"No trial started: {problem}")
        return
    _started(made.id, f"Started {made.describe()} from {upload.name}.")
