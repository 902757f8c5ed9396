"""Sandbox (those who may propose a definition; uploads for ops and admins): try MQL and SLA settings on a
private copy of leads, side by side with the definition in force, then propose a good setting for sign-off.
Everything is computed in core.sandbox.trials; nothing here writes to the shared tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import altair as alt
import pandas as pd
import streamlit as st

from core.definitions.versions import SENIORITIES
from core.funnel.scoreboard import percent
from core.imports.importer import ImportRefused, problems_frame
from core.imports.mapping import find_mapping, mapping_names
from core.permissions import PermissionDenied, may
from core.sandbox.trials import (
    KEEP_DAYS,
    Knobs,
    Outcome,
    SandboxError,
    TrialInfo,
    active_knobs,
    changed_kinds,
    delete_trial,
    propose_from_trial,
    stored_trial,
    touch_trial,
    trials,
    upload_trial,
)
from ui import auth, cache, feedback

ACTIVE, YOURS, GATE, MUTED = "#6b7280", "#2563eb", "#dc2626", "#9ca3af"
AS_THE_FILE_SAYS = "(the file's own column names)"
KIND_LABELS = {"icp": "ICP (company-size range)", "mql": "MQL rule", "sla": "SLA (hours and gates)"}

user = auth.guard("propose_definition")
actor = user.actor
st.title("Sandbox")
st.caption(
    "Try thresholds on your own copy of leads: the stored leads of a period, or a CSV export. Nothing here changes "
    f"the shared numbers; a trial is yours alone and is kept {KEEP_DAYS} days after you last open it."
)
feedback.show_notice("sandbox")
engine = cache.engine()


# --- Trials --------------------------------------------------------------------------------------------------
def new_trial_form() -> None:
    sources = ["Stored leads"] + (["Upload a CSV"] if may(user.role, "import_data") else [])
    source = st.radio("Leads to try on", sources, horizontal=True, key="sb_source")
    span = cache.date_span()
    if source == "Stored leads":
        if span is None:
            st.info("No stored leads yet: upload a CSV instead, or import data first.")
            return
        default_first = max(span[0], span[1] - dt.timedelta(days=364))
        with st.form("sb_new_stored"):
            picked = st.date_input("Leads created from – to", (default_first, span[1]), key="sb_range")
            name = st.text_input("Name", f"Stored leads {default_first:%b %Y} – {span[1]:%b %Y}", key="sb_stored_name")
            if st.form_submit_button("Start the trial", type="primary", key="sb_stored_submit"):
                if not (isinstance(picked, tuple) and len(picked) == 2):
                    st.error("Pick the last day of the period too.")
                    return
                try:
                    with st.spinner("Copying the leads into your trial…"):
                        made = stored_trial(engine, actor, name, picked[0], picked[1])
                except (SandboxError, PermissionDenied) as problem:
                    st.error(f"No trial started: {problem}")
                    return
                st.session_state["sb_next"] = made.id
                feedback.after_write("sandbox", f"Started {made.describe()}.")
        return
    with st.form("sb_new_upload"):
        upload = st.file_uploader("A leads CSV (up to 1,000,000 rows)", type=["csv"], key="sb_file")
        names = [AS_THE_FILE_SAYS, *mapping_names(None, "leads")]
        mapping_name = st.selectbox("Column mapping", names, key="sb_mapping")
        name = st.text_input("Name", "", placeholder="e.g. HubSpot export, Q3", key="sb_upload_name")
        submitted = st.form_submit_button("Upload and start the trial", type="primary", key="sb_upload_submit")
    if submitted:
        if upload is None:
            st.error("Choose a file first.")
            return
        mapping = None if mapping_name == AS_THE_FILE_SAYS else find_mapping(None, mapping_name)
        bar = st.progress(0.0, "reading the file")
        try:
            made = upload_trial(
                engine,
                actor,
                name or upload.name,
                upload,
                mapping=mapping,
                file_name=upload.name,
                progress=lambda fraction, message: bar.progress(min(fraction, 1.0), message),
            )
        except ImportRefused as refused:
            bar.empty()
            st.error(
                f"{upload.name} was not used: {refused.total} problems; nothing was kept. Fix them and upload again.",
                icon=":material/error:",
            )
            st.dataframe(problems_frame(refused.problems), hide_index=True, width="stretch", key="sb_problems")
            return
        except (SandboxError, PermissionDenied) as problem:
            bar.empty()
            st.error(f"No trial started: {problem}")
            return
        st.session_state["sb_next"] = made.id
        feedback.after_write("sandbox", f"Started {made.describe()} from {upload.name}.")


mine = trials(engine, actor)
by_id = {trial.id: trial for trial in mine}
top = st.columns([3, 1])
if not mine:
    st.info("You have no trial yet. Start one below.", icon=":material/science:")
    new_trial_form()
    st.stop()
if "sb_next" in st.session_state:  # a trial just started: show it (set before the picker is drawn)
    st.session_state["sb_trial"] = st.session_state.pop("sb_next")
if st.session_state.get("sb_trial") not in by_id:
    st.session_state["sb_trial"] = mine[0].id
trial_id = top[0].selectbox("Trial", list(by_id), format_func=lambda key: by_id[key].describe(), key="sb_trial")
trial: TrialInfo = by_id[trial_id]
with top[1].popover("New trial", icon=":material/add:"):
    new_trial_form()
if st.session_state.get("sb_touched") != trial.id:
    touch_trial(engine, actor, trial.id)
    st.session_state["sb_touched"] = trial.id
source_note = f"uploaded from {trial.file_name}" if trial.source == "upload" else "copied from the stored leads"
st.caption(
    f"{trial.rows:,} leads, {source_note}; unanswered MQLs are timed up to {trial.as_of:%d %b %Y %H:%M} UTC, "
    "when the data was taken."
)


# --- Knobs ---------------------------------------------------------------------------------------------------
baseline = active_knobs(engine)
prefix = f"sb_{trial.id}_"


def reset_knobs(values: Knobs) -> None:
    for name, value in dataclasses.asdict(values).items():
        st.session_state[prefix + name] = list(value) if isinstance(value, tuple) else value
    st.session_state[prefix + "size_limited"] = values.company_size_max is not None


if prefix + "score_threshold" not in st.session_state:
    # Streamlit forgets a widget's value once it is not drawn (another trial shown): the knobs last used on
    # this trial are kept under a plain key and put back.
    reset_knobs(st.session_state.get(prefix + "kept", baseline))

choices = cache.trial_choices(user.username, user.role, trial.id)
knob_column, result_column = st.columns([1, 2.2], gap="large")
with knob_column:
    st.subheader("Knobs")
    if st.button("Back to the definitions in force", icon=":material/restart_alt:", key="sb_reset"):
        reset_knobs(baseline)
        st.rerun()
    threshold = st.slider("MQL score threshold", 0, 100, key=prefix + "score_threshold")
    signals_offered = sorted({*choices.get("intent_signal", []), *st.session_state[prefix + "intent_signals"]})
    signals = st.multiselect(
        "High-intent signals (qualify whatever the score)", signals_offered, key=prefix + "intent_signals"
    )
    seniorities = st.multiselect(
        "Seniorities (none picked: any)", list(SENIORITIES), key=prefix + "seniorities", placeholder="any"
    )
    icp_fit = st.toggle("Require ICP fit", key=prefix + "icp_fit_required")
    sizes = st.columns(2)
    size_min = sizes[0].number_input("Company size from", min_value=0, step=10, key=prefix + "company_size_min")
    limited = sizes[1].toggle("Upper limit", key=prefix + "size_limited")
    size_max = (
        st.number_input("Company size up to", min_value=0, step=50, key=prefix + "company_size_max")
        if limited
        else None
    )
    st.divider()
    sla_hours = st.number_input(
        "Response SLA (hours)", min_value=0.25, max_value=240.0, step=0.5, key=prefix + "sla_hours"
    )
    business = st.toggle("Business hours (else calendar hours)", key=prefix + "sla_business_hours")
    gates = st.columns(2)
    conversion_gate = gates[0].number_input(
        "Conversion gate", min_value=0.0, max_value=1.0, step=0.01, format="%.2f", key=prefix + "conversion_gate"
    )
    rejection_gate = gates[1].number_input(
        "Rejection-share gate", min_value=0.0, max_value=1.0, step=0.01, format="%.2f", key=prefix + "rejection_gate"
    )
    with st.expander("Capacity assumptions"):
        minutes = st.number_input(
            "Minutes a rep spends on a first response", min_value=1.0, step=5.0, key=prefix + "minutes_per_response"
        )
        rep_hours = st.number_input(
            "Hours a day a rep gives new MQLs",
            min_value=0.5,
            max_value=12.0,
            step=0.5,
            key=prefix + "rep_hours_per_day",
        )

try:
    knobs = dataclasses.replace(
        baseline,
        score_threshold=int(threshold),
        intent_signals=tuple(signals),
        seniorities=tuple(seniorities),
        icp_fit_required=bool(icp_fit),
        company_size_min=int(size_min) if size_min else None,
        company_size_max=int(size_max) if size_max is not None else None,
        sla_hours=float(sla_hours),
        sla_business_hours=bool(business),
        conversion_gate=float(conversion_gate),
        rejection_gate=float(rejection_gate),
        minutes_per_response=float(minutes),
        rep_hours_per_day=float(rep_hours),
    )
except SandboxError as problem:
    knob_column.error(f"{problem}.", icon=":material/error:")
    st.stop()
st.session_state[prefix + "kept"] = knobs


# --- Outcomes ------------------------------------------------------------------------------------------------
def shown(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "share":
        return percent(value)
    if kind == "reps":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def comparison(before: Outcome, after: Outcome, gates: Knobs) -> pd.DataFrame:
    hours = "business" if after.sla_business_hours else "calendar"
    rows = [
        ("MQLs per month", before.mqls_per_month, after.mqls_per_month, "count", ""),
        (
            "MQL→SQL conversion",
            before.conversion,
            after.conversion,
            "share",
            f"gate {percent(gates.conversion_gate)}",
        ),
        (
            "Rejection share",
            before.rejection_share,
            after.rejection_share,
            "share",
            f"gate {percent(gates.rejection_gate)}",
        ),
        ("SQLs lost (good leads the rule leaves out)", before.lost_sqls, after.lost_sqls, "count", ""),
        ("Rejected leads kept from sales (time saved)", before.saved_rejections, after.saved_rejections, "count", ""),
        (
            "SLA compliance",
            before.sla_compliance,
            after.sla_compliance,
            "share",
            f"{before.sla_hours:g} → {after.sla_hours:g} h ({hours})",
        ),
        (
            "Reps needed for first responses",
            before.reps_needed,
            after.reps_needed,
            "reps",
            f"{after.responders} in the data",
        ),
    ]
    return pd.DataFrame(
        [(label, shown(b, kind), shown(a, kind), note) for label, b, a, kind, note in rows],
        columns=["", "definition in force", "your knobs", "note"],
    )


def monthly_chart(before: Outcome, after: Outcome) -> alt.Chart:
    frame = pd.concat(
        [
            before.monthly.assign(rule="Definition in force"),
            after.monthly.assign(rule="Your knobs"),
        ]
    )
    frame["month"] = pd.to_datetime(frame["month"])
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title=None, axis=alt.Axis(labelAngle=0, format="%b %y")),
            xOffset=alt.XOffset("rule:N", sort=["Definition in force", "Your knobs"]),
            y=alt.Y("mqls:Q", title="MQLs"),
            color=alt.Color(
                "rule:N",
                scale=alt.Scale(domain=["Definition in force", "Your knobs"], range=[MUTED, YOURS]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[alt.Tooltip("yearmonth(month):O", title="month"), "rule:N", "mqls:Q", "sqls:Q"],
        )
        .properties(height=240)
    )


def curve_chart(points: pd.DataFrame, gate: float, current: int, recommended: int | None) -> alt.LayerChart:
    base = alt.Chart(points).encode(
        x=alt.X("threshold:Q", title="MQL score threshold", scale=alt.Scale(domain=[0, 100]))
    )
    volume = base.mark_area(color="#bfdbfe", opacity=0.8).encode(
        y=alt.Y("mqls:Q", title="MQLs (shaded)", axis=alt.Axis(titleColor="#60a5fa")),
        tooltip=["threshold:Q", "mqls:Q", alt.Tooltip("conversion:Q", format=".1%")],
    )
    conversion = base.mark_line(color=YOURS, strokeWidth=3).encode(
        y=alt.Y(
            "conversion:Q",
            title="MQL→SQL conversion (line)",
            axis=alt.Axis(format="%", titleColor=YOURS, orient="right"),
            scale=alt.Scale(domain=[0, 1]),
        )
    )
    gate_rule = (
        alt.Chart(pd.DataFrame({"gate": [gate], "label": [f"gate {gate:.0%}"]}))
        .mark_rule(color=GATE, strokeDash=[6, 4], strokeWidth=2)
        .encode(y=alt.Y("gate:Q", scale=alt.Scale(domain=[0, 1])))
    )
    gate_label = (
        alt.Chart(pd.DataFrame({"gate": [gate], "x": [100], "label": [f"conversion gate {gate:.0%}"]}))
        .mark_text(color=GATE, align="right", dy=-8, fontSize=12)
        .encode(x="x:Q", y=alt.Y("gate:Q", scale=alt.Scale(domain=[0, 1])), text="label:N")
    )
    marks = [{"threshold": current, "what": f"yours: {current}", "row": 0}]
    if recommended == current:
        marks = [{"threshold": current, "what": f"yours, the recommended: {current}", "row": 0}]
    elif recommended is not None:
        marks.append({"threshold": recommended, "what": f"recommended: {recommended}", "row": 1})
    markers = alt.Chart(pd.DataFrame(marks)).encode(x="threshold:Q")
    marker_rules = markers.mark_rule(strokeWidth=2).encode(
        color=alt.Color(
            "what:N",
            scale=alt.Scale(domain=[m["what"] for m in marks], range=[YOURS, "#16a34a"][: len(marks)]),
            legend=alt.Legend(title=None, orient="top"),
        )
    )
    marker_text = markers.mark_text(align="left", dx=4, fontSize=12).encode(
        text="what:N", y=alt.Y("row:O", axis=None, scale=alt.Scale(range=[8, 24]))
    )
    return (
        alt.layer(volume, alt.layer(conversion, gate_rule, gate_label), marker_rules, marker_text)
        .resolve_scale(y="independent")
        .properties(height=300)
    )


with result_column:
    before = cache.trial_outcome(user.username, user.role, trial.id, baseline, "Definition in force")
    after = cache.trial_outcome(user.username, user.role, trial.id, knobs, "Your knobs")
    st.subheader("Outcomes, beside the definition in force")
    metrics = st.columns(4)
    metrics[0].metric(
        "MQLs per month",
        shown(after.mqls_per_month, "count"),
        delta=f"{after.mqls_per_month - before.mqls_per_month:+,.0f}" if after.mqls != before.mqls else None,
    )
    metrics[1].metric(
        "MQL→SQL conversion",
        shown(after.conversion, "share"),
        delta=f"{(after.conversion - before.conversion) * 100:+.1f} pts"
        if not (math.isnan(after.conversion) or math.isnan(before.conversion))
        and after.sqls * before.mqls != before.sqls * after.mqls
        else None,
    )
    metrics[2].metric(
        "SQLs lost",
        f"{after.lost_sqls:,}",
        delta=f"{after.lost_sqls - before.lost_sqls:+,}" if after.lost_sqls != before.lost_sqls else None,
        delta_color="inverse",
    )
    metrics[3].metric("SLA compliance", shown(after.sla_compliance, "share"))
    if math.isnan(after.sla_compliance):
        metrics[3].caption("no first-response times in this data: the SLA cannot be judged")
    if not math.isnan(after.conversion) and after.conversion < knobs.conversion_gate:
        st.error(
            f"Conversion {percent(after.conversion)} is under the {percent(knobs.conversion_gate)} gate.",
            icon=":material/flag:",
        )
    st.dataframe(comparison(before, after, knobs), hide_index=True, width="stretch", key="sb_comparison")
    st.caption(
        "Both rules are applied to the same leads and counted by the month a lead was created. Leads the recorded "
        "rule never passed to sales have no SQL and no response: they count as not converted, and the SLA is "
        "judged on the leads that were MQLs. Reps needed: MQLs on a busy day (the 90th percentile) × minutes per "
        "first response ÷ the minutes a rep gives new MQLs a day."
    )
    st.markdown("**MQLs per month**")
    st.altair_chart(monthly_chart(before, after), width="stretch")

    found = cache.trial_curve(user.username, user.role, trial.id, knobs)
    st.markdown("**Volume and conversion at every threshold** (the other knobs as set)")
    st.altair_chart(curve_chart(found.points, found.gate, knobs.score_threshold, found.recommended), width="stretch")
    if found.recommended is None:
        st.warning(
            f"No threshold keeps conversion at or above {percent(found.gate)} with the other knobs as set.",
            icon=":material/warning:",
        )
    else:
        best = found.points.loc[found.points["threshold"] == found.recommended].iloc[0]
        st.success(
            f"**{found.recommended}** is the threshold with the most MQLs ({int(best.mqls):,}) that keeps conversion "
            f"at or above the gate ({percent(best.conversion)}).",
            icon=":material/recommend:",
        )
        if found.recommended != knobs.score_threshold:
            # A callback: it runs before the slider of the next run exists, so it may set the slider's value.
            st.button(
                f"Use {found.recommended}",
                key="sb_use_recommended",
                icon=":material/check:",
                on_click=st.session_state.__setitem__,
                args=(prefix + "score_threshold", found.recommended),
            )

    # --- Propose ---------------------------------------------------------------------------------------------
    st.subheader("Propose this setting")
    kinds = changed_kinds(knobs, baseline)
    if not kinds:
        st.caption("The knobs are the definitions in force: nothing to propose.")
    else:
        with st.form("sb_propose"):
            picked_kinds = st.multiselect(
                "Propose new versions of",
                list(KIND_LABELS),
                default=list(kinds),
                format_func=KIND_LABELS.get,
                key="sb_kinds",
            )
            prose = st.text_area(
                "Why (the signers read this)",
                f"Tried in the sandbox on {trial.describe()}: conversion {percent(before.conversion)} → "
                f"{percent(after.conversion)}, {before.mqls_per_month:,.0f} → {after.mqls_per_month:,.0f} MQLs "
                "a month.",
                key=f"sb_prose_{hash(knobs)}",  # a new text when the knobs move: it quotes their figures
            )
            if st.form_submit_button("Propose for sign-off", type="primary", key="sb_propose_submit"):
                try:
                    made = propose_from_trial(engine, actor, trial.id, knobs, tuple(picked_kinds), prose)
                except (SandboxError, PermissionDenied, ValueError) as problem:
                    st.error(f"Not proposed: {problem}")
                else:
                    labels = ", ".join(version.label for version in made)
                    feedback.after_write(
                        "sandbox",
                        f"Proposed {labels} with this trial's figures; both leads sign on the Definitions page.",
                    )

    with st.expander("Delete this trial"):
        st.caption("Its copied leads are removed; the trial's name stays in the audit log.")
        if st.button("Delete the trial", key="sb_delete", icon=":material/delete:"):
            delete_trial(engine, actor, trial.id)
            st.session_state.pop("sb_trial", None)
            feedback.after_write("sandbox", f"Deleted {trial.describe()}.")
