"""Definitions: validated rules, the sign-off state machine by role, one active version per kind, the audit trail."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from streamlit.testing.v1 import AppTest

from core.admin.settings import update
from core.definitions import versions, wording
from core.definitions.rules import DefinitionError, validate_rules
from core.definitions.versions import (
    DefinitionConflict,
    active,
    approve,
    edit,
    propose,
    reject,
    submit,
)
from core.funnel.kpis import KpiQuery, kpi_table
from core.models import AuditEntry, DefinitionVersion
from core.permissions import Actor, PermissionDenied
from core.settings import SettingsError, current
from tests.conftest import page_file, run, signed_in_as
from tests.fixtures import load_fixture

MARKETING = Actor("mia", "marketing")
SALES = Actor("sol", "sales")
MARKETING_LEAD = Actor("morgan", "marketing_lead")
SALES_LEAD = Actor("sasha", "sales_lead")
EXEC = Actor("erin", "exec")
MQL_65 = {"score_threshold": 65, "seniorities": ["Manager", "vp"], "intent_signals": ["demo_request", " "]}


def story(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_key)
            .where(AuditEntry.entity == "definition")
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "rules", "message"),
    [
        ("icp", {"company_size_min": 500, "company_size_max": 50}, "starts \\(500\\) above where it ends \\(50\\)"),
        ("mql", {"seniorities": ["intern"]}, "unknown seniorities intern"),
        ("mql", {"score_threshold": 101}, "score_threshold"),
        ("sla", {"response_hours": 0}, "response_hours"),
        ("sla", {"conversion_gate": 1.5}, "conversion_gate"),
        ("stages", {"stages": [{"name": "Discovery"}, {"name": "discovery"}]}, "each stage name must appear once"),
        ("mql", {"threshold": 50}, "threshold"),
        ("budget", {}, "unknown definition kind 'budget'"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(engine: Engine, kind: str, rules: dict, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        propose(engine, MARKETING, kind, rules)
    assert versions.versions(engine) == []


def test_rules_are_stored_cleaned() -> None:
    stored = validate_rules("mql", MQL_65)
    assert stored["seniorities"] == ["manager", "vp"] and stored["intent_signals"] == ["demo_request"]
    assert stored["icp_fit_required"] is True  # defaults are written out, so a version says everything


def test_both_leads_approve_and_the_version_replaces_the_active_one(engine: Engine) -> None:
    first = propose(engine, MARKETING, "mql", {"score_threshold": 50}, "Score 50 or a demo request.")
    approve(engine, MARKETING_LEAD, first.id)
    assert versions.get(engine, first.id).state == "proposed"  # one side is not enough
    assert approve(engine, SALES_LEAD, first.id).state == "active"
    second = propose(engine, SALES, "mql", MQL_65, "Raise the bar.", based_on=first.id)
    assert second.number == 2 and active(engine, "mql") == versions.get(engine, first.id)
    approve(engine, SALES_LEAD, second.id)
    now_active = approve(engine, MARKETING_LEAD, second.id)
    assert (now_active.state, now_active.approved_by()) == ("active", {"marketing", "sales"})
    old = versions.get(engine, first.id)
    assert old.state == "superseded" and old.closed_at is not None
    assert active(engine, "mql").id == second.id  # type: ignore[union-attr]
    assert story(engine) == [
        ("mia", "propose", "mql v1"),
        ("morgan", "approve", "mql v1"),
        ("sasha", "approve", "mql v1"),
        ("sasha", "activate", "mql v1"),
        ("sol", "propose", "mql v2"),
        ("sasha", "approve", "mql v2"),
        ("morgan", "approve", "mql v2"),
        ("morgan", "supersede", "mql v1"),
        ("morgan", "activate", "mql v2"),
    ]


def test_an_edit_voids_the_sign_offs_of_the_old_text(engine: Engine) -> None:
    version = propose(engine, MARKETING, "sla", {"response_hours": 4})
    approve(engine, MARKETING_LEAD, version.id)
    edited = edit(engine, SALES, version.id, {"response_hours": 2}, "Two hours.")
    assert (edited.revision, edited.approved_by()) == (2, set())
    approve(engine, SALES_LEAD, version.id)
    assert versions.get(engine, version.id).state == "proposed"  # marketing signed revision 1 only
    assert approve(engine, MARKETING_LEAD, version.id).state == "active"
    assert active(engine, "sla").rules["response_hours"] == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (lambda e, v: propose(e, EXEC, "mql", {}), PermissionDenied),
        (lambda e, v: approve(e, MARKETING, v), PermissionDenied),
        (lambda e, v: approve(e, Actor("olu", "ops"), v), PermissionDenied),
        (lambda e, v: reject(e, SALES, v, "no"), PermissionDenied),
        (lambda e, v: reject(e, SALES_LEAD, v, "   "), DefinitionError),
        (lambda e, v: edit(e, EXEC, v, {}, ""), PermissionDenied),
        (lambda e, v: submit(e, MARKETING, v), DefinitionError),  # already proposed, not a draft
    ],
)
def test_forbidden_steps_change_nothing(
    engine: Engine, step: Callable[[Engine, int], object], expected: type[Exception]
) -> None:
    version = propose(engine, MARKETING, "mql", {})
    before = (versions.versions(engine), story(engine))
    with pytest.raises(expected):
        step(engine, version.id)
    assert (versions.versions(engine), story(engine)) == before


def test_rejected_and_decided_versions_are_closed(engine: Engine) -> None:
    version = propose(engine, MARKETING, "icp", {"company_size_min": 50})
    approve(engine, MARKETING_LEAD, version.id)
    with pytest.raises(DefinitionError, match="already signed"):
        approve(engine, MARKETING_LEAD, version.id)
    rejected = reject(engine, SALES_LEAD, version.id, "Mid-market only; 50 is too small.")
    assert rejected.state == "rejected" and rejected.signoffs[-1].comment == "Mid-market only; 50 is too small."
    for step in (
        lambda: approve(engine, SALES_LEAD, version.id),
        lambda: edit(engine, MARKETING, version.id, {}, ""),
        lambda: reject(engine, MARKETING_LEAD, version.id, "again"),
    ):
        with pytest.raises(DefinitionError, match="is rejected"):
            step()
    assert active(engine, "icp") is None  # a rejected proposal never becomes what anything counts by


def test_a_draft_is_submitted_before_it_is_signed(engine: Engine) -> None:
    draft = propose(
        engine, MARKETING, "stages", {"stages": [{"name": "Discovery", "entry": "meeting held"}]}, draft=True
    )
    with pytest.raises(DefinitionError, match="is draft"):
        approve(engine, MARKETING_LEAD, draft.id)
    assert submit(engine, SALES, draft.id).state == "proposed"


def test_the_database_itself_keeps_one_active_version_per_kind(engine: Engine) -> None:
    row = {"kind": "sla", "state": "active", "rules": {}, "prose": "", "author": "x", "revision": 1}
    with engine.begin() as connection:
        connection.execute(insert(DefinitionVersion).values(number=1, **row))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(DefinitionVersion).values(number=2, **row))


def run_together(*steps: Callable[[], object]) -> list[object]:
    """Runs the steps in threads released at the same instant; returns each result or exception."""
    barrier = threading.Barrier(len(steps))
    results: list[object] = [None] * len(steps)

    def worker(index: int, step: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = step()
        except Exception as exc:  # the test inspects what each side got
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i, step)) for i, step in enumerate(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_sign_offs(engine: Engine) -> None:
    for _ in range(5):  # a race that passes once may pass by luck
        # Both leads sign the same proposal at once: both sign-offs count and it becomes active once.
        version = propose(engine, MARKETING, "sla", {"response_hours": 3})
        results = run_together(
            lambda v=version.id: approve(engine, MARKETING_LEAD, v),
            lambda v=version.id: approve(engine, SALES_LEAD, v),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        assert versions.get(engine, version.id).state == "active"
        # Two proposals of one kind get their final approval at once: they take turns, so the later one
        # supersedes the earlier, as it would a minute later; nobody is shown an error.
        one, two = (propose(engine, MARKETING, "mql", {"score_threshold": t}) for t in (55, 60))
        approve(engine, MARKETING_LEAD, one.id)
        approve(engine, MARKETING_LEAD, two.id)
        results = run_together(
            lambda a=one.id: approve(engine, SALES_LEAD, a), lambda b=two.id: approve(engine, SALES_LEAD, b)
        )
        assert all(isinstance(r, versions.VersionInfo) for r in results), results
        states = sorted(versions.get(engine, v.id).state for v in (one, two))
        assert states == ["active", "superseded"], states
        with engine.connect() as connection:
            actives = (
                connection.execute(select(DefinitionVersion.kind).where(DefinitionVersion.state == "active"))
                .scalars()
                .all()
            )
        assert sorted(actives) == ["mql", "sla"]
        with engine.begin() as connection:
            connection.execute(DefinitionVersion.__table__.update().values(state="superseded"))  # type: ignore[attr-defined]


def test_concurrent_proposals_are_numbered_one_after_another(engine: Engine) -> None:
    results = run_together(
        *(lambda t=t: propose(engine, MARKETING, "mql", {"score_threshold": t}) for t in range(50, 56))
    )
    assert all(isinstance(r, versions.VersionInfo) for r in results), results
    assert sorted(r.number for r in results) == [1, 2, 3, 4, 5, 6]  # type: ignore[union-attr]


def test_a_signed_sla_changes_the_numbers_and_is_due_for_review(engine: Engine) -> None:
    load_fixture(engine)
    january = KpiQuery(dt.date(2025, 1, 1), dt.date(2025, 1, 31), "range")
    assert kpi_table(engine, january).iloc[0]["sla_compliance"] == pytest.approx(3 / 6)  # 4 business hours
    version = propose(engine, SALES, "sla", {"response_hours": 1, "review_interval_days": 30})
    approve(engine, MARKETING_LEAD, version.id)
    # Proposed, not active: nothing is counted by it yet.
    assert kpi_table(engine, january).iloc[0]["sla_compliance"] == pytest.approx(3 / 6)
    signed = approve(engine, SALES_LEAD, version.id, now=dt.datetime(2026, 1, 10, 12))
    # Within one business hour: L1 (1 h) and L4 (before it was due); L2's 2 hours over a weekend now breach.
    row = kpi_table(engine, january).iloc[0]
    assert (row["sla_hours"], row["sla_compliance"]) == (1, pytest.approx(2 / 6))
    review = versions.sla_review(engine)
    assert review is not None and review.version.id == signed.id and review.due == dt.date(2026, 2, 9)
    assert not review.overdue(dt.date(2026, 2, 9)) and review.overdue(dt.date(2026, 2, 10))


def test_a_sign_off_or_edit_of_a_revision_someone_replaced_is_refused(engine: Engine) -> None:
    version = propose(engine, MARKETING, "mql", {"score_threshold": 60})
    seen = version.revision
    edit(engine, MARKETING, version.id, {"score_threshold": 5}, "", revision=seen)
    with pytest.raises(DefinitionConflict, match="edited since you read it \\(now revision 2\\)"):
        approve(engine, SALES_LEAD, version.id, revision=seen)
    with pytest.raises(DefinitionConflict):
        reject(engine, SALES_LEAD, version.id, "too low", revision=seen)
    with pytest.raises(DefinitionConflict):
        edit(engine, SALES, version.id, {"score_threshold": 70}, "", revision=seen)
    assert versions.get(engine, version.id).signoffs == ()
    approve(engine, SALES_LEAD, version.id, revision=2)
    # One decision per side: the same lead cannot also reject what they approved.
    with pytest.raises(DefinitionError, match="already signed"):
        reject(engine, SALES_LEAD, version.id, "changed my mind", revision=2)


def test_sla_hours_and_gates_are_not_admin_settings(engine: Engine) -> None:
    with pytest.raises(SettingsError, match="conversion_gate, sla_hours come from the signed SLA definition"):
        update(engine, {"sla_hours": 1, "conversion_gate": 0.5, "timezone": "Europe/Berlin"}, actor=Actor("a", "admin"))
    assert current(engine).timezone == "UTC"


# --- the definitions as people read them, and the page -------------------------------------------------------


def test_two_versions_compare_in_the_words_people_use() -> None:
    left = validate_rules("sla", {})
    right = validate_rules("sla", {"conversion_gate": 0.25, "business_hours": False, "monthly_mql_target": 1200})
    rows = {rule: (a, b, changed) for rule, a, b, changed in wording.diff("sla", left, right)}
    assert rows["MQL → SQL gate"] == ("30%", "25%", True)
    assert rows["Counted in business hours"] == ("yes", "no", True)
    assert rows["Monthly MQL target"] == ("from the targets table", "1,200", True)
    assert rows["Response time (hours)"] == ("4", "4", False)
    mql = {rule: (a, b) for rule, a, b, _ in wording.diff("mql", validate_rules("mql", {}), MQL_65)}
    assert mql["Must fit the ICP"] == ("yes", "yes")
    assert mql["Seniorities"] == ("any", "Manager, VP")
    assert mql["Intent signals"] == ("none", "Demo request")
    shown = [value for row in wording.diff("icp", {}, {"company_size_min": 50}) for value in row[:3]]
    assert "None" not in shown and shown[:3] == ["Smallest company (employees)", "any", "50"]


def test_pipeline_stages_read_as_one_ordered_list() -> None:
    rules = {"stages": [{"name": "Discovery", "entry": "a call is held"}, {"name": "Proposal", "exit": "signed"}]}
    assert wording.describe("stages", rules) == [
        "Discovery — enters when a call is held",
        "Proposal; leaves when signed",
    ]
    (row,) = wording.diff("stages", rules, rules)
    assert row[1] == "Discovery — enters when a call is held → Proposal; leaves when signed"


def test_the_history_names_people_and_says_what_each_sign_off_was(engine: Engine) -> None:
    version = propose(engine, MARKETING, "icp", {"company_size_min": 50})
    approve(engine, MARKETING_LEAD, version.id)
    reject(engine, SALES_LEAD, version.id, "Too small.")
    names = {"mia": "Mia Marketing", "morgan": "Morgan Lee"}
    ((label, line),) = wording.history(versions.versions(engine), names)
    day = f"{version.created_at:%d %b %Y}"
    assert label == "ICP v1"
    assert line == (
        f"rejected · proposed by Mia Marketing on {day} · closed {day} · "
        "Morgan Lee (marketing) approved revision 1; sasha (sales) rejected revision 1: Too small."
    )


def rule_form_app(kind: str, rules: dict) -> None:
    import streamlit as st

    from ui.panels.definitions import RULE_FORMS

    with st.form("rules"):
        st.session_state["returned"] = RULE_FORMS[kind](rules, "test")
        st.form_submit_button("Save")


@pytest.mark.parametrize(
    ("kind", "rules"),
    [
        ("icp", {"company_size_min": 50, "company_size_max": 500, "industries": ["SaaS"], "countries": ["DE"]}),
        ("mql", MQL_65),
        ("sql", {}),
        ("stages", {"stages": [{"name": "Discovery", "entry": "a call is held", "exit": ""}]}),
        ("sla", {"monthly_mql_target": 1200, "conversion_gate": 0.25, "business_hours": False}),
    ],
)
def test_each_rule_form_gives_back_the_rules_it_starts_from(kind: str, rules: dict) -> None:
    stored = validate_rules(kind, rules)
    app = AppTest.from_function(rule_form_app, args=(kind, stored), default_timeout=30).run()
    assert not app.exception
    assert validate_rules(kind, app.session_state["returned"]) == stored


def test_the_page_keeps_the_tab_a_person_signed_on(database: Engine) -> None:
    version = propose(database, MARKETING, "mql", {"score_threshold": 65})
    app = signed_in_as(database, "sasha", "sales_lead", page_file("definitions.py"))
    app.session_state["definitions_tab"] = "Open proposals"  # where the person clicked
    run(app)
    app.button(key=f"approve_{version.id}").click()
    run(app)
    assert app.success[0].value == "Approved MQL v1 for sales; the other lead signs next."
    assert app.session_state["definitions_tab"] == "Open proposals"
    (tabs,) = [node for node in app.main.children.values() if node.type == "tab_container"]
    assert tabs.proto.tab_container.default_tab_index == 1
