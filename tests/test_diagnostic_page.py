"""The Diagnostic page, driven with AppTest: answering and changing an answer, a refused answer, ops running
rounds, a closed round's results with a filter that would single people out, and the sample company's story."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from core.admin.seed import seed_sample_data
from core.alignment.diagnostic.questions import STATEMENTS
from core.alignment.diagnostic.survey import (
    ANSWER_COLUMNS,
    RoundInfo,
    import_round,
    my_answer,
    open_round,
    open_round_on,
    submit_answer,
)
from core.permissions import Actor
from core.settings import current
from tests.conftest import page_file, run, signed_in_as

PAGE = page_file("diagnostic.py")
OPS = Actor("setup", "ops")


def _today(engine: Engine) -> dt.date:
    return current(engine).today()


def _open(engine: Engine) -> RoundInfo:
    today = _today(engine)
    return open_round(engine, OPS, "Pulse now", today - dt.timedelta(days=2), today + dt.timedelta(days=5), today=today)


def _answer_everything(app: AppTest, score: int = 4) -> None:
    for statement in STATEMENTS:
        app.radio(key=f"sv_{statement.key}").set_value(score)


def _closed_round(engine: Engine, people: list[tuple[str, str, int]]) -> RoundInfo:
    """A closed round of (team, level, score given to every statement) per person."""
    rows = [
        {"respondent": f"p{n}", "team": team, "level": level} | {s.key: score for s in STATEMENTS}
        for n, (team, level, score) in enumerate(people)
    ]
    today = _today(engine)
    frame = pd.DataFrame(rows, columns=list(ANSWER_COLUMNS))
    start = today - dt.timedelta(days=40)
    return import_round(engine, OPS, "Last round", start, start + dt.timedelta(days=10), frame, today=today)


def test_answer_the_survey_then_change_it(database: Engine) -> None:
    round_ = _open(database)
    app = run(signed_in_as(database, "mona", "marketing", PAGE))
    # A marketing user is pre-filled as marketing; the level is theirs to say.
    assert app.radio(key="sv_team").value == "marketing"
    assert app.radio(key="sv_level").value is None
    app.radio(key="sv_level").set_value("manager")
    _answer_everything(app, 2)
    app.radio(key="sv_aligned").set_value(5)
    app.button(key="sv_submit").click()
    run(app)
    assert "Saved your answers to Pulse now" in app.success[0].value
    saved = my_answer(database, Actor("mona", "marketing"), round_.id)
    assert saved is not None and (saved.team, saved.level, saved.changes) == ("marketing", "manager", 0)
    assert saved.scores["aligned"] == 5 and saved.scores["content_used"] == 2

    # The form comes back filled with what was saved; one change is one new answer in force.
    assert app.radio(key="sv_aligned").value == 5 and app.radio(key="sv_level").value == "manager"
    app.radio(key="sv_aligned").set_value(1)
    app.button(key="sv_submit").click()
    run(app)
    changed = my_answer(database, Actor("mona", "marketing"), round_.id)
    assert changed is not None and changed.scores["aligned"] == 1 and changed.changes == 1
    with database.connect() as connection:
        rows = connection.execute(
            text("SELECT count(*), sum(CASE WHEN superseded_at IS NULL THEN 1 ELSE 0 END) FROM survey_responses")
        ).one()
    assert tuple(rows) == (2, 1)  # the first answer is kept, superseded


def test_an_unanswered_statement_is_refused_and_nothing_is_saved(database: Engine) -> None:
    round_ = _open(database)
    app = run(signed_in_as(database, "sal", "sales", PAGE))
    app.radio(key="sv_level").set_value("individual_contributor")
    _answer_everything(app)
    app.radio(key="sv_content_used").set_value(None)
    app.button(key="sv_submit").click()
    run(app)
    assert "Not saved: 1 statements are unanswered" in app.error[0].value
    assert "Sales uses the content marketing produces." in app.error[0].value
    assert my_answer(database, Actor("sal", "sales"), round_.id) is None


def test_ops_open_and_close_a_round_others_cannot(database: Engine) -> None:
    exec_view = run(signed_in_as(database, "ed", "exec", PAGE))
    assert "No round is open" in exec_view.info[0].value
    assert not [e for e in exec_view.expander if "Run the rounds" in e.label]

    app = run(signed_in_as(database, "otto", "ops", PAGE))
    app.text_input(key="sv_open_name").input("Winter pulse")
    app.button(key="sv_open_submit").click()
    run(app)
    assert "Opened Winter pulse" in app.success[0].value
    opened = open_round_on(database, _today(database))
    assert opened is not None and opened.name == "Winter pulse"

    # Three colleagues answer; ops close the round early and its results appear at once.
    for name, level in (("a", "executive"), ("b", "manager"), ("c", "individual_contributor")):
        scores = {s.key: 3 for s in STATEMENTS}
        submit_answer(database, Actor(name, "sales"), opened.id, "sales", level, scores, today=_today(database))
    run(app)
    assert app.tabs[1].info[0].value.startswith("No round has closed yet")
    app.checkbox(key="sv_close_sure").check()
    run(app)
    app.button(key="sv_close").click()
    run(app)
    assert "Closed Winter pulse" in app.success[0].value
    people = next(metric for metric in app.metric if metric.label == "People who answered")
    assert people.value == "3"


def test_results_with_a_gap_and_a_filter_that_would_leave_two(database: Engine) -> None:
    _closed_round(
        database,
        [("marketing", "executive", 5)] * 2
        + [("sales", "executive", 5)]
        + [("marketing", "individual_contributor", 2)] * 2
        + [("sales", "individual_contributor", 2)] * 2
        + [("ops", "individual_contributor", 3)] * 2,
    )
    app = run(signed_in_as(database, "ed", "exec", PAGE))
    values = {metric.label: metric.value for metric in app.metric}
    # 9 people; executives all 5, individual contributors 2, 2, 2, 2, 3, 3: mean 14/6 = 2.33, a 2.7-point gap
    # on every area; ops (2) is withheld, and so the smallest other team (sales, 3) with it.
    assert values["People who answered"] == "9"
    assert values["“We're aligned”: executives"] == "100%"
    assert values["“We're aligned”: ICs"] == "0%"
    assert values["Gaps of a point or more"] == "8"
    assert "Perception gap" in app.error[0].value and "executives score 5.0" in app.error[0].value
    assert "individual contributors 2.3" in app.error[0].value

    app.selectbox(key="sv_view").set_value("Team: Ops")
    run(app)
    assert "fewer than 3 people answered" in app.warning[0].value
    assert not app.metric and not app.get("vega_lite_chart")
    # Sales has 3 people but showing them would give away ops (everyone minus marketing minus sales).
    app.selectbox(key="sv_view").set_value("Team: Sales")
    run(app)
    assert "fewer than 3 people answered" in app.warning[0].value
    app.selectbox(key="sv_view").set_value("Team: Marketing")
    run(app)
    assert {metric.label: metric.value for metric in app.metric}["People who answered"] == "4"


def test_the_sample_company_shows_the_gap_the_signs_and_three_actions(database: Engine) -> None:
    seed_sample_data(database)
    app = run(signed_in_as(database, "ed", "exec", PAGE))
    assert app.selectbox(key="sv_round").value.name == "Q3 2026 pulse"
    values = {metric.label: metric.value for metric in app.metric}
    assert values["“We're aligned”: executives"] == "80%"
    assert int(values["Gaps of a point or more"]) >= 7
    signs = app.tabs[2].markdown
    assert any("Recurring arguments about lead quality" in block.value for block in signs)
    assert any("Confirmed" in block.value for block in signs)
    plan = [block.value for block in app.tabs[3].markdown if block.value.startswith("#### ")]
    assert len(plan) == 3
    assert plan[0].startswith("#### 1. ")
    summary = app.get("download_button")[0]
    assert summary is not None
