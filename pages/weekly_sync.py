"""Weekly sync (everyone reads; ops and admins run it): the 30-minute meeting of marketing ops and sales ops,
its agenda written by the data. Numbers and rules come from core.alignment.sync; this page lays them out.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from core.alignment.sync import (
    EDITABLE_STATUSES,
    SECTIONS,
    STATUSES,
    TEAMS,
    ActionInfo,
    MeetingInfo,
    SyncError,
    actions_csv,
    add_action,
    agenda,
    all_actions,
    close_meeting,
    meeting_for,
    meeting_markdown,
    meetings,
    open_from_before,
    open_meeting,
    review_action,
    save_notes,
    trend,
    update_action,
)
from core.exports import inert
from core.periods import week_start
from core.permissions import PermissionDenied, may
from ui import auth, cache, feedback

user = auth.guard("read")
actor = user.actor
runs_it = may(user.role, "run_sync")
st.title("Weekly sync")
st.caption(
    "Thirty minutes, marketing ops and sales ops, the same five sections every week so that patterns show. "
    "The numbers come from the data; the notes and actions from the meeting."
    + ("" if runs_it else " Ops run the meeting; you can read every week's record.")
)
feedback.show_notice("sync")
engine = cache.engine()
today = cache.org_settings().today()
# A demo or a stale database ends in the past: start on the week after the last complete week with MQLs (an
# import of undated leads today, their MQL day today, does not move it).
default_week = week_start(cache.default_anchor(today, "week"))
picked = st.date_input("Week (any day of it)", default_week, key="sync_week", format="YYYY-MM-DD")
week = week_start(picked if isinstance(picked, dt.date) else default_week)
plan = agenda(engine, week)
meeting = meeting_for(engine, week)
run_tab, history_tab = st.tabs(["This week's sync", "History"])


def error_of(problem: Exception) -> None:
    st.error(f"Not saved: {problem}", icon=":material/error:")


def earlier_actions(current: MeetingInfo) -> None:
    carried = open_from_before(engine, week)
    st.subheader("Open actions from earlier weeks")
    if not carried:
        st.caption("None: every earlier action is done, dropped or carried over.")
        return
    for action in carried:
        cells = st.columns([4, 2, 2, 3])
        due = f"{action.due:%d %b}" if action.due else "—"
        overdue = " · :red[overdue]" if action.due and action.due < week else ""
        cells[0].markdown(f"**{TEAMS[action.team]}** · {action.text}  \n{action.owner}, due {due}{overdue}")
        cells[1].caption(f"from the week of {action.week:%d %b}")
        if runs_it and not current.closed:
            choice = cells[2].selectbox(
                "Outcome",
                ["done", "carried over", "dropped"],
                key=f"sync_review_{action.id}",
                label_visibility="collapsed",
            )
            if cells[3].button("Mark", key=f"sync_mark_{action.id}"):
                try:
                    review_action(engine, actor, current.id, action.id, choice)  # type: ignore[arg-type]
                except (SyncError, PermissionDenied) as problem:
                    error_of(problem)
                else:
                    feedback.after_write("sync", f"Marked “{action.text}” {choice}.")


def action_table(actions: list[ActionInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "team": TEAMS.get(a.team, a.team),
                "action": a.text,
                "owner": a.owner,
                "due": a.due,
                "status": a.status,
                "carried over": "yes" if a.carried_from else "",
            }
            for a in actions
        ],
        columns=["team", "action", "owner", "due", "status", "carried over"],
    )


def record_form(current: MeetingInfo) -> None:
    with st.form("sync_notes"):
        attendees = st.text_input(
            "Attendees (comma-separated)", ", ".join(current.attendees), key=f"sync_attendees_{current.revision}"
        )
        notes = {}
        for section in SECTIONS[:-1]:
            notes[section.key] = st.text_area(
                f"Notes: {section.title}",
                current.notes.get(section.key, ""),
                key=f"sync_note_{section.key}_{current.revision}",
                height=80,
            )
        if st.form_submit_button("Save notes", key="sync_save_notes"):
            try:
                save_notes(
                    engine,
                    actor,
                    current.id,
                    notes,
                    [name for name in attendees.split(",")],
                    revision=current.revision,
                )
            except (SyncError, PermissionDenied) as problem:
                error_of(problem)
            else:
                feedback.after_write("sync", "Notes saved.")
    with st.form("sync_new_action", clear_on_submit=True):
        st.markdown("**Add an action** (one per team at least: what, who, by when)")
        cells = st.columns([1.2, 4, 2, 1.6])
        team = cells[0].selectbox("Team", list(TEAMS), format_func=TEAMS.get, key="sync_action_team")
        text = cells[1].text_input("Action", key="sync_action_text")
        owner = cells[2].text_input("Owner", key="sync_action_owner")
        due = cells[3].date_input("Due", week + dt.timedelta(days=11), key="sync_action_due")
        if st.form_submit_button("Add the action", key="sync_add_action"):
            try:
                add_action(engine, actor, current.id, team, text, owner, due)
            except (SyncError, PermissionDenied) as problem:
                error_of(problem)
            else:
                feedback.after_write("sync", f"Added an action for {TEAMS[team].lower()}: {text}.")
    for action in current.actions:
        with (
            st.expander(f"{TEAMS[action.team]} · {action.text} · {action.owner} · {action.status}"),
            st.form(f"sync_edit_{action.id}"),
        ):
            cells = st.columns([1.2, 4, 2, 1.6, 1.6])
            team = cells[0].selectbox("Team", list(TEAMS), index=list(TEAMS).index(action.team), format_func=TEAMS.get)
            text = cells[1].text_input("Action", action.text)
            owner = cells[2].text_input("Owner", action.owner)
            due = cells[3].date_input("Due", action.due)
            editable = list(EDITABLE_STATUSES)  # carrying over is done from the next week's meeting
            status = cells[4].selectbox(
                "Status", editable, index=editable.index(action.status) if action.status in editable else 0
            )
            if st.form_submit_button("Save the action"):
                try:
                    update_action(engine, actor, action.id, team=team, text=text, owner=owner, due=due, status=status)
                except (SyncError, PermissionDenied) as problem:
                    error_of(problem)
                else:
                    feedback.after_write("sync", "Action saved.")


with run_tab:
    st.subheader(plan.label)
    if meeting is None:
        st.info("This week's meeting has not been opened yet. The agenda below is ready.", icon=":material/event:")
        if runs_it and st.button("Open this week's meeting", type="primary", key="sync_open"):
            try:
                open_meeting(engine, actor, week)
            except (SyncError, PermissionDenied) as problem:
                error_of(problem)
            else:
                feedback.after_write("sync", "Meeting opened: walk the agenda, take notes, record the actions.")
    elif meeting.closed:
        st.success(
            f"Closed by {meeting.closed_by} on {meeting.closed_at:%d %b %Y %H:%M} UTC; the record is read-only and "
            "keeps the numbers as they stood then.",
            icon=":material/lock:",
        )
    if meeting is not None:
        earlier_actions(meeting)

    for number, section in enumerate(SECTIONS, start=1):
        with st.container(border=True):
            st.markdown(f"**{number}. {section.title}** · {section.minutes} min")
            lines = meeting.numbers.get(section.key) if meeting and meeting.closed else plan.section_lines(section.key)
            for line in lines or []:
                st.markdown(f"- {inert(line)}")
            if section.key == "volume" and not plan.by_source.empty and not (meeting and meeting.closed):
                shown = plan.by_source[["source", "mqls", "previous_mqls", "mql_to_sql"]].rename(
                    columns={"mqls": "this week", "previous_mqls": "last week", "mql_to_sql": "MQL→SQL"}
                )
                st.dataframe(
                    shown,
                    hide_index=True,
                    width="stretch",
                    key="sync_sources",
                    column_config={"MQL→SQL": st.column_config.NumberColumn(format="percent")},
                )
            if meeting is not None and meeting.notes.get(section.key):
                st.markdown(f"*Notes:* {inert(meeting.notes[section.key])}")
            if section.key == "actions" and meeting is not None:
                if meeting.actions:
                    st.dataframe(action_table(meeting.actions), hide_index=True, width="stretch", key="sync_actions")
                else:
                    st.caption("No actions recorded yet.")

    if meeting is not None and not meeting.closed and runs_it:
        st.subheader("Record")
        record_form(meeting)
        missing = [TEAMS[team] for team in ("marketing", "sales") if not any(a.team == team for a in meeting.actions)]
        if missing:
            st.warning(f"No action yet for {' and '.join(missing)}.", icon=":material/assignment_late:")
        sure = st.checkbox("Close the meeting: the record becomes read-only", key="sync_close_sure")
        if st.button("Close the meeting", disabled=not sure, key="sync_close"):
            try:
                close_meeting(engine, actor, meeting.id)
            except (SyncError, PermissionDenied) as problem:
                error_of(problem)
            else:
                feedback.after_write("sync", "Meeting closed. Next week's agenda starts with its open actions.")
    if meeting is not None:
        st.download_button(
            "Download the meeting (Markdown, for the wiki)",
            meeting_markdown(meeting, plan),
            file_name=f"weekly-sync-{week.isoformat()}.md",
            mime="text/markdown",
            icon=":material/download:",
            key="sync_markdown",
        )


with history_tab:
    past = meetings(engine)
    st.subheader("Meetings")
    if past:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "week": m.week,
                        "status": m.status,
                        "attendees": ", ".join(m.attendees),
                        "actions": len(m.actions),
                        "open actions": sum(1 for a in m.actions if a.status == "open"),
                    }
                    for m in past
                ]
            ),
            hide_index=True,
            width="stretch",
            key="sync_meetings",
        )
    else:
        st.caption("No meeting recorded yet.")
    st.subheader("Actions across meetings")
    actions = all_actions(engine)
    if actions.empty:
        st.caption("No actions yet.")
    else:
        statuses = st.multiselect("Status", list(STATUSES), default=["open"], key="sync_status_filter")
        st.dataframe(
            actions[actions["status"].isin(statuses)] if statuses else actions,
            hide_index=True,
            width="stretch",
            key="sync_all_actions",
        )
        st.download_button(
            "Download every action (CSV)",
            actions_csv(engine),
            file_name="weekly-sync-actions.csv",
            mime="text/csv",
            icon=":material/download:",
            key="sync_actions_csv",
        )
    st.subheader("The agenda's numbers, week by week")
    moves = trend(engine, week)
    long = moves.melt(id_vars="week", value_vars=["mql_to_sql", "rejection_share", "sla_compliance"])
    long["measure"] = long["variable"].map(
        {"mql_to_sql": "MQL→SQL conversion", "rejection_share": "Rejection share", "sla_compliance": "SLA compliance"}
    )
    shares = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "measure:N",
                scale=alt.Scale(
                    domain=["MQL→SQL conversion", "Rejection share", "SLA compliance"],
                    range=["#2563eb", "#dc2626", "#16a34a"],
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[alt.Tooltip("week:T", format="%d %b %Y"), "measure:N", alt.Tooltip("value:Q", format=".1%")],
        )
        .properties(height=240)
    )
    volume = (
        alt.Chart(moves)
        .mark_bar(color="#93c5fd", size=18)
        .encode(
            x=alt.X("week:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y("mqls:Q", title="MQLs"),
            tooltip=[alt.Tooltip("week:T", format="%d %b %Y"), "mqls:Q"],
        )
        .properties(height=160)
    )
    st.altair_chart(alt.vconcat(volume, shares).resolve_scale(x="shared"), width="stretch")
    st.dataframe(
        moves,
        hide_index=True,
        width="stretch",
        key="sync_trend",
        column_config={
            "mql_to_sql": st.column_config.NumberColumn("MQL→SQL", format="percent"),
            "rejection_share": st.column_config.NumberColumn("rejection share", format="percent"),
            "sla_compliance": st.column_config.NumberColumn("SLA compliance", format="percent"),
            "median_response_hours": st.column_config.NumberColumn("median response (h)", format="%.1f"),
            "mql_target": st.column_config.NumberColumn("MQL target (week's share)", format="%.0f"),
        },
    )
