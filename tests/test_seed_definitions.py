"""The sample company's signed definitions (sample_data/definitions.yaml), put in force by `python -m core seed`.

Seeding goes through the real propose and sign-off workflow, leaves any kind someone already wrote a version
of alone, changes nothing on a re-run, and signs an SLA equal to the app's defaults, so no KPI moves.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine, func, select

from core.admin.seed import DEFINITIONS_FILE, SAMPLE_DIR, SEED_ORDER, seed_sample_data
from core.cli import main
from core.definitions import versions
from core.definitions.rules import KINDS, SlaRules, validate_rules
from core.funnel.kpis import KpiQuery, kpi_table
from core.models import AuditEntry, DefinitionSignoff, DefinitionVersion, Setting
from core.permissions import Actor
from core.settings import OrgSettings, current
from tests.conftest import snapshot
from tests.fixtures import FILES

SAMPLE_DEFINITIONS = SAMPLE_DIR / DEFINITIONS_FILE
# The SLA rule and the organisation setting it becomes when signed (PRODUCT.md, Definitions and the SLA).
SLA_SETTINGS = {
    "response_hours": "sla_hours",
    "business_hours": "sla_business_hours",
    "min_touch_attempts": "min_touch_attempts",
    "min_touch_days": "min_touch_days",
    "conversion_gate": "conversion_gate",
    "rejection_gate": "rejection_gate",
    "review_interval_days": "review_interval_days",
}


def the_file() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(SAMPLE_DEFINITIONS.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture
def small_company(tmp_path: Path) -> Path:
    """The hand-made fixture company's five CSVs with Northwind's definitions file next to them: fast to seed."""
    for kind, content in FILES.items():
        (tmp_path / f"{kind}.csv").write_text(content, encoding="utf-8")
    shutil.copy(SAMPLE_DEFINITIONS, tmp_path / DEFINITIONS_FILE)
    return tmp_path


def counts(engine: Engine) -> dict[str, Any]:
    """Everything seeding the definitions writes: versions, sign-offs, their audit entries and the settings."""
    with engine.connect() as connection:
        audited = connection.execute(
            select(AuditEntry.entity, func.count()).group_by(AuditEntry.entity).order_by(AuditEntry.entity)
        ).all()
        return {
            "versions": connection.scalar(select(func.count()).select_from(DefinitionVersion)),
            "signoffs": connection.scalar(select(func.count()).select_from(DefinitionSignoff)),
            "audit": {entity: count for entity, count in audited},
            "settings": connection.execute(select(Setting.key, Setting.value, Setting.updated_at)).all(),
        }


# --- the file -------------------------------------------------------------------------------------------------------


def test_the_file_has_every_kind_in_stored_form_with_prose() -> None:
    document = the_file()
    assert list(document) == list(KINDS)
    for kind, entry in document.items():
        assert set(entry) == {"rules", "prose"}, kind
        # Written out in full, so that what the file says is exactly what is stored.
        assert validate_rules(kind, entry["rules"]) == entry["rules"], kind
        assert len(entry["prose"].split()) >= 20, kind


def test_the_definitions_tell_the_sample_story() -> None:
    document = the_file()
    icp, mql, sla = document["icp"]["rules"], document["mql"]["rules"], document["sla"]["rules"]
    assert icp["company_size_min"] == 50  # the spring e-book's micro companies fall outside
    assert mql["icp_fit_required"] is False  # the targeting gap the data exposes
    assert mql["score_threshold"] == 60
    assert set(mql["intent_signals"]) == {"demo_request", "pricing_page_3plus"}
    defaults = OrgSettings()
    assert {rule: sla[rule] for rule in SLA_SETTINGS} == {
        rule: getattr(defaults, setting) for rule, setting in SLA_SETTINGS.items()
    }
    assert sla["monthly_mql_target"] is None  # the targets table keeps setting the monthly target
    # Marketing's rule as the data records it: exactly the leads with an mql_at, and the ICP keeps most SQLs.
    leads = pd.read_csv(
        SAMPLE_DIR / "leads.csv", usecols=["company_size", "score", "intent_signal", "mql_at", "sql_at"]
    )
    rule = (leads["score"] >= mql["score_threshold"]) | leads["intent_signal"].isin(mql["intent_signals"])
    assert (rule == leads["mql_at"].notna()).all()
    accepted = leads[leads["sql_at"].notna()]
    fits = accepted["company_size"] >= icp["company_size_min"]
    if icp["company_size_max"] is not None:
        fits &= accepted["company_size"] <= icp["company_size_max"]
    assert fits.mean() >= 0.8


# --- seeding --------------------------------------------------------------------------------------------------------


def test_seed_puts_one_signed_version_of_each_kind_in_force(engine: Engine, small_company: Path) -> None:
    seeded = seed_sample_data(engine, small_company)
    assert [result.kind for result in seeded] == list(SEED_ORDER)
    assert seeded.definitions is not None
    assert [version.kind for version in seeded.definitions.put_in_force] == list(KINDS)
    assert seeded.definitions.summary() == "definitions: put icp v1, mql v1, sql v1, stages v1, sla v1 in force"
    document = the_file()
    for kind in KINDS:
        (version,) = versions.versions(engine, kind)
        assert (version.state, version.number, version.author) == ("active", 1, "ops")
        assert version.rules == document[kind]["rules"]
        assert version.prose == document[kind]["prose"].strip()
        assert version.approved_by() == {"marketing", "sales"}
        assert {(s.side, s.signer, s.decision) for s in version.signoffs} == {
            ("marketing", "marketing_lead", "approve"),
            ("sales", "sales_lead", "approve"),
        }
        assert versions.active(engine, kind) == version
    with engine.connect() as connection:
        story = connection.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_key)
            .where(AuditEntry.entity == "definition")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(row) for row in story] == [
        step
        for kind in KINDS
        for step in (
            ("ops", "propose", f"{kind} v1"),
            ("marketing_lead", "approve", f"{kind} v1"),
            ("sales_lead", "approve", f"{kind} v1"),
            ("sales_lead", "activate", f"{kind} v1"),
        )
    ]
    # The signed SLA is in force with the values the app counted by before it.
    assert current(engine) == OrgSettings()
    review = versions.sla_review(engine)
    assert review is not None and review.version.kind == "sla"


def test_a_second_seed_changes_nothing(engine: Engine, small_company: Path) -> None:
    seed_sample_data(engine, small_company)
    before, rows = counts(engine), snapshot(engine)
    again = seed_sample_data(engine, small_company)
    assert again.definitions is not None
    assert again.definitions.put_in_force == ()
    assert again.definitions.already_present == KINDS
    assert again.definitions.summary() == "definitions: already present (icp, mql, sql, stages, sla), left alone"
    after, now = counts(engine), snapshot(engine)
    assert before["versions"] == len(KINDS) and before["signoffs"] == 2 * len(KINDS)
    assert before["audit"]["definition"] == 4 * len(KINDS) and before["audit"]["settings"] == 1
    # Each re-import is recorded (an import run and its audit entry) even when it changes nothing; nothing else is.
    assert after["audit"] == {
        entity: count + (1 if entity in SEED_ORDER else 0) for entity, count in before["audit"].items()
    }
    assert {**after, "audit": None} == {**before, "audit": None}
    assert {table: now[table] for table in now if table not in ("import_runs", "audit_log")} == {
        table: rows[table] for table in rows if table not in ("import_runs", "audit_log")
    }


@pytest.mark.parametrize("state", ["proposed", "draft", "rejected", "active"])
def test_a_kind_someone_already_wrote_is_left_alone(engine: Engine, small_company: Path, state: str) -> None:
    marketing = Actor("mia", "marketing")
    theirs = versions.propose(engine, marketing, "mql", {"score_threshold": 75}, "Ours.", draft=state == "draft")
    if state == "rejected":
        theirs = versions.reject(engine, Actor("sasha", "sales_lead"), theirs.id, "Too strict.")
    elif state == "active":
        versions.approve(engine, Actor("morgan", "marketing_lead"), theirs.id)
        theirs = versions.approve(engine, Actor("sasha", "sales_lead"), theirs.id)
    assert theirs.state == state
    seeded = seed_sample_data(engine, small_company)
    assert seeded.definitions is not None
    assert seeded.definitions.already_present == ("mql",)
    assert [version.kind for version in seeded.definitions.put_in_force] == ["icp", "sql", "stages", "sla"]
    assert seeded.definitions.summary() == (
        "definitions: put icp v1, sql v1, stages v1, sla v1 in force; mql already present, left alone"
    )
    assert versions.versions(engine, "mql") == [versions.get(engine, theirs.id)]
    assert versions.get(engine, theirs.id) == theirs  # not signed, superseded or edited
    active_mql = versions.active(engine, "mql")
    assert (active_mql.id if active_mql else None) == (theirs.id if state == "active" else None)
    for kind in ("icp", "sql", "stages", "sla"):
        assert [version.state for version in versions.versions(engine, kind)] == ["active"]


def test_seed_without_definitions_and_a_folder_without_the_file(engine: Engine, small_company: Path) -> None:
    skipped = seed_sample_data(engine, small_company, with_definitions=False)
    assert skipped.definitions is None and skipped.summaries()[-1].startswith("targets.csv")
    assert versions.versions(engine) == []
    (small_company / DEFINITIONS_FILE).unlink()
    without = seed_sample_data(engine, small_company)
    assert without.definitions is not None and without.definitions.put_in_force == ()
    assert without.definitions.summary().startswith("definitions: none seeded")
    assert versions.versions(engine) == []


def test_a_bad_definitions_file_is_refused_before_anything_is_written(engine: Engine, small_company: Path) -> None:
    document = the_file()
    document["icp"]["rules"]["company_size_min"] = 500
    document["icp"]["rules"]["company_size_max"] = 50
    (small_company / DEFINITIONS_FILE).write_text(yaml.safe_dump(document), encoding="utf-8")
    empty = snapshot(engine)
    with pytest.raises(ValueError, match="company-size range starts"):
        seed_sample_data(engine, small_company)
    assert snapshot(engine) == empty


def test_the_cli_says_what_it_did(tmp_path: Path, small_company: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["--database-url", url, "seed", "--dir", str(small_company)]) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[-1] == "definitions: put icp v1, mql v1, sql v1, stages v1, sla v1 in force"
    assert main(["--database-url", url, "seed", "--dir", str(small_company)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "definitions: already present (icp, mql, sql, stages, sla), left alone"
    )


# --- the numbers ----------------------------------------------------------------------------------------------------


def test_the_signed_sla_changes_no_kpi_of_the_sample_company(engine: Engine) -> None:
    """The committed sample, seeded without definitions and then with them: the same KPI table, to the digit."""
    october = KpiQuery(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "month", as_of=dt.datetime(2026, 11, 1))
    by_owner = KpiQuery(october.first_day, october.last_day, "month", "owner", as_of=october.as_of)
    data_only = seed_sample_data(engine, with_definitions=False)
    assert data_only.definitions is None and versions.versions(engine) == []
    before = [kpi_table(engine, query) for query in (october, by_owner)]
    with engine.connect() as connection:
        response_times = connection.exec_driver_sql(
            "SELECT lead_id, response_minutes, sla_due_at FROM leads ORDER BY lead_id"
        ).all()

    seeded = seed_sample_data(engine)
    assert seeded.definitions is not None and len(seeded.definitions.put_in_force) == len(KINDS)
    sla = versions.active(engine, "sla")
    assert sla is not None
    settings = current(engine)
    assert settings == OrgSettings()
    signed = SlaRules.model_validate(sla.rules)
    assert {setting: getattr(settings, setting) for setting in SLA_SETTINGS.values()} == {
        setting: getattr(signed, rule) for rule, setting in SLA_SETTINGS.items()
    }
    after = [kpi_table(engine, query) for query in (october, by_owner)]
    for was, now in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(was, now)
    assert before[0].loc[0, "mqls"] > 0 and before[0].loc[0, "sla_hours"] == pytest.approx(4)
    with engine.connect() as connection:
        assert (
            connection.exec_driver_sql("SELECT lead_id, response_minutes, sla_due_at FROM leads ORDER BY lead_id").all()
            == response_times
        )
