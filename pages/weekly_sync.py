"""Weekly sync (everyone reads; ops and admins run it): the 30-minute meeting of marketing ops and sales ops,
its agenda written by the data. The agenda is core.alignment.agenda, the record core.alignment.sync; the
forms are ui.panels.alignment and the chart ui.charts.alignment.
"""

from __future__ import annotations

import streamlit as st

from core.alignment.agenda import SECTIONS, agenda, agenda_weeks, trend, trend_shares, trend_table, week_label
from core.alignment.sync import (
    STATUSES,
    TEAMS,
    SyncError,
    actions_csv,
    actions_shown,
    actions_table,
    all_actions,
    close_meeting,
    meeting_for,
    meeting_markdown,
    meetings,
    meetings_table,
    open_meeting,
)
from core.exports import inert
from core.periods import week_start
from core.permissions import PermissionDenied, may
from core.vocabulary import person
from ui import auth, cache, feedback
from ui.charts import alignment as charts
from ui.panels.alignment import earlier_actions, record_form
from ui.tables import show_table

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
names = cache.people()
past = meetings(engine)

# A demo or a stale database ends in the past: start on the week after the last complete week with MQLs (an
# import of undated leads today, their MQL day today, does not move it). Any week with data or a meeting can be
# picked, and picking one shows its agenda at once.
default_week = week_start(cache.default_anchor(today, "week"))
span = cache.date_span()
first = min([default_week, *([span[0]] if span else []), *(m.week for m in past)])
weeks = agenda_weeks(first, max(today, default_week))
week = st.selectbox("Week", weeks, index=weeks.index(default_week), format_func=week_label, key="sync_week")
plan = agenda(engine, week)
meeting = meeting_for(engine, week)
run_tab, history_tab = st.tabs(["This week's sync", "History"])

with run_tab:
    st.subheader(plan.label)
    if meeting is None:
        st.info("This week's meeting has not been opened yet. The agenda below is ready.", icon=":material/event:")
        if runs_it and st.button("Open this week's meeting", type="primary", key="sync_open"):
            try:
                open_meeting(engine, actor, week)
            except (SyncError, PermissionDenied) as problem:
                st.error(f"Not saved: {problem}", icon=":material/error:")
            else:
                feedback.after_write("sync", "Meeting opened: walk the agenda, take notes, record the actions.")
    elif meeting.closed:
        st.success(
            f"Closed by {person(meeting.closed_by, names)} on {meeting.closed_at:%d %b %Y %H:%M} UTC; the record is "
            "read-only and keeps the numbers as they stood then.",
            icon=":material/lock:",
        )
    if meeting is not None:
        earlier_actions(actor, meeting, week, runs_it)

    for number, section in enumerate(SECTIONS, start=1):
        with st.container(border=True):
            st.markdown(f"**{number}. {section.title}** · {section.minutes} min")
            lines = meeting.numbers.get(section.key) if meeting and meeting.closed else section.lines(plan)
            for line in lines or []:
                st.markdown(f"- {inert(line)}")
            if section.key == "volume" and not plan.by_source.empty and not (meeting and meeting.closed):
                show_table(plan.sources_table(), key="sync_sources")
            if meeting is not None and meeting.notes.get(section.key):
                st.markdown(f"*Notes:* {inert(meeting.notes[section.key])}")
            if section.key == "actions" and meeting is not None:
                if meeting.actions:
                    show_table(actions_table(meeting.actions), key="sync_actions")
                else:
                    st.caption("No actions recorded yet.")

    if meeting is not None and not meeting.closed and runs_it:
        st.subheader("Record")
        record_form(actor, meeting, week)
        missing = [TEAMS[team] for team in ("marketing", "sales") if not any(a.team == team for a in meeting.actions)]
        if missing:
            st.warning(f"No action yet for {' and '.join(missing)}.", icon=":material/assignment_late:")
        sure = st.checkbox("Close the meeting: the record becomes read-only", key="sync_close_sure")
        if st.button("Close the meeting", disabled=not sure, key="sync_close"):
            try:
                close_meeting(engine, actor, meeting.id)
            except (SyncError, PermissionDenied) as problem:
                st.error(f"Not saved: {problem}", icon=":material/error:")
            else:
                feedback.after_write("sync", "Meeting closed. Next week's agenda starts with its open actions.")
    if meeting is not None:
        st.download_button(
            "Download the meeting (Markdown, for the wiki)",
            meeting_markdown(meeting, plan, names),
            file_name=f"weekly-sync-{week.isoformat()}.md",
            mime="text/markdown",
            icon=":material/download:",
            key="sync_markdown",
        )

with history_tab:
    st.subheader("Meetings")
    if past:
        show_table(meetings_table(past, names), key="sync_meetings")
    else:
        st.caption("No meeting recorded yet.")
    st.subheader("Actions across meetings")
    every = all_actions(engine)
    if every.empty:
        st.caption("No actions yet.")
    else:
        statuses = st.multiselect("Status", list(STATUSES), default=["open"], key="sync_status_filter")
        show_table(actions_shown(every, statuses), key="sync_all_actions")
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
    st.altair_chart(charts.trend_chart(moves, trend_shares(moves)), width="stretch")
    show_table(trend_table(moves), key="sync_trend")
