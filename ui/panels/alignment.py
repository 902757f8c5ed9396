"""The forms and cards of the Diagnostic and Weekly sync pages: answering the survey, running the rounds, one
sign read against the answers, one action of the plan, the earlier weeks' open actions and the meeting's record.
Every write goes through core.alignment, which checks the permission again."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.alignment.agenda import SECTIONS
from core.alignment.diagnostic.actions import Action
from core.alignment.diagnostic.questions import (
    ALIGNED,
    LEVELS,
    SCALE,
    STATEMENT_BY_KEY,
    STATEMENTS,
    TEAMS,
    area_name,
    suggested_tags,
)
from core.alignment.diagnostic.results import MIN_GROUP
from core.alignment.diagnostic.signs import SignReading
from core.alignment.diagnostic.survey import (
    RoundInfo,
    SurveyError,
    close_round,
    my_answer,
    open_round,
    rounds_table,
    submit_answer,
)
from core.alignment.sync import (
    EDITABLE_STATUSES,
    MeetingInfo,
    SyncError,
    add_action,
    open_from_before,
    review_action,
    save_notes,
    update_action,
)
from core.alignment.sync import TEAMS as SYNC_TEAMS
from core.exports import inert
from core.formatting import MISSING, decimal
from core.permissions import Actor, PermissionDenied
from ui import cache, feedback
from ui.menu import may_open
from ui.tables import show_table

VERDICTS = {  # verdict: (colour word for markdown, icon, heading); red only where the data shows a problem
    "confirmed": ("red", ":material/check:", "Confirmed: both see the problem"),
    "blind spot": ("red", ":material/visibility_off:", "Blind spot: the data shows a problem the answers do not"),
    "felt, not measured": ("orange", ":material/help:", "Felt, not measured"),
    "healthy": ("green", ":material/check_circle:", "Agree: no problem"),
    "unknown": ("gray", ":material/remove:", "Cannot compare"),
}
PROBLEM = {True: ":red[problem]", False: ":green[fine]", None: ":gray[not measured]"}


# ------------------------------------------------------------------ Diagnostic


def answer_form(actor: Actor, round_: RoundInfo, today: dt.date) -> None:
    mine = my_answer(cache.engine(), actor, round_.id)  # per person: read fresh, never cached
    team, level = (mine.team, mine.level) if mine else suggested_tags(actor.role)
    if mine:
        st.success(
            f"You answered on {mine.submitted_at:%d %b %Y}. You can change your answers until the round closes on "
            f"{round_.closes_on:%d %b %Y}.",
            icon=":material/task_alt:",
        )
    else:
        st.info(
            f"**{inert(round_.name)}** is open until {round_.closes_on:%d %b %Y}: about five minutes, fifteen "
            "statements.",
            icon=":material/edit_note:",
        )
    with st.form("survey_answers"):
        tags = st.columns(2)
        teams, levels = list(TEAMS), list(LEVELS)
        picked_team = tags[0].radio(
            "Your team", teams, index=teams.index(team), format_func=TEAMS.get, horizontal=True, key="sv_team"
        )
        picked_level = tags[1].radio(
            "Your level",
            levels,
            index=levels.index(level) if level else None,
            format_func=lambda key: LEVELS[key][:-1] if key != "individual_contributor" else "Individual contributor",
            horizontal=True,
            key="sv_level",
        )
        st.caption(
            "Your answers are stored with your name only so that you can change them; results show groups of "
            f"{MIN_GROUP} or more, never a person."
        )
        scores: dict[str, int | None] = {}
        shown_area = None
        for statement in STATEMENTS:
            if statement.area != shown_area:
                shown_area = statement.area
                st.markdown(f"**{area_name(statement.area) if statement.area != ALIGNED else 'Overall'}**")
            before = mine.scores.get(statement.key) if mine else None
            scores[statement.key] = st.radio(
                statement.text,
                list(SCALE),
                index=before - 1 if before else None,
                format_func=lambda value: f"{value} · {SCALE[value]}",
                horizontal=True,
                key=f"sv_{statement.key}",
            )
        submitted = st.form_submit_button("Save my answers", type="primary", key="sv_submit")
    if submitted:
        try:
            submit_answer(cache.engine(), actor, round_.id, picked_team, picked_level or "", scores, today=today)
        except (SurveyError, PermissionDenied) as problem:
            st.error(f"Not saved: {problem}", icon=":material/error:")
        else:
            feedback.after_write(
                "diagnostic", f"Saved your answers to {round_.name}. You can change them until it closes."
            )


def manage_rounds(actor: Actor, every: list[RoundInfo], current: RoundInfo | None, today: dt.date) -> None:
    with st.expander("Run the rounds (ops)", icon=":material/settings:"):
        if every:
            show_table(rounds_table(every, today))
        if current is not None:
            st.markdown(f"**{inert(current.name)}** is open until {current.closes_on:%d %b %Y}.")
            sure = st.checkbox("Close it today: answers become final and results appear", key="sv_close_sure")
            if st.button("Close the round now", disabled=not sure, key="sv_close"):
                try:
                    close_round(cache.engine(), actor, current.id, today=today)
                except (SurveyError, PermissionDenied) as problem:
                    st.error(str(problem))
                else:
                    feedback.after_write("diagnostic", f"Closed {current.name}; its results are on the Results tab.")
        with st.form("sv_open_round", clear_on_submit=True):
            st.markdown("**Open a new round**")
            cells = st.columns(3)
            name = cells[0].text_input(
                "Name", key="sv_open_name", placeholder=f"Q{(today.month - 1) // 3 + 1} {today.year} pulse"
            )
            opens_on = cells[1].date_input("Opens", today)
            closes_on = cells[2].date_input("Closes (included)", today + dt.timedelta(days=13))
            if st.form_submit_button("Open the round", key="sv_open_submit"):
                try:
                    opened = open_round(cache.engine(), actor, name, opens_on, closes_on, today=today)
                except (SurveyError, PermissionDenied) as problem:
                    st.error(f"Not opened: {problem}")
                else:
                    feedback.after_write("diagnostic", f"Opened {opened.describe()}.")


def sign_card(reading: SignReading) -> None:
    """One sign: what the data measured, what people said about its statement, and whether the two agree."""
    colour, icon, heading = VERDICTS[reading.verdict]
    with st.container(border=True):
        cells = st.columns([3, 2, 3])
        cells[0].markdown(f"**{reading.sign.name}** — {PROBLEM[reading.sign.problem]}  \n{reading.sign.measured}.")
        cells[1].markdown(
            f"*{STATEMENT_BY_KEY[reading.sign.statement].text}*  \n"
            f"Everyone **{decimal(reading.everyone)}** · executives {decimal(reading.executives)} · "
            f"individual contributors {decimal(reading.contributors)}"
        )
        explanation = reading.explanation[:1].upper() + reading.explanation[1:]
        cells[2].markdown(f":{colour}[{icon} **{heading}**]  \n{explanation}.")


def action_card(number: int, action: Action, framework: str, area: str, role: str) -> None:
    """One fix of the plan, why, and the page where it is done (a link when this person may open it)."""
    with st.container(border=True):
        st.markdown(f"#### {number}. {action.title}")
        st.caption(f"Step {action.step} of the framework: {framework} · {area}")
        st.markdown("\n".join(f"- {reason}" for reason in action.because))
        if not may_open(role, action.page):
            st.caption(f"Done on the {action.page_label} page, by ops.")
            return
        try:
            st.page_link(action.page, label=f"Open {action.page_label}", icon=":material/arrow_forward:")
        except StreamlitPageNotFoundError:  # the page run on its own, outside app.py's menu (tests)
            st.caption(f"Done on the {action.page_label} page.")


# ------------------------------------------------------------------ Weekly sync


def _not_saved(problem: Exception) -> None:
    st.error(f"Not saved: {problem}", icon=":material/error:")


def earlier_actions(actor: Actor, current: MeetingInfo, week: dt.date, runs_it: bool) -> None:
    """Earlier meetings' open actions, oldest first, each to be marked done, carried over or dropped."""
    carried = open_from_before(cache.engine(), week)
    st.subheader("Open actions from earlier weeks")
    if not carried:
        st.caption("None: every earlier action is done, dropped or carried over.")
        return
    for action in carried:
        cells = st.columns([4, 2, 2, 3])
        due = f"{action.due:%d %b}" if action.due else MISSING
        overdue = " · :red[overdue]" if action.due and action.due < week else ""
        cells[0].markdown(f"**{SYNC_TEAMS[action.team]}** · {action.text}  \n{action.owner}, due {due}{overdue}")
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
                    review_action(cache.engine(), actor, current.id, action.id, choice)  # type: ignore[arg-type]
                except (SyncError, PermissionDenied) as problem:
                    _not_saved(problem)
                else:
                    feedback.after_write("sync", f"Marked “{action.text}” {choice}.")


def record_form(actor: Actor, current: MeetingInfo, week: dt.date) -> None:
    """The meeting's notes and attendees, a new action, and each action of the meeting to edit."""
    engine = cache.engine()
    with st.form("sync_notes"):
        attendees = st.text_input(
            "Attendees (comma-separated)", ", ".join(current.attendees), key=f"sync_attendees_{current.revision}"
        )
        notes = {
            section.key: st.text_area(
                f"Notes: {section.title}",
                current.notes.get(section.key, ""),
                key=f"sync_note_{section.key}_{current.revision}",
                height=80,
            )
            for section in SECTIONS[:-1]
        }
        if st.form_submit_button("Save notes", key="sync_save_notes"):
            try:
                save_notes(engine, actor, current.id, notes, attendees.split(","), revision=current.revision)
            except (SyncError, PermissionDenied) as problem:
                _not_saved(problem)
            else:
                feedback.after_write("sync", "Notes saved.")
    with st.form("sync_new_action", clear_on_submit=True):
        st.markdown("**Add an action** (one per team at least: what, who, by when)")
        cells = st.columns([1.2, 4, 2, 1.6])
        team = cells[0].selectbox("Team", list(SYNC_TEAMS), format_func=SYNC_TEAMS.get, key="sync_action_team")
        text = cells[1].text_input("Action", key="sync_action_text")
        owner = cells[2].text_input("Owner", key="sync_action_owner")
        due = cells[3].date_input("Due", week + dt.timedelta(days=11), key="sync_action_due")
        if st.form_submit_button("Add the action", key="sync_add_action"):
            try:
                add_action(engine, actor, current.id, team, text, owner, due)
            except (SyncError, PermissionDenied) as problem:
                _not_saved(problem)
            else:
                feedback.after_write("sync", f"Added an action for {SYNC_TEAMS[team].lower()}: {text}.")
    teams, editable = list(SYNC_TEAMS), list(EDITABLE_STATUSES)  # carrying over is done from the next week's meeting
    for action in current.actions:
        with (
            st.expander(f"{SYNC_TEAMS[action.team]} · {action.text} · {action.owner} · {action.status}"),
            st.form(f"sync_edit_{action.id}"),
        ):
            cells = st.columns([1.2, 4, 2, 1.6, 1.6])
            team = cells[0].selectbox("Team", teams, index=teams.index(action.team), format_func=SYNC_TEAMS.get)
            text = cells[1].text_input("Action", action.text)
            owner = cells[2].text_input("Owner", action.owner)
            due = cells[3].date_input("Due", action.due)
            status = cells[4].selectbox(
                "Status", editable, index=editable.index(action.status) if action.status in editable else 0
            )
            if st.form_submit_button("Save the action"):
                try:
                    update_action(engine, actor, action.id, team=team, text=text, owner=owner, due=due, status=status)
                except (SyncError, PermissionDenied) as problem:
                    _not_saved(problem)
                else:
                    feedback.after_write("sync", "Action saved.")
