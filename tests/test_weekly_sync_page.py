"""The Weekly sync page, driven with AppTest: ops open the week's sync on the sample company, see the five
sections filled with the data's numbers, record two actions and close the meeting; next week's sync starts
with those actions, read-only for everyone but ops."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from core.admin.seed import seed_sample_data
from core.alignment import agenda, sync
from core.permissions import Actor
from tests.conftest import as_read, page_file, run, signed_in_as

PAGE = page_file("weekly_sync.py")
WEEK = dt.date(2026, 10, 19)  # a complete week of the sample company (its data ends 31 Oct 2026)


def _markdown(app: AppTest) -> str:
    return "\n".join(as_read(block.value) for block in app.markdown)


def _on_week(app: AppTest, day: dt.date) -> AppTest:
    app.selectbox(key="sync_week").set_value(day)
    return run(app)


def test_choosing_a_week_shows_its_agenda_at_once(database: Engine) -> None:
    """The week is a list of weeks, not a typed date that applies only on Enter: one choice, one rerun, and the
    agenda on screen is that week's."""
    seed_sample_data(database, with_survey=False)
    app = run(signed_in_as(database, "ed", "exec", PAGE))
    other = WEEK - dt.timedelta(weeks=3)
    assert app.selectbox(key="sync_week").value != other
    assert agenda.week_label(other) in app.selectbox(key="sync_week").options
    app = _on_week(app, other)
    plan = agenda.agenda(database, other)
    assert app.subheader[0].value == plan.label == "Week 40, 2026 (28 Sep – 04 Oct 2026)"
    shown = _markdown(app)
    for line in plan.points():
        assert f"- {line}" in shown


def test_run_a_meeting_and_next_week_starts_with_its_actions(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    app = _on_week(run(signed_in_as(database, "otto", "ops", PAGE)), WEEK)
    plan = agenda.agenda(database, WEEK)
    shown = _markdown(app)
    for section in agenda.SECTIONS:
        assert f"{section.title}** · {section.minutes} min" in shown
    for line in plan.points():  # every number of the agenda, as core computes it
        assert f"- {line}" in shown
    assert "This week's meeting has not been opened yet" in app.info[0].value

    app.button(key="sync_open").click()
    run(app)
    assert "Meeting opened" in app.success[0].value
    for team, text, owner in (
        ("marketing", "Pause the spring e-book's syndication", "Mia"),
        ("sales", "Log a reason on every rejection", "Sam"),
    ):
        app.selectbox(key="sync_action_team").set_value(team)
        app.text_input(key="sync_action_text").input(text)
        app.text_input(key="sync_action_owner").input(owner)
        app.button(key="sync_add_action").click()
        run(app)
        assert f"Added an action for {team}" in app.success[0].value
    record = sync.meeting_for(database, WEEK)
    assert record is not None and [a.owner for a in record.actions] == ["Mia", "Sam"]

    app.checkbox(key="sync_close_sure").check()
    run(app)
    app.button(key="sync_close").click()
    run(app)
    assert "Meeting closed" in app.success[0].value
    closed = sync.meeting_for(database, WEEK)
    assert closed is not None and closed.closed
    assert closed.numbers["volume"] == plan.section_lines("volume")
    assert not [button for button in app.button if button.key in ("sync_add_action", "sync_close")]

    # Next week: the two open actions come first, to be marked.
    app = _on_week(app, WEEK + dt.timedelta(days=7))
    app.button(key="sync_open").click()
    run(app)
    shown = _markdown(app)
    assert "Pause the spring e-book's syndication" in shown and "Log a reason on every rejection" in shown
    first, second = sync.open_from_before(database, WEEK + dt.timedelta(days=7))
    app.selectbox(key=f"sync_review_{first.id}").set_value("done")
    app.button(key=f"sync_mark_{first.id}").click()
    run(app)
    app.selectbox(key=f"sync_review_{second.id}").set_value("carried over")
    app.button(key=f"sync_mark_{second.id}").click()
    run(app)
    now = sync.meeting_for(database, WEEK + dt.timedelta(days=7))
    assert now is not None and [(a.text, a.carried_from) for a in now.actions] == [
        ("Log a reason on every rejection", second.id)
    ]
    assert sync.open_from_before(database, WEEK + dt.timedelta(days=7)) == []


def test_others_read_the_record_but_cannot_run_the_meeting(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    meeting = sync.open_meeting(database, Actor("otto", "ops"), WEEK)
    sync.add_action(database, Actor("otto", "ops"), meeting.id, "sales", "Call back every demo request", "Sam", WEEK)
    app = _on_week(run(signed_in_as(database, "ed", "exec", PAGE)), WEEK)
    assert "Ops run the meeting" in app.caption[0].value
    assert not [button for button in app.button if button.key in ("sync_open", "sync_close", "sync_add_action")]
    history = [frame.value for frame in app.dataframe if "action" in frame.value.columns]
    assert any("Call back every demo request" in list(frame["action"]) for frame in history)
