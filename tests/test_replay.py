"""Replaying an MQL rule on the hand-made company (tests/fixtures.py), counted by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from core.definitions.replay import replay
from core.imports.runs import import_csv
from tests.conftest import TESTER, csv_file
from tests.fixtures import load_fixture

JAN_FEB = (dt.date(2025, 1, 1), dt.date(2025, 2, 28))
# Only intent signals decide here: the fixture's leads carry no score.
DEMO_OR_CONTACT = {
    "score_threshold": 50,
    "intent_signals": ["demo_request", "contact_sales"],
    "icp_fit_required": False,
}


@pytest.fixture
def company(engine: Engine) -> Engine:
    load_fixture(engine)
    # L9 scored 80 but was never made an MQL; sales took it anyway (an SQL without an MQL).
    extra = "lead_id,created_at,source,score,sql_at\nL9,2025-01-08 08:00:00,webinar,80,2025-01-20 10:00:00\n"
    import_csv(engine, "leads", csv_file(extra), actor=TESTER)
    return engine


def test_replay_per_month_against_the_recorded_mqls(company: Engine) -> None:
    result = replay(company, DEMO_OR_CONTACT, *JAN_FEB)
    jan, feb = result.table.to_dict(orient="records")
    # January: L1–L7 and L9 created. Recorded MQLs L1–L6. The rule takes L1 (demo), L4 (contact) and
    # L9 (score 80); it drops L2, L3, L5, L6, none of which became an SQL or was won.
    assert {k: jan[k] for k in ("leads", "recorded", "would", "extra", "missing")} == {
        "leads": 8,
        "recorded": 6,
        "would": 3,
        "extra": 1,
        "missing": 4,
    }
    assert (jan["recorded_sql"], jan["would_sql"], jan["extra_sql"], jan["missing_sql"]) == (2, 3, 1, 0)
    assert (jan["recorded_won"], jan["would_won"], jan["missing_won"]) == (2, 2, 0)
    assert jan["recorded_conversion"] == pytest.approx(2 / 6) and jan["would_conversion"] == pytest.approx(1.0)
    # February: L8 (demo request), recorded and kept.
    assert (feb["leads"], feb["recorded"], feb["would"], feb["extra"], feb["missing"]) == (1, 1, 1, 0, 0)
    assert result.summary() == (
        "This rule would have cut MQL volume 43% (7 → 4) and raised MQL→SQL conversion from 43% to 100%: "
        "it adds 1 leads, of which 1 became SQLs, and drops 4 MQLs, of which 0 became SQLs and 0 were won."
    )


def test_the_icp_applies_when_the_rule_requires_fit(company: Engine) -> None:
    rules = {**DEMO_OR_CONTACT, "icp_fit_required": True}
    # L1 has 120 employees, L4 300, L8 800, L9 none: a 200+ ICP keeps L4 and L8 only.
    result = replay(company, rules, *JAN_FEB, icp={"company_size_min": 200})
    assert list(result.table["would"]) == [1, 1]
    # Without an ICP given and none active, fit cannot be checked and is not required.
    assert list(replay(company, rules, *JAN_FEB).table["would"]) == [3, 1]


def test_seniorities_and_an_empty_period(company: Engine) -> None:
    rules = {**DEMO_OR_CONTACT, "seniorities": ["vp"]}
    result = replay(company, rules, dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    assert list(result.table["would"]) == [0, 0, 0]  # the fixture records no seniority
    assert result.table.iloc[2]["recorded_conversion"] != result.table.iloc[2]["recorded_conversion"]  # NaN: no MQLs


def test_a_period_without_leads_counts_zero(company: Engine) -> None:
    result = replay(company, DEMO_OR_CONTACT, dt.date(2026, 7, 1), dt.date(2026, 9, 30), "quarter")
    assert list(result.table["leads"]) == [0] and result.totals["recorded"] == 0
    assert result.summary() == "This rule would have qualified 0 leads; none were recorded as MQLs."


def test_lists_match_whatever_the_case(company: Engine) -> None:
    rules = {**DEMO_OR_CONTACT, "intent_signals": ["DEMO_REQUEST", "Contact_Sales"]}
    assert list(replay(company, rules, *JAN_FEB).table["would"]) == [3, 1]
