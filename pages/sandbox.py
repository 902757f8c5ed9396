"""Sandbox (those who may propose a definition; uploads for ops and admins): try MQL and SLA settings on a
private copy of leads, side by side with the definition in force, then propose a good setting for sign-off.
Everything is counted in core.sandbox; nothing here writes to the shared tables.
"""

from __future__ import annotations

import streamlit as st

from core import formatting
from core.permissions import PermissionDenied
from core.sandbox.outcome import active_knobs, comparison, headlines, monthly_comparison
from core.sandbox.proposals import KIND_LABELS, changed_kinds, default_note, propose_from_trial
from core.sandbox.trials import KEEP_DAYS, SandboxError, delete_trial, touch_trial, trials
from ui import auth, cache, feedback
from ui.charts import sandbox as charts
from ui.panels.sandbox import knob_key, knobs_panel, new_trial_form
from ui.tables import show_table

IN_FORCE, YOURS = "Definition in force", "Your knobs"

user = auth.guard("propose_definition")
st.title("Sandbox")
st.caption(
    "Try thresholds on your own copy of leads: the stored leads of a period, or a CSV export. Nothing here changes "
    f"the shared numbers; a trial is yours alone and is kept {KEEP_DAYS} days after you last open it."
)
feedback.show_notice("sandbox")
engine = cache.engine()

# --- Trial ---------------------------------------------------------------------------------------------------
mine = trials(engine, user.actor)
by_id = {trial.id: trial for trial in mine}
if not mine:
    st.info("You have no trial yet. Start one below.", icon=":material/science:")
    new_trial_form(user)
    st.stop()
if "sb_next" in st.session_state:  # a trial just started: show it (set before the picker is drawn)
    st.session_state["sb_trial"] = st.session_state.pop("sb_next")
if st.session_state.get("sb_trial") not in by_id:
    st.session_state["sb_trial"] = mine[0].id
top = st.columns([3, 1])
trial_id = top[0].selectbox("Trial", list(by_id), format_func=lambda key: by_id[key].describe(), key="sb_trial")
trial = by_id[trial_id]
with top[1].popover("New trial", icon=":material/add:"):
    new_trial_form(user)
if st.session_state.get("sb_touched") != trial.id:
    touch_trial(engine, user.actor, trial.id)
    st.session_state["sb_touched"] = trial.id
source_note = f"uploaded from {trial.file_name}" if trial.source == "upload" else "copied from the stored leads"
st.caption(
    f"{trial.rows:,} leads, {source_note}; unanswered MQLs are timed up to {trial.as_of:%d %b %Y %H:%M} UTC, "
    "when the data was taken."
)

# --- Knobs ---------------------------------------------------------------------------------------------------
baseline = active_knobs(engine)
knob_column, result_column = st.columns([1.2, 2], gap="large")
with knob_column:
    st.subheader("Knobs")
    knobs = knobs_panel(trial.id, baseline, cache.trial_choices(user.username, user.role, trial.id))

# --- Outcomes ------------------------------------------------------------------------------------------------
before = cache.trial_outcome(user.username, user.role, trial.id, baseline, IN_FORCE)
after = cache.trial_outcome(user.username, user.role, trial.id, knobs, YOURS)
found = cache.trial_curve(user.username, user.role, trial.id, knobs)

with result_column:
    st.subheader("Outcomes, beside the definition in force")
    for column, headline in zip(st.columns(4), headlines(before, after), strict=True):
        column.metric(
            headline.label,
            headline.value,
            delta=headline.delta,
            delta_color="inverse" if headline.lower_is_better else "normal",
        )
    if not formatting.known(after.sla_compliance):
        st.caption("SLA compliance: — (no first-response times in this data, so the SLA cannot be judged)")
    if formatting.known(after.conversion) and after.conversion < knobs.conversion_gate:
        st.error(
            f"Conversion {formatting.percent(after.conversion)} is under the "
            f"{formatting.percent(knobs.conversion_gate)} gate.",
            icon=":material/flag:",
        )
    show_table(comparison(before, after, knobs), key="sb_comparison")
    st.caption(
        "Both rules are applied to the same leads and counted by the month a lead was created. Leads the recorded "
        "rule never passed to sales have no SQL and no response: they count as not converted, and the SLA is "
        "judged on the leads that were MQLs. Reps needed: MQLs on a busy day (the 90th percentile) × minutes per "
        "first response ÷ the minutes a rep gives new MQLs a day."
    )
    st.markdown("**MQLs per month**")
    st.altair_chart(charts.monthly_chart(monthly_comparison(before, after), (IN_FORCE, YOURS)), width="stretch")

    st.markdown("**Volume and conversion at every threshold** (the other knobs as set)")
    st.altair_chart(
        charts.curve_chart(found.points, found.gate, knobs.score_threshold, found.recommended), width="stretch"
    )
    if found.recommended is None:
        st.warning(
            f"No threshold keeps conversion at or above {formatting.percent(found.gate)} with the other knobs as set.",
            icon=":material/warning:",
        )
    else:
        best = found.points.loc[found.points["threshold"] == found.recommended].iloc[0]
        st.success(
            f"**{found.recommended}** is the threshold with the most MQLs ({formatting.count(best.mqls)}) that keeps "
            f"conversion at or above the gate ({formatting.percent(best.conversion)}).",
            icon=":material/recommend:",
        )
        if found.recommended != knobs.score_threshold:
            # A callback runs before the next run draws the slider, so it may set the slider's own value.
            st.button(
                f"Use {found.recommended}",
                key="sb_use_recommended",
                icon=":material/check:",
                on_click=st.session_state.__setitem__,
                args=(knob_key(trial.id, "score_threshold"), found.recommended),
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
                format_func=KIND_LABELS.__getitem__,
                key="sb_kinds",
            )
            prose = st.text_area(
                "Why (the signers read this)",
                default_note(trial, before, after),
                key=f"sb_prose_{hash(knobs)}",  # a new text when the knobs move: it quotes their figures
            )
            if st.form_submit_button("Propose for sign-off", type="primary", key="sb_propose_submit"):
                try:
                    made = propose_from_trial(engine, user.actor, trial.id, knobs, tuple(picked_kinds), prose)
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
            delete_trial(engine, user.actor, trial.id)
            st.session_state.pop("sb_trial", None)
            feedback.after_write("sandbox", f"Deleted {trial.describe()}.")
