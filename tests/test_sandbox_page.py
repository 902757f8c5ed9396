"""The Sandbox page, driven with AppTest: starting a trial on the stored leads, moving a knob, taking the
recommended threshold, proposing it with its evidence, and trials staying private."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from core.admin.seed import seed_sample_data
from core.definitions import versions
from core.permissions import Actor
from core.sandbox.trials import active_knobs, curve, outcome, trials
from tests.conftest import page_file, run, signed_in_as

PAGE = page_file("sandbox.py")


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _start_stored_trial(database: Engine, username: str = "otto") -> AppTest:
    app = run(signed_in_as(database, username, "ops", PAGE))
    assert "You have no trial yet" in app.info[0].value
    app.text_input(key="sb_stored_name").input("Sample, last year")
    app.button(key="sb_stored_submit").click()
    return run(app)


def test_a_trial_on_the_stored_leads_moves_with_the_knobs(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    app = _start_stored_trial(database)
    assert "Started Sample, last year" in app.success[0].value
    mine = trials(database, Actor("otto", "ops"))
    assert [trial.name for trial in mine] == ["Sample, last year"]
    trial = mine[0]
    baseline = active_knobs(database)
    expected = outcome(database, Actor("otto", "ops"), trial.id, baseline)
    # Untouched knobs are the definitions in force: the page shows their outcome, and nothing to propose.
    assert _metrics(app)["MQLs per month"] == f"{expected.mqls_per_month:,.0f}"
    assert any("nothing to propose" in caption.value for caption in app.caption)

    app.slider(key=f"sb_{trial.id}_score_threshold").set_value(85)
    run(app)
    higher = dataclasses.replace(baseline, score_threshold=85)
    raised = outcome(database, Actor("otto", "ops"), trial.id, higher)
    assert _metrics(app)["MQLs per month"] == f"{raised.mqls_per_month:,.0f}"
    assert raised.mqls < expected.mqls
    assert _metrics(app)["SQLs lost"] == f"{raised.lost_sqls:,}"

    # The recommended threshold is the curve's; one click takes it.
    found = curve(database, Actor("otto", "ops"), trial.id, higher)
    assert found.recommended is not None
    assert f"**{found.recommended}** is the threshold" in app.success[-1].value
    app.button(key="sb_use_recommended").click()
    run(app)
    assert app.slider(key=f"sb_{trial.id}_score_threshold").value == found.recommended


def test_proposing_the_knobs_puts_a_version_with_evidence_up_for_sign_off(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    app = _start_stored_trial(database)
    trial = trials(database, Actor("otto", "ops"))[0]
    app.slider(key=f"sb_{trial.id}_score_threshold").set_value(70)
    app.number_input(key=f"sb_{trial.id}_sla_hours").set_value(2.0)
    run(app)
    assert app.multiselect(key="sb_kinds").value == ["mql", "sla"]
    app.button(key="sb_propose_submit").click()
    run(app)
    assert "Proposed MQL v2, SLA v2" in app.success[0].value
    proposed = {v.kind: v for v in versions.versions(database) if v.state == "proposed"}
    assert proposed["mql"].rules["score_threshold"] == 70 and proposed["sla"].rules["response_hours"] == 2.0
    evidence = proposed["mql"].evidence
    assert evidence is not None and evidence["trial"] == trial.describe()
    assert evidence["proposed"]["mqls"] < evidence["active_definition"]["mqls"]
    # The scoreboard's definitions are unchanged until both leads sign.
    assert versions.active(database, "mql").rules["score_threshold"] == 60  # type: ignore[union-attr]

    # The Definitions page shows the evidence beside the proposal.
    page = run(signed_in_as(database, "lena", "marketing_lead", page_file("definitions.py")))
    shown = [frame.value for frame in page.dataframe if "figure" in frame.value.columns]
    assert shown and "MQLs per month" in list(shown[0]["figure"])


def test_trials_are_private_and_a_marketing_user_cannot_upload(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    _start_stored_trial(database)
    other = run(signed_in_as(database, "mo", "marketing", PAGE))
    assert "You have no trial yet" in other.info[0].value
    assert other.radio(key="sb_source").options == ["Stored leads"]
    exec_view = run(signed_in_as(database, "ed", "exec", PAGE))
    assert "may not open this page" in exec_view.error[0].value


def test_a_second_trial_from_the_popover_is_shown_and_knobs_survive_a_switch(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    app = _start_stored_trial(database)
    first = trials(database, Actor("otto", "ops"))[0]
    app.slider(key=f"sb_{first.id}_score_threshold").set_value(80)
    run(app)
    # The popover's form starts another trial; the picker then shows it.
    app.text_input(key="sb_stored_name").input("Second look")
    app.button(key="sb_stored_submit").click()
    run(app)
    assert "Started Second look" in app.success[0].value
    second = trials(database, Actor("otto", "ops"))[0]
    assert app.selectbox(key="sb_trial").value == second.id
    # Back on the first trial, its knobs are as they were left.
    app.selectbox(key="sb_trial").set_value(first.id)
    run(app)
    assert app.slider(key=f"sb_{first.id}_score_threshold").value == 80


def test_a_size_range_that_ends_before_it_starts_is_explained(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    app = _start_stored_trial(database)
    trial = trials(database, Actor("otto", "ops"))[0]
    app.number_input(key=f"sb_{trial.id}_company_size_min").set_value(1000)
    app.toggle(key=f"sb_{trial.id}_size_limited").set_value(True)
    run(app)
    app.number_input(key=f"sb_{trial.id}_company_size_max").set_value(500)
    run(app)
    assert "company-size range starts (1000) above where it ends (500)" in app.error[0].value
