"""The Sandbox page, driven with AppTest: starting a trial on the stored leads, moving a knob, taking the
recommended threshold, proposing it with its evidence (the value the slider shows, however fast it moved), gates
as percentages, trials staying private; and the month chart's spec, built without a server."""

from __future__ import annotations

import dataclasses

import pandas as pd
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from core.admin.seed import seed_sample_data
from core.definitions import versions
from core.permissions import Actor
from core.sandbox.outcome import active_knobs, curve, outcome
from core.sandbox.trials import trials
from tests.conftest import page_file, run, signed_in_as
from ui import theme
from ui.charts import sandbox as charts

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
    shown = [frame.value for frame in page.dataframe if "Figure" in frame.value.columns]
    assert shown and "MQLs per month" in list(shown[0]["Figure"])


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


def test_the_threshold_shown_is_the_one_counted_and_proposed_after_quick_changes(database: Engine) -> None:
    """The slider's own session state is the knobs: after several changes in a row (some without a run between
    them, as quick key presses arrive) the outcomes and the proposal use the value the slider shows."""
    seed_sample_data(database, with_survey=False)
    app = _start_stored_trial(database)
    trial = trials(database, Actor("otto", "ops"))[0]
    slider = f"sb_{trial.id}_score_threshold"
    app.slider(key=slider).set_value(64)
    run(app)
    app.slider(key=slider).set_value(70)
    run(app)
    app.slider(key=slider).set_value(66)
    app.slider(key=slider).set_value(64)
    run(app)
    app.slider(key=slider).set_value(71)
    run(app)
    app.slider(key=slider).set_value(64)
    run(app)
    shown = app.slider(key=slider).value
    assert shown == 64
    counted = outcome(
        database, Actor("otto", "ops"), trial.id, dataclasses.replace(active_knobs(database), score_threshold=64)
    )
    assert _metrics(app)["MQLs per month"] == f"{counted.mqls_per_month:,.0f}"
    app.button(key="sb_propose_submit").click()
    run(app)
    (proposed,) = [v for v in versions.versions(database) if v.state == "proposed"]
    assert proposed.rules["score_threshold"] == shown
    assert proposed.evidence is not None and proposed.evidence["knobs"]["score_threshold"] == shown


def test_gates_read_as_percentages(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    app = _start_stored_trial(database)
    trial = trials(database, Actor("otto", "ops"))[0]
    gate = app.slider(key=f"sb_{trial.id}_conversion_gate")
    assert gate.value == 30 and gate.proto.format == "%g%%"
    (table,) = [frame.value for frame in app.dataframe if "Note" in frame.value.columns]
    notes = list(table["Note"])
    assert "gate 30%" in notes
    # A gate moved on the page is the share the SLA proposal carries.
    gate.set_value(35)
    run(app)
    assert app.multiselect(key="sb_kinds").value == ["sla"]
    app.button(key="sb_propose_submit").click()
    run(app)
    (proposed,) = [v for v in versions.versions(database) if v.state == "proposed"]
    assert proposed.rules["conversion_gate"] == 0.35
    page_text = " ".join(str(element.value) for element in [*app.markdown, *app.caption, *app.success, *app.warning])
    assert "0.30" not in page_text and "0.35" not in page_text


def test_the_month_axis_has_one_tick_per_month_labelled_by_its_own_date() -> None:
    months = pd.date_range("2024-01-01", "2025-02-01", freq="MS")
    frame = pd.DataFrame(
        [
            {"month": month, "label": f"{month:%b %Y}", "rule": rule, "mqls": 10 + index, "sqls": 3}
            for index, month in enumerate(months)
            for rule in ("Definition in force", "Your knobs")
        ]
    )
    spec = charts.monthly_chart(frame, ("Definition in force", "Your knobs")).to_dict()
    x = spec["encoding"]["x"]
    labels = [f"{month:%b %Y}" for month in months]
    # A nominal axis over the buckets' own labels, in month order, none hidden for overlapping: every month of
    # the 14 has its tick (a time axis would put ticks between buckets and drop labels that collide).
    assert (x["field"], x["type"], x["sort"]) == ("label", "nominal", labels)
    assert x["axis"]["labelOverlap"] is False
    assert "timeUnit" not in x
    assert spec["encoding"]["color"]["scale"]["range"] == [theme.MUTED, theme.NEUTRAL]  # no red for a rule
