"""The threshold sandbox (core/sandbox/): trials, knobs, outcomes, the curve and proposals, counted by hand.

The hand-made file below has twelve leads in January and February 2025 (UTC, business hours Mon–Fri
09:00–17:00, the defaults). Every expected number is worked out in the comments beside it.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, inspect, select, text

from core.admin import settings
from core.definitions import versions
from core.formatting import MISSING
from core.imports.mapping import FieldMapping, Mapping, SkipRule, load_preset
from core.imports.runs import ImportRefused, import_csv
from core.models import AuditEntry, SandboxTrial, utcnow
from core.permissions import Actor, PermissionDenied
from core.sandbox import trials
from core.sandbox.outcome import (
    Knobs,
    active_knobs,
    comparison,
    curve,
    headlines,
    knob_values,
    knobs_from,
    monthly_comparison,
    outcome,
)
from core.sandbox.proposals import changed_kinds, propose_from_trial
from core.sandbox.trials import SandboxError
from tests.conftest import TESTER, csv_file

OPS = Actor("olga", "ops")
OTHER = Actor("oscar", "ops")
MARKETING = Actor("mia", "marketing")
EXEC = Actor("ed", "exec")
MARKETING_LEAD = Actor("mona", "marketing_lead")
SALES_LEAD = Actor("sal", "sales_lead")
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "hubspot_contacts_export.csv"
PRIVATE_TABLES = {"sandbox_trials", "sandbox_leads", "audit_log"}

HEADER = (
    "lead_id,created_at,source,company_size,seniority,score,intent_signal,"
    "mql_at,sql_at,rejected_at,first_response_at,owner"
)
# In created_at order, so that a stored trial copies them in the same order (rows 2..13 of the file).
# 6 Jan 2025 is a Monday; 10 Jan a Friday; 3 Feb and 10 Feb Mondays.
ROWS = [
    # L1: MQL Mon 10:00, answered 11:30 = 90 business and calendar minutes; SQL.
    "L1,2025-01-06 09:00,web,50,manager,80,,2025-01-06 10:00,2025-01-08 10:00,,2025-01-06 11:30,ann",
    # L2: answered 15:00 = 300 minutes both ways (breaches 4 h); rejected.
    "L2,2025-01-06 09:30,web,200,director,70,,2025-01-06 10:00,,2025-01-09 10:00,2025-01-06 15:00,bob",
    # L6: scores 55 but was never an MQL: qualifies under 50, is not judged on the SLA.
    "L6,2025-01-06 12:00,web,100,manager,55,,,,,,",
    # L4: score 40 with a demo request, an SQL: lost at threshold 50, kept when demo_request is an intent signal.
    "L4,2025-01-07 10:00,web,20,ic,40,demo_request,2025-01-07 11:00,2025-01-09 10:00,,2025-01-07 12:00,cy",
    # L5: score 30, rejected: a rejection the threshold-50 rule saves.
    "L5,2025-01-07 10:30,web,30,ic,30,,2025-01-07 11:00,,2025-01-08 10:00,2025-01-07 11:15,bob",
    # L7: no MQL; fay's response to it is no MQL's answer, so she is no responder.
    "L7,2025-01-08 09:00,web,10,ic,10,,,,,2025-01-08 10:00,fay",
    # L3: MQL Fri 16:00, answered Mon 10:00 = 60 + 60 = 120 business minutes, 66 h = 3960 calendar minutes; SQL.
    "L3,2025-01-10 15:00,web,500,vp,60,,2025-01-10 16:00,2025-01-15 10:00,,2025-01-13 10:00,ann",
    # L8: answered after 180 minutes both ways; SQL.
    "L8,2025-02-03 09:00,web,1000,cxo,90,pricing_page,2025-02-03 10:00,2025-02-05 10:00,,2025-02-03 13:00,dee",
    # L9: MQL Mon 3 Feb 10:00, never answered: waits until as_of (Mon 10 Feb 17:30): 420 + 4 × 480 + 480 = 2820
    # business minutes, 7 days 7.5 h = 10530 calendar minutes. eve never answered: no responder.
    "L9,2025-02-03 09:30,web,250,director,65,,2025-02-03 10:00,,,,eve",
    # L12: score exactly 50; answered after exactly 240 minutes (meets 4 h); rejected.
    "L12,2025-02-04 11:00,web,5000,vp,50,,2025-02-04 11:00,,2025-02-06 10:00,2025-02-04 15:00,ann",
    # L10: no size, no seniority; MQL Mon 10 Feb 16:00, unanswered: 60 business and 90 calendar minutes by as_of.
    "L10,2025-02-10 09:00,web,,,75,,2025-02-10 16:00,,,,",
    # L11: the latest moment in the file (as_of); score 20 with the intent signal spelled in capitals.
    "L11,2025-02-10 17:30,web,15,manager,20,DEMO_REQUEST,,,,,",
]
LEADS_CSV = "\n".join([HEADER, *ROWS]) + "\n"
AS_OF = dt.datetime(2025, 2, 10, 17, 30)
FIRST_DAY, LAST_DAY = dt.date(2025, 1, 6), dt.date(2025, 2, 10)


def upload(engine: Engine, actor: Actor = OPS, content: str = LEADS_CSV, name: str = "Hand-made") -> trials.TrialInfo:
    return trials.upload_trial(engine, actor, name, csv_file(content, "hand.csv"))


@pytest.fixture
def trial(engine: Engine) -> trials.TrialInfo:
    return upload(engine)


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def sandbox_rows(engine: Engine, trial_id: int | None = None) -> int:
    if trial_id is None:
        return count(engine, "SELECT COUNT(*) FROM sandbox_leads")
    return count(engine, "SELECT COUNT(*) FROM sandbox_leads WHERE trial_id = :t", t=trial_id)


def trial_audit(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as connection:
        return [
            (row.actor, row.action, row.entity_key)
            for row in connection.execute(
                select(AuditEntry).where(AuditEntry.entity == "sandbox_trial").order_by(AuditEntry.id)
            )
        ]


def shared_tables(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the sandbox's own and the audit log, in a fixed order."""
    dump = {}
    with engine.connect() as connection:
        for table in sorted(inspect(connection).get_table_names()):
            if table in PRIVATE_TABLES:
                continue
            rows = connection.execute(text(f"SELECT * FROM {table}")).all()
            dump[table] = sorted((tuple(row) for row in rows), key=repr)
    return dump


def leads_of(engine: Engine, trial_id: int) -> list[tuple[object, ...]]:
    """A trial's rows without the trial id, in row order."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT * FROM sandbox_leads WHERE trial_id = :t ORDER BY row_no"), {"t": trial_id}
        ).mappings()
        return [tuple(value for key, value in row.items() if key != "trial_id") for row in rows]


# ------------------------------------------------------------------ the trial and its outcome


def test_an_upload_makes_a_private_trial_of_the_file(engine: Engine, trial: trials.TrialInfo) -> None:
    assert (trial.owner, trial.name, trial.source, trial.file_name, trial.rows) == (
        "olga",
        "Hand-made",
        "upload",
        "hand.csv",
        12,
    )
    assert (trial.first_day, trial.last_day) == (FIRST_DAY, LAST_DAY)
    assert trial.as_of == AS_OF  # the latest timestamp anywhere in the file (L11's created_at)
    assert trial.describe() == "Hand-made (12 leads, 06 Jan 2025 – 10 Feb 2025)"
    assert sandbox_rows(engine, trial.id) == 12
    assert [t.id for t in trials.trials(engine, OPS)] == [trial.id]
    assert trial_audit(engine) == [("olga", "create", str(trial.id))]


def test_outcome_counts_by_hand(engine: Engine, trial: trials.TrialInfo) -> None:
    result = outcome(engine, OPS, trial.id, Knobs())
    # Score ≥ 50 (no ICP limits set): L1 80, L2 70, L6 55, L3 60, L8 90, L9 65, L12 50, L10 75 = 8 MQLs.
    assert (result.leads, result.mqls) == (12, 8)
    # SQLs among them: L1, L3, L8. Rejected: L2, L12.
    assert (result.sqls, result.rejected) == (3, 2)
    assert result.conversion == pytest.approx(3 / 8)
    assert result.rejection_share == pytest.approx(2 / 5)
    # Left out: L4 (40, an SQL) is lost; L5 (30, rejected) is a rejection saved. L7, L11 neither.
    assert (result.lost_sqls, result.saved_rejections) == (1, 1)
    # January: L1, L2, L6, L3 (SQLs L1, L3); February: L8, L9, L12, L10 (SQL L8).
    assert result.months == 2
    assert result.mqls_per_month == pytest.approx(4.0)
    expected = pd.DataFrame({"month": [dt.date(2025, 1, 1), dt.date(2025, 2, 1)], "mqls": [4, 4], "sqls": [2, 1]})
    pd.testing.assert_frame_equal(result.monthly.reset_index(drop=True), expected, check_dtype=False)
    assert result.label == "Your knobs"


def test_sla_in_business_hours(engine: Engine, trial: trials.TrialInfo) -> None:
    result = outcome(engine, OPS, trial.id, Knobs(sla_hours=4, sla_business_hours=True))
    # Judged: the rule's MQLs that were MQLs (L6 was not). Met (≤ 240): L1 90, L3 120, L8 180, L12 240.
    # Breached: L2 300, L9 unanswered for 2820. L10 has waited 60: pending, neither.
    assert (result.sla_met, result.sla_breached) == (4, 2)
    assert result.sla_compliance == pytest.approx(4 / 6)
    assert (result.sla_hours, result.sla_business_hours) == (4, True)


def test_sla_in_calendar_hours(engine: Engine, trial: trials.TrialInfo) -> None:
    result = outcome(engine, OPS, trial.id, Knobs(sla_hours=4, sla_business_hours=False))
    # L3 meets 4 business hours (120) but not 4 calendar hours (3960). Met: L1, L8, L12; breached: L2, L3, L9.
    # L10 has waited 90 calendar minutes: still pending.
    assert (result.sla_met, result.sla_breached) == (3, 3)
    assert result.sla_compliance == pytest.approx(0.5)
    assert result.sla_business_hours is False


def test_unanswered_mqls_wait_until_the_data_was_taken(engine: Engine, trial: trials.TrialInfo) -> None:
    with engine.connect() as connection:
        waits = {
            row.lead_id: (row.wait_business_minutes, row.wait_calendar_minutes)
            for row in connection.execute(
                text(
                    "SELECT lead_id, wait_business_minutes, wait_calendar_minutes FROM sandbox_leads "
                    "WHERE trial_id = :t AND wait_calendar_minutes IS NOT NULL"
                ),
                {"t": trial.id},
            )
        }
    assert waits == {"L9": (2820.0, 10530.0), "L10": (60.0, 90.0)}
    # 2 business hours: met L1 90, L3 120; breached L2, L8 180, L12 240, L9. L10 (60) is still pending.
    two = outcome(engine, OPS, trial.id, Knobs(sla_hours=2))
    assert (two.sla_met, two.sla_breached) == (2, 4)
    # Half an hour: nobody meets it, and L10, unanswered after 60 minutes, now breaches too.
    half = outcome(engine, OPS, trial.id, Knobs(sla_hours=0.5))
    assert (half.sla_met, half.sla_breached) == (0, 7)
    # Exactly 60 minutes is not more than an hour: L10 is pending at 1 h (and L1 90 breaches).
    one = outcome(engine, OPS, trial.id, Knobs(sla_hours=1))
    assert (one.sla_met, one.sla_breached) == (0, 6)


@pytest.mark.parametrize(
    "latest",
    [
        "L2,2025-03-03 09:30,web,80,2025-03-03 10:00,2025-03-05 14:00,,2025-03-03 10:30",  # an SQL date
        "L2,2025-03-03 09:30,web,80,2025-03-03 10:00,,2025-03-05 14:00,2025-03-03 10:30",  # a rejection
        "L2,2025-03-03 09:30,web,80,2025-03-03 10:00,,,2025-03-05 14:00",  # a response
        "L2,2025-03-03 09:30,web,80,2025-03-05 14:00,,,",  # an MQL (which has then waited 0)
    ],
    ids=["sql_at", "rejected_at", "first_response_at", "mql_at"],
)
def test_as_of_is_the_latest_moment_anywhere_in_the_file(engine: Engine, latest: str) -> None:
    content = "lead_id,created_at,source,score,mql_at,sql_at,rejected_at,first_response_at\n"
    content += "L1,2025-03-03 09:00,web,80,2025-03-03 10:00,,,\n" + latest + "\n"
    made = upload(engine, content=content)
    assert made.as_of == dt.datetime(2025, 3, 5, 14, 0)
    # L1 (MQL Mon 3 Mar 10:00, unanswered) has waited 420 + 480 + 300 = 1200 business minutes by Wed 14:00,
    # 2 days 4 h = 3120 calendar minutes: a breach of 4 h either way.
    waits = count(engine, "SELECT COUNT(*) FROM sandbox_leads WHERE wait_business_minutes = 1200")
    assert waits == 1 == count(engine, "SELECT COUNT(*) FROM sandbox_leads WHERE wait_calendar_minutes = 3120")
    result = outcome(engine, OPS, made.id, Knobs())
    if latest.endswith(",,,"):
        # Nobody in this file was ever answered: without response times the SLA is unknown, not 0%.
        assert (result.sla_met, result.sla_breached) == (0, 0) and math.isnan(result.sla_compliance)
    else:
        assert result.sla_breached >= 1


def test_busiest_day_and_reps_needed(engine: Engine, trial: trials.TrialInfo) -> None:
    result = outcome(engine, OPS, trial.id, Knobs())
    # MQLs per day with any: 6 Jan 3 (L1, L2, L6), 10 Jan 1, 3 Feb 2 (L8, L9), 4 Feb 1, 10 Feb 1 (L10).
    # Sorted 1, 1, 1, 2, 3: the 90th percentile sits at 0.9 × 4 = 3.6 → 2 + 0.6 × (3 − 2) = 2.6.
    assert result.busiest_day_mqls == pytest.approx(2.6)
    # 2.6 MQLs × 15 minutes / (2 h × 60) = 0.325 reps.
    assert result.reps_needed == pytest.approx(0.325)
    slower = outcome(engine, OPS, trial.id, Knobs(minutes_per_response=30, rep_hours_per_day=1))
    assert slower.reps_needed == pytest.approx(2.6 * 30 / 60)  # 1.3
    # Threshold 70: L1, L2 on 6 Jan, L8 on 3 Feb, L10 on 10 Feb → 1, 1, 2 → 1 + 0.8 × 1 = 1.8.
    assert outcome(engine, OPS, trial.id, Knobs(score_threshold=70)).busiest_day_mqls == pytest.approx(1.8)
    assert math.isnan(outcome(engine, OPS, trial.id, Knobs(rep_hours_per_day=0)).reps_needed)


def test_responders_are_the_owners_who_answered_an_mql(engine: Engine, trial: trials.TrialInfo) -> None:
    # ann (L1, L3, L12), bob (L2, L5), cy (L4, whatever the rule), dee (L8). Not fay (L7 was no MQL), not eve
    # (L9 unanswered), and L10 has no owner.
    assert outcome(engine, OPS, trial.id, Knobs()).responders == 4
    assert outcome(engine, OPS, trial.id, Knobs(score_threshold=95)).responders == 4


def test_a_rule_that_qualifies_nobody(engine: Engine, trial: trials.TrialInfo) -> None:
    result = outcome(engine, OPS, trial.id, Knobs(score_threshold=95))
    assert (result.leads, result.mqls, result.sqls, result.rejected) == (12, 0, 0, 0)
    # Every SQL is lost (L1, L4, L3, L8) and every rejection saved (L2, L5, L12).
    assert (result.lost_sqls, result.saved_rejections) == (4, 3)
    assert (result.sla_met, result.sla_breached, result.busiest_day_mqls, result.reps_needed) == (0, 0, 0.0, 0.0)
    assert math.isnan(result.conversion) and math.isnan(result.rejection_share)
    assert math.isnan(result.sla_compliance)
    # The months are those with leads, so volume per month is 0, not undefined.
    assert (result.months, result.mqls_per_month) == (2, 0.0)


def test_days_months_and_business_hours_are_the_organisations(engine: Engine) -> None:
    utc = upload(engine)
    in_utc = outcome(engine, OPS, utc.id, Knobs())
    settings.update(engine, {"timezone": "America/New_York"}, actor=TESTER)
    # The file's naive times are now New York's (UTC−5 in winter): the same wall clock, five hours later in UTC,
    # so every business and calendar minute, day and month is as before.
    local = upload(engine)
    assert local.as_of == AS_OF + dt.timedelta(hours=5)
    assert (local.first_day, local.last_day) == (FIRST_DAY, LAST_DAY)
    assert outcome(engine, OPS, local.id, Knobs()) == in_utc
    import_csv(engine, "leads", csv_file(LEADS_CSV, "stored.csv"), actor=TESTER)
    period = trials.stored_trial(engine, OPS, "Stored in New York", FIRST_DAY, LAST_DAY)
    assert (period.rows, period.as_of) == (12, local.as_of)
    assert leads_of(engine, period.id) == leads_of(engine, local.id)
    # 04:30 UTC on 1 Feb is 23:30 on 31 Jan in New York: a January lead, on a Friday evening (after hours).
    late = "lead_id,created_at,source,score,mql_at\nZ,2025-02-01T04:30:00Z,web,80,2025-02-01T04:30:00Z\n"
    made = upload(engine, content=late)
    assert (made.first_day, made.last_day) == (dt.date(2025, 1, 31), dt.date(2025, 1, 31))
    result = outcome(engine, OPS, made.id, Knobs())
    assert list(result.monthly["month"]) == [dt.date(2025, 1, 1)]
    # Unanswered, as_of is its own MQL moment: it has waited 0 minutes, pending.
    assert (result.mqls, result.sla_met, result.sla_breached) == (1, 0, 0)


# ------------------------------------------------------------------ the knobs


@pytest.mark.parametrize(
    ("threshold", "mqls", "sqls", "rejected", "lost", "saved", "monthly"),
    [
        # ≥ 70: L1 80, L2 70, L8 90, L10 75. SQLs L1, L8; rejected L2; lost L4, L3; saved L5, L12.
        (70, 4, 2, 1, 2, 2, [2, 2]),
        # ≥ 85: L8 only; January still counts as a month, with none.
        (85, 1, 1, 0, 3, 3, [0, 1]),
        # ≥ 40: adds L4 (40, SQL): 9 MQLs, 4 SQLs, nothing lost.
        (40, 9, 4, 2, 0, 1, [5, 4]),
    ],
)
def test_the_score_threshold(
    engine: Engine,
    trial: trials.TrialInfo,
    threshold: int,
    mqls: int,
    sqls: int,
    rejected: int,
    lost: int,
    saved: int,
    monthly: list[int],
) -> None:
    result = outcome(engine, OPS, trial.id, Knobs(score_threshold=threshold))
    assert (result.mqls, result.sqls, result.rejected, result.lost_sqls, result.saved_rejections) == (
        mqls,
        sqls,
        rejected,
        lost,
        saved,
    )
    assert list(result.monthly["mqls"]) == monthly
    assert result.mqls_per_month == pytest.approx(mqls / 2)


def test_the_icp_size_range_applies_when_fit_is_required(engine: Engine, trial: trials.TrialInfo) -> None:
    knobs = Knobs(company_size_min=100, company_size_max=1000, icp_fit_required=True)
    result = outcome(engine, OPS, trial.id, knobs)
    # Score ≥ 50 and 100..1000 employees: L2 200, L6 100, L3 500, L8 1000, L9 250. Out: L1 50, L12 5000, L10 (none).
    assert result.mqls == 5
    assert (result.sqls, result.rejected) == (2, 1)  # L3, L8; L2
    assert (result.lost_sqls, result.saved_rejections) == (2, 2)  # L1, L4; L5, L12
    # Judged: L2 breach, L3 met, L8 met, L9 breach.
    assert (result.sla_met, result.sla_breached) == (2, 2)
    # Without the fit requirement the range is ignored: the 8 MQLs of the default knobs.
    ignored = outcome(engine, OPS, trial.id, Knobs(company_size_min=100, company_size_max=1000, icp_fit_required=False))
    assert ignored.mqls == 8


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        # ≥ 100 (a blank size never fits a minimum): L2, L6, L3, L8, L9, L12.
        (100, None, 6),
        # ≤ 200 (nor a maximum): L1 50, L2 200, L6 100.
        (None, 200, 3),
        # No limits at all: every lead fits, L10 included.
        (None, None, 8),
    ],
)
def test_one_sided_size_ranges(
    engine: Engine, trial: trials.TrialInfo, low: int | None, high: int | None, expected: int
) -> None:
    knobs = Knobs(company_size_min=low, company_size_max=high)
    assert outcome(engine, OPS, trial.id, knobs).mqls == expected


def test_seniorities(engine: Engine, trial: trials.TrialInfo) -> None:
    result = outcome(engine, OPS, trial.id, Knobs(seniorities=("director", "vp")))
    # Score ≥ 50 and director or vp: L2, L3, L9, L12. SQL L3; rejected L2, L12.
    assert (result.mqls, result.sqls, result.rejected) == (4, 1, 2)
    # L1 and L8 (SQLs) and L4 are lost.
    assert result.lost_sqls == 3
    # Seniorities are folded to lower case by the rule: "Manager" takes L1 and L6 (L11 scores 20).
    assert outcome(engine, OPS, trial.id, Knobs(seniorities=("Manager",))).mqls == 2


def test_intent_signals_qualify_below_the_threshold(engine: Engine, trial: trials.TrialInfo) -> None:
    result = outcome(engine, OPS, trial.id, Knobs(intent_signals=("demo_request",)))
    # The 8 plus L4 (40, demo_request) and L11 (20, DEMO_REQUEST: case does not matter).
    assert (result.mqls, result.sqls, result.lost_sqls, result.saved_rejections) == (10, 4, 0, 1)
    assert result.conversion == pytest.approx(0.4)
    # An intent hit does not bypass the rest of the rule: ic only → L4 (L5 30 and L7 10 have no signal).
    narrow = outcome(engine, OPS, trial.id, Knobs(intent_signals=("demo_request",), seniorities=("ic",)))
    assert (narrow.mqls, narrow.sqls) == (1, 1)
    # L8's pricing_page is no hit unless listed; at threshold 95 only the signals qualify.
    both = Knobs(score_threshold=95, intent_signals=("Pricing_Page", "demo_request"))
    assert outcome(engine, OPS, trial.id, both).mqls == 3  # L4, L8, L11


# ------------------------------------------------------------------ the curve


def test_curve_points_by_hand(engine: Engine, trial: trials.TrialInfo) -> None:
    points = curve(engine, OPS, trial.id, Knobs()).points.set_index("threshold")
    assert list(points.index) == list(range(101))
    # Scores: 90S 80S 75 70 65 60S 55 50 40S 30 20 10 (S = SQL).
    expected = {0: (12, 4), 11: (11, 4), 30: (10, 4), 31: (9, 4), 50: (8, 3), 51: (7, 3), 60: (6, 3)}
    expected |= {61: (5, 2), 70: (4, 2), 75: (3, 2), 80: (2, 2), 81: (1, 1), 90: (1, 1), 91: (0, 0), 100: (0, 0)}
    for threshold, (mqls, sqls) in expected.items():
        assert (points.loc[threshold, "mqls"], points.loc[threshold, "sqls"]) == (mqls, sqls), threshold
    assert points.loc[0, "conversion"] == pytest.approx(4 / 12)
    assert points.loc[50, "conversion"] == pytest.approx(3 / 8)
    assert points.loc[75, "conversion"] == pytest.approx(2 / 3)
    assert math.isnan(points.loc[91, "conversion"])


@pytest.mark.parametrize(
    ("gate", "recommended"),
    [
        (0.30, 0),  # 4/12 = 0.333 already passes at 0: the most volume
        (0.40, 21),  # 0: .333, 11–20: 4/11 = .364, 21–30: 4/10 = .4 (the lowest threshold of that volume)
        (0.45, 56),  # 31–40 .444, 41–50 .375, 51–55 3/7 = .429, 56–60 3/6 = .5
        (0.60, 71),  # 61–65 .4, 66–70 .5, 71–75 2/3
        (1.00, 76),  # 76–80: 2/2
    ],
)
def test_curve_recommends_the_most_volume_that_meets_the_gate(
    engine: Engine, trial: trials.TrialInfo, gate: float, recommended: int
) -> None:
    result = curve(engine, OPS, trial.id, Knobs(conversion_gate=gate))
    assert result.gate == gate
    assert result.recommended == recommended
    assert isinstance(result.recommended, int)


def test_curve_recommends_nothing_when_no_threshold_reaches_the_gate(engine: Engine, trial: trials.TrialInfo) -> None:
    # Directors only: L2 and L9, neither an SQL, so conversion is 0 at every threshold with any.
    directors = curve(engine, OPS, trial.id, Knobs(seniorities=("director",)))
    assert directors.recommended is None
    assert directors.points.loc[0, "mqls"] == 2 and directors.points.loc[0, "conversion"] == 0
    # Nobody fits at all: zero volume everywhere.
    nobody = curve(engine, OPS, trial.id, Knobs(company_size_min=100_000))
    assert nobody.recommended is None
    assert nobody.points["mqls"].sum() == 0 and len(nobody.points) == 101


def test_curve_intent_hits_count_at_every_threshold(engine: Engine, trial: trials.TrialInfo) -> None:
    knobs = Knobs(intent_signals=("demo_request",))
    points = curve(engine, OPS, trial.id, knobs).points.set_index("threshold")
    # L4 (40, SQL) and L11 (20) count whatever the threshold.
    assert (points.loc[100, "mqls"], points.loc[100, "sqls"]) == (2, 1)
    assert (points.loc[81, "mqls"], points.loc[81, "sqls"]) == (3, 2)  # + L8
    assert (points.loc[21, "mqls"], points.loc[21, "sqls"]) == (11, 4)  # L7 drops, L11 stays
    # Volume with conversion ≥ .5: 56–60 gives 6 + 2 = 8 MQLs, 4 SQLs; ≥ .7: 76–80 gives 4, 3 SQLs.
    assert curve(engine, OPS, trial.id, Knobs(intent_signals=("demo_request",), conversion_gate=0.5)).recommended == 56
    assert curve(engine, OPS, trial.id, Knobs(intent_signals=("demo_request",), conversion_gate=0.7)).recommended == 76


@pytest.mark.parametrize(
    "knobs",
    [Knobs(), Knobs(intent_signals=("demo_request",)), Knobs(company_size_min=100, seniorities=("director", "vp"))],
    ids=["defaults", "intent", "icp-and-seniority"],
)
def test_the_curve_agrees_with_the_outcome(engine: Engine, trial: trials.TrialInfo, knobs: Knobs) -> None:
    points = curve(engine, OPS, trial.id, knobs).points.set_index("threshold")
    for threshold in (0, 20, 40, 50, 55, 65, 80, 90, 100):
        result = outcome(engine, OPS, trial.id, Knobs(**{**asdict(knobs), "score_threshold": threshold}))
        assert (points.loc[threshold, "mqls"], points.loc[threshold, "sqls"]) == (result.mqls, result.sqls)


# ------------------------------------------------------------------ nothing shared is touched


def _try_everything(engine: Engine) -> None:
    made = upload(engine)
    outcome(engine, OPS, made.id, Knobs())
    outcome(engine, OPS, made.id, Knobs(score_threshold=70, sla_business_hours=False))
    curve(engine, OPS, made.id, Knobs(intent_signals=("demo_request",)))
    trials.touch_trial(engine, OPS, made.id)
    trials.trials(engine, OPS)
    trials.delete_trial(engine, OPS, made.id)


def test_a_trial_leaves_the_shared_tables_as_they_were(engine: Engine) -> None:
    before = shared_tables(engine)
    _try_everything(engine)
    assert shared_tables(engine) == before
    assert sandbox_rows(engine) == 0


def test_a_trial_leaves_the_stored_leads_as_they_were(engine: Engine) -> None:
    # The stored leads are the same leads, but the trial's copy differs: L1 is not an SQL there.
    stored = LEADS_CSV.replace("2025-01-08 10:00,,2025-01-06 11:30", ",,2025-01-06 11:30")
    import_csv(engine, "leads", csv_file(stored, "stored.csv"), actor=TESTER)
    before = shared_tables(engine)
    assert len(before["leads"]) == 12 and len(before["import_runs"]) == 1
    _try_everything(engine)
    period = trials.stored_trial(engine, OPS, "Stored", FIRST_DAY, LAST_DAY)
    assert outcome(engine, OPS, period.id, Knobs()).sqls == 2  # L3, L8: the stored data, not the upload's
    curve(engine, OPS, period.id, Knobs())
    trials.delete_trial(engine, OPS, period.id)
    assert shared_tables(engine) == before


# ------------------------------------------------------------------ bad uploads


@pytest.mark.parametrize(
    ("old", "new", "row", "column", "words"),
    [
        # L2 is row 3 of the file (the header is row 1).
        ("L2,2025-01-06 09:30", "L2,2025-13-45 09:30", 3, "created_at", "date"),
        ("L6,2025-01-06 12:00", ",2025-01-06 12:00", 4, "lead_id", ""),
        # L4 (row 5) renamed L1: the key repeats row 2's.
        ("L4,2025-01-07 10:00", "L1,2025-01-07 10:00", 5, "lead_id", "row 2"),
    ],
    ids=["bad-date", "missing-lead-id", "duplicate-key"],
)
def test_a_bad_upload_is_refused_and_keeps_nothing(
    engine: Engine, old: str, new: str, row: int, column: str, words: str
) -> None:
    bad = LEADS_CSV.replace(old, new)
    assert bad != LEADS_CSV
    with pytest.raises(ImportRefused) as caught:
        upload(engine, content=bad)
    problems = caught.value.problems
    assert caught.value.total == 1
    assert (problems[0].row, problems[0].column) == (row, column)
    assert f"row {row}, column '{column}'" in str(caught.value)
    assert words in problems[0].expected
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials") == 0
    assert sandbox_rows(engine) == 0
    assert trial_audit(engine) == []
    assert trials.trials(engine, OPS) == []


def test_a_file_without_leads_or_a_name_is_refused(engine: Engine) -> None:
    with pytest.raises(ImportRefused, match="no data rows"):
        upload(engine, content=HEADER + "\n")
    with pytest.raises(SandboxError, match="needs a name"):
        upload(engine, name="   ")
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials") == 0
    assert sandbox_rows(engine) == 0


SKIP_TESTS = Mapping(
    name="skip tests",
    kind="leads",
    fields={name: FieldMapping(column=name) for name in ("lead_id", "created_at", "source", "score")},
    skip_rows=[SkipRule(column="status", in_=["test"], reason="test records")],
)
ALL_SKIPPED = "lead_id,created_at,source,score,status\nA,2025-01-06 09:00,web,80,test\nB,2025-01-06 10:00,web,60,test\n"
EMPTY_CHUNK = (
    "_TrialSink.write (core/sandbox/trials.py) is handed an empty chunk when the mapping skips every row of it: "
    "it makes the trial anyway and takes NaT.date() (NaT) as the first/last day"
)


def test_a_file_whose_rows_are_all_skipped_is_a_sandbox_error(engine: Engine) -> None:
    with pytest.raises(SandboxError, match="no leads"):
        trials.upload_trial(engine, OPS, "All skipped", csv_file(ALL_SKIPPED), mapping=SKIP_TESTS)


def test_a_file_whose_rows_are_all_skipped_leaves_no_trial(engine: Engine) -> None:
    with pytest.raises(SandboxError, match="no leads"):
        trials.upload_trial(engine, OPS, "All skipped", csv_file(ALL_SKIPPED), mapping=SKIP_TESTS)
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials") == 0
    assert trials.trials(engine, OPS) == []


def test_a_first_chunk_wholly_skipped_does_not_spoil_the_upload(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two-row chunks stand in for CHUNK_ROWS: the first chunk is two test records, the second two real leads.
    monkeypatch.setattr(trials, "import_csv", functools.partial(import_csv, chunk_rows=2))
    content = ALL_SKIPPED + "C,2025-01-07 09:00,web,80,\nD,2025-01-08 09:00,web,40,\n"
    made = trials.upload_trial(engine, OPS, "Half skipped", csv_file(content), mapping=SKIP_TESTS)
    assert (made.rows, made.first_day, made.last_day) == (2, dt.date(2025, 1, 7), dt.date(2025, 1, 8))
    assert outcome(engine, OPS, made.id, Knobs()).mqls == 1


def test_small_chunks_give_the_same_trial(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = upload(engine)
    monkeypatch.setattr(trials, "import_csv", functools.partial(import_csv, chunk_rows=5))
    chunked = upload(engine)
    assert (chunked.rows, chunked.first_day, chunked.last_day, chunked.as_of) == (12, FIRST_DAY, LAST_DAY, AS_OF)
    assert leads_of(engine, chunked.id) == leads_of(engine, whole.id)


def test_a_trial_has_a_size_limit(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import_csv(engine, "leads", csv_file(LEADS_CSV, "stored.csv"), actor=TESTER)
    monkeypatch.setattr(trials, "MAX_ROWS", 11)
    with pytest.raises(SandboxError, match="at most 11 leads"):
        upload(engine)
    with pytest.raises(SandboxError, match="at most 11 leads; the period has 12"):
        trials.stored_trial(engine, OPS, "Too many", FIRST_DAY, LAST_DAY)
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials") == 0
    assert sandbox_rows(engine) == 0
    monkeypatch.setattr(trials, "MAX_ROWS", 12)
    assert upload(engine).rows == 12


# ------------------------------------------------------------------ stored trials


def test_a_stored_trial_copies_the_leads_of_the_period(engine: Engine) -> None:
    # Two more leads just outside the period (5 Jan and 11 Feb), the later one with later timestamps.
    outside = [
        "X1,2025-01-05 16:00,web,300,vp,99,,2025-01-05 16:30,2025-01-07 10:00,,2025-01-05 16:40,zed",
        "X2,2025-02-11 09:00,web,300,vp,99,,2025-02-11 09:30,,,2025-02-12 09:00,zed",
    ]
    stored = "\n".join([HEADER, outside[0], *ROWS, outside[1]]) + "\n"
    import_csv(engine, "leads", csv_file(stored, "stored.csv"), actor=TESTER)
    period = trials.stored_trial(engine, OPS, "Jan–Feb stored", FIRST_DAY, LAST_DAY)
    assert (period.source, period.file_name, period.rows) == ("stored", None, 12)
    assert (period.first_day, period.last_day) == (FIRST_DAY, LAST_DAY)
    assert period.as_of == AS_OF  # the latest moment among the period's leads, not X2's
    uploaded = upload(engine)
    # The same rows, column for column, as an upload of the same twelve leads.
    assert [row[1] for row in leads_of(engine, period.id)] == [row.split(",")[0] for row in ROWS]
    assert leads_of(engine, period.id) == leads_of(engine, uploaded.id)
    for knobs in (Knobs(), Knobs(score_threshold=65, sla_business_hours=False, company_size_min=100)):
        from_store = outcome(engine, OPS, period.id, knobs)
        from_file = outcome(engine, OPS, uploaded.id, knobs)
        assert from_store == from_file
        pd.testing.assert_frame_equal(from_store.monthly, from_file.monthly)
    pd.testing.assert_frame_equal(
        curve(engine, OPS, period.id, Knobs()).points, curve(engine, OPS, uploaded.id, Knobs()).points
    )


def test_a_stored_trial_is_not_moved_by_later_imports(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS_CSV, "stored.csv"), actor=TESTER)
    period = trials.stored_trial(engine, OPS, "Stored", FIRST_DAY, LAST_DAY)
    before = outcome(engine, OPS, period.id, Knobs())
    # L1 rescored to 10 in the shared table afterwards: the trial keeps its copy.
    later = HEADER + "\n" + ROWS[0].replace(",manager,80,", ",manager,10,") + "\n"
    import_csv(engine, "leads", csv_file(later, "later.csv"), actor=TESTER)
    assert outcome(engine, OPS, period.id, Knobs()) == before
    assert trials.stored_trial(engine, OPS, "Again", FIRST_DAY, LAST_DAY) is not None
    again = trials.trials(engine, OPS)[0]
    assert outcome(engine, OPS, again.id, Knobs()).mqls == before.mqls - 1


def test_a_stored_trial_needs_leads_in_a_real_period(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS_CSV, "stored.csv"), actor=TESTER)
    with pytest.raises(SandboxError, match="no stored leads"):
        trials.stored_trial(engine, OPS, "Empty", dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    with pytest.raises(SandboxError, match="before it starts"):
        trials.stored_trial(engine, OPS, "Backwards", LAST_DAY, FIRST_DAY)
    with pytest.raises(SandboxError, match="needs a name"):
        trials.stored_trial(engine, OPS, "", FIRST_DAY, LAST_DAY)
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials") == 0
    assert sandbox_rows(engine) == 0
    # One day: 7 Jan has L4 and L5.
    assert trials.stored_trial(engine, OPS, "One day", dt.date(2025, 1, 7), dt.date(2025, 1, 7)).rows == 2


# ------------------------------------------------------------------ ownership, permissions, deletion, expiry


@pytest.mark.parametrize(
    "call",
    [
        lambda engine, actor, trial_id: trials.get_trial(engine, actor, trial_id),
        lambda engine, actor, trial_id: trials.touch_trial(engine, actor, trial_id),
        lambda engine, actor, trial_id: outcome(engine, actor, trial_id, Knobs()),
        lambda engine, actor, trial_id: curve(engine, actor, trial_id, Knobs()),
        lambda engine, actor, trial_id: trials.delete_trial(engine, actor, trial_id),
        lambda engine, actor, trial_id: propose_from_trial(engine, actor, trial_id, Knobs(), ("mql",)),
    ],
    ids=["get", "touch", "outcome", "curve", "delete", "propose"],
)
@pytest.mark.parametrize("actor", [OTHER, EXEC, MARKETING], ids=["another-ops", "exec", "marketing"])
def test_only_the_owner_may_use_a_trial(
    engine: Engine, trial: trials.TrialInfo, actor: Actor, call: Callable[[Engine, Actor, int], Any]
) -> None:
    with pytest.raises(PermissionDenied):
        call(engine, actor, trial.id)
    # Nothing happened to it, and nothing was proposed.
    assert trials.get_trial(engine, OPS, trial.id) == trial
    assert sandbox_rows(engine, trial.id) == 12
    assert versions.versions(engine) == []


def test_exec_may_not_use_the_sandbox_at_all(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS_CSV, "stored.csv"), actor=TESTER)
    with pytest.raises(PermissionDenied):
        trials.trials(engine, EXEC)
    with pytest.raises(PermissionDenied):
        upload(engine, actor=EXEC)
    with pytest.raises(PermissionDenied):
        trials.stored_trial(engine, EXEC, "Mine", FIRST_DAY, LAST_DAY)
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials") == 0


def test_marketing_may_try_stored_leads_but_not_upload(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS_CSV, "stored.csv"), actor=TESTER)
    with pytest.raises(PermissionDenied, match="import data"):
        upload(engine, actor=MARKETING)
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials") == 0
    mine = trials.stored_trial(engine, MARKETING, "Mine", FIRST_DAY, LAST_DAY)
    assert mine.owner == "mia"
    assert outcome(engine, MARKETING, mine.id, Knobs()).mqls == 8
    assert [t.id for t in trials.trials(engine, MARKETING)] == [mine.id]
    assert trials.trials(engine, OPS) == []


def test_trials_lists_only_ones_own_newest_first(engine: Engine) -> None:
    first, second = upload(engine, name="First"), upload(engine, name="  Second   try ")
    theirs = upload(engine, actor=OTHER, name="Theirs")
    assert [t.name for t in trials.trials(engine, OPS)] == ["Second try", "First"]
    assert [t.id for t in trials.trials(engine, OTHER)] == [theirs.id]
    assert second.id > first.id


def test_deleting_a_trial_removes_its_rows_and_is_audited(engine: Engine, trial: trials.TrialInfo) -> None:
    kept = upload(engine, name="Kept")
    trials.delete_trial(engine, OPS, trial.id)
    assert sandbox_rows(engine, trial.id) == 0
    assert sandbox_rows(engine, kept.id) == 12
    assert [t.id for t in trials.trials(engine, OPS)] == [kept.id]
    with pytest.raises(SandboxError, match="no trial"):
        trials.get_trial(engine, OPS, trial.id)
    with pytest.raises(SandboxError, match="no trial"):
        outcome(engine, OPS, trial.id, Knobs())
    with pytest.raises(SandboxError, match="no trial"):
        trials.delete_trial(engine, OPS, trial.id)
    with engine.connect() as connection:
        record = connection.execute(select(SandboxTrial).where(SandboxTrial.id == trial.id)).one()
    assert record.deleted_by == "olga" and record.deleted_at is not None
    assert trial_audit(engine) == [
        ("olga", "create", str(trial.id)),
        ("olga", "create", str(kept.id)),
        ("olga", "delete", str(trial.id)),
    ]


def _last_used(engine: Engine, trial_id: int, days_ago: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE sandbox_trials SET last_used_at = :t WHERE id = :id"),
            {"t": utcnow() - dt.timedelta(days=days_ago), "id": trial_id},
        )


def test_trials_unused_for_thirty_days_expire(engine: Engine, trial: trials.TrialInfo) -> None:
    recent, theirs, touched = upload(engine, name="Recent"), upload(engine, OTHER, name="Theirs"), upload(engine)
    _last_used(engine, trial.id, 31)
    _last_used(engine, recent.id, 29)
    _last_used(engine, theirs.id, 31)
    _last_used(engine, touched.id, 31)
    trials.touch_trial(engine, OPS, touched.id)  # opening it keeps it another 30 days
    # Listing anyone's trials removes everyone's expired ones.
    assert {t.id for t in trials.trials(engine, OPS)} == {recent.id, touched.id}
    assert sandbox_rows(engine, trial.id) == 0 and sandbox_rows(engine, theirs.id) == 0
    assert sandbox_rows(engine, recent.id) == 12 and sandbox_rows(engine, touched.id) == 12
    assert trials.trials(engine, OTHER) == []
    with pytest.raises(SandboxError):
        trials.get_trial(engine, OPS, trial.id)
    expired = [entry for entry in trial_audit(engine) if entry[1] == "expire"]
    assert sorted(expired) == sorted([("system", "expire", str(trial.id)), ("system", "expire", str(theirs.id))])
    with engine.connect() as connection:
        record = connection.execute(select(SandboxTrial).where(SandboxTrial.id == trial.id)).one()
    assert record.deleted_by == "system"


# ------------------------------------------------------------------ proposing


def test_propose_from_a_trial(engine: Engine, trial: trials.TrialInfo) -> None:
    knobs = Knobs(score_threshold=65, company_size_min=100, seniorities=("director", "vp"), sla_hours=3)
    proposed = propose_from_trial(engine, OPS, trial.id, knobs, ("sla", "icp", "mql"))
    assert [v.kind for v in proposed] == ["icp", "mql", "sla"]
    assert {v.state for v in proposed} == {"proposed"}
    assert {v.author for v in proposed} == {"olga"}
    assert {v.based_on for v in proposed} == {None}  # nothing was active
    icp, mql, sla = proposed
    assert icp.rules == {"company_size_min": 100, "company_size_max": None, "industries": [], "countries": []}
    assert (
        mql.rules
        == knobs.mql().model_dump()
        == {
            "icp_fit_required": True,
            "seniorities": ["director", "vp"],
            "departments": [],
            "score_threshold": 65,
            "intent_signals": [],
        }
    )
    assert sla.rules == knobs.sla().model_dump()
    assert sla.rules["response_hours"] == 3
    assert mql.prose == f"Tried in the sandbox on {trial.describe()}."
    # Every version carries the same evidence: the trial and both rules' figures on it.
    evidence = mql.evidence
    assert evidence is not None and icp.evidence == evidence == sla.evidence
    assert (evidence["source"], evidence["trial_source"], evidence["file"], evidence["leads"]) == (
        "sandbox",
        "upload",
        "hand.csv",
        12,
    )
    assert evidence["trial"] == trial.describe()
    assert evidence["period"] == ["2025-01-06", "2025-02-10"]
    assert evidence["knobs"]["score_threshold"] == 65 and evidence["knobs"]["seniorities"] == ["director", "vp"]
    before = outcome(engine, OPS, trial.id, active_knobs(engine))
    after = outcome(engine, OPS, trial.id, knobs)
    # Active (nothing signed: score ≥ 50, no ICP): 8 MQLs, 3/8. Proposed: ≥ 65, ≥ 100 staff, director or vp:
    # L2 (director 200, 70), L9 (director 250, 65) → 2 MQLs, no SQL; both breach 3 h.
    assert (before.mqls, after.mqls) == (8, 2)
    assert evidence["active_definition"]["mqls"] == before.mqls
    assert evidence["active_definition"]["mql_to_sql"] == round(before.conversion, 4) == 0.375
    assert evidence["proposed"]["mqls"] == after.mqls
    assert evidence["proposed"]["mql_to_sql"] == after.conversion == 0
    assert evidence["proposed"]["sla_compliance"] == 0
    assert evidence["proposed"]["lost_sqls"] == 4 and evidence["proposed"]["saved_rejections"] == 2
    assert evidence["active_definition"]["mqls_per_month"] == 4.0
    assert evidence["active_definition"]["reps_needed"] == 0.3  # 0.325 to one place
    stored = versions.get(engine, mql.id)
    assert stored.evidence == evidence and stored.state == "proposed"


def test_propose_against_the_definitions_in_force(engine: Engine, trial: trials.TrialInfo) -> None:
    def sign(kind: str, rules: dict[str, Any]) -> versions.VersionInfo:
        version = versions.propose(engine, OPS, kind, rules)
        versions.approve(engine, MARKETING_LEAD, version.id)
        return versions.approve(engine, SALES_LEAD, version.id)

    icp = sign("icp", {"company_size_min": 100})
    mql = sign("mql", {"score_threshold": 70, "icp_fit_required": True})
    sla = sign("sla", {"response_hours": 2, "business_hours": False, "min_touch_attempts": 3})
    active = active_knobs(engine)
    assert (active.score_threshold, active.icp_fit_required, active.company_size_min) == (70, True, 100)
    assert (active.sla_hours, active.sla_business_hours) == (2, False)
    assert changed_kinds(active, active) == ()
    knobs = Knobs(score_threshold=60, company_size_min=100, sla_hours=3, sla_business_hours=True)
    assert changed_kinds(knobs, active) == ("mql", "sla")
    proposed = propose_from_trial(engine, OPS, trial.id, knobs, ("mql", "sla"), prose="  Lower it.  ")
    new_mql, new_sla = proposed
    assert (new_mql.based_on, new_sla.based_on) == (mql.id, sla.id)
    assert new_mql.prose == "Lower it."
    # The SLA keeps what the sandbox does not change (min_touch_attempts 3) from the one in force.
    assert new_sla.rules["min_touch_attempts"] == 3
    assert (new_sla.rules["response_hours"], new_sla.rules["business_hours"]) == (3, True)
    evidence = new_mql.evidence
    assert evidence is not None
    # In force: ≥ 70 and ≥ 100 staff: L2, L8 → 2 MQLs, 1 SQL; SLA 2 calendar hours: L2 300, L8 180 breach.
    assert evidence["active_definition"]["mqls"] == 2
    assert evidence["active_definition"]["mql_to_sql"] == 0.5
    assert evidence["active_definition"]["sla_compliance"] == 0
    # Proposed: ≥ 60 and ≥ 100 staff: L2, L3, L8, L9 → 4 MQLs, 2 SQLs; 3 business hours: L3 120 and L8 180 met.
    assert evidence["proposed"]["mqls"] == 4
    assert evidence["proposed"]["mql_to_sql"] == 0.5
    assert evidence["proposed"]["sla_compliance"] == 0.5
    assert icp.state == "active" and versions.active(engine, "icp") == icp  # not proposed again


def test_propose_needs_known_kinds(engine: Engine, trial: trials.TrialInfo) -> None:
    with pytest.raises(SandboxError, match="pick what to propose"):
        propose_from_trial(engine, OPS, trial.id, Knobs(), ())
    with pytest.raises(SandboxError, match="not sql"):
        propose_from_trial(engine, OPS, trial.id, Knobs(), ("mql", "sql"))
    assert versions.versions(engine) == []
    # Marketing may propose from its own trial (a stored one).
    import_csv(engine, "leads", csv_file(LEADS_CSV, "stored.csv"), actor=TESTER)
    mine = trials.stored_trial(engine, MARKETING, "Mine", FIRST_DAY, LAST_DAY)
    (version,) = propose_from_trial(engine, MARKETING, mine.id, Knobs(score_threshold=70), ("mql",))
    assert version.author == "mia" and version.evidence is not None
    assert version.evidence["trial_source"] == "stored" and version.evidence["file"] is None
    assert version.evidence["proposed"]["mqls"] == 4


@pytest.mark.parametrize(
    ("changes", "kinds"),
    [
        ({}, ()),
        ({"score_threshold": 60}, ("mql",)),
        ({"icp_fit_required": False}, ("mql",)),
        ({"intent_signals": ("demo_request",)}, ("mql",)),
        ({"seniorities": ("vp",)}, ("mql",)),
        ({"company_size_min": 50}, ("icp",)),
        ({"company_size_max": 5000}, ("icp",)),
        ({"sla_hours": 8.0}, ("sla",)),
        ({"sla_business_hours": False}, ("sla",)),
        ({"conversion_gate": 0.4}, ("sla",)),
        ({"minutes_per_response": 30.0, "rep_hours_per_day": 4.0}, ()),  # capacity is no definition
        ({"score_threshold": 60, "company_size_min": 50, "rejection_gate": 0.2}, ("icp", "mql", "sla")),
    ],
)
def test_changed_kinds(changes: dict[str, Any], kinds: tuple[str, ...]) -> None:
    assert changed_kinds(Knobs(**changes), Knobs()) == kinds


def test_active_knobs_with_nothing_signed(engine: Engine) -> None:
    # The MQL default (ICP fit required) is kept; with no ICP in force the ICP is empty and every lead fits, so
    # a proposal does not flip the MQL rule's own setting.
    assert active_knobs(engine) == Knobs()


# ------------------------------------------------------------------ the sample HubSpot export


def test_the_sample_hubspot_export(engine: Engine) -> None:
    if not SAMPLE.is_file():
        pytest.skip("sample_data/hubspot_contacts_export.csv is not present")
    with SAMPLE.open("rb") as handle:
        made = trials.upload_trial(
            engine, OPS, "HubSpot", handle, mapping=load_preset("hubspot_contacts"), file_name=SAMPLE.name
        )
    assert made.rows > 1000 and made.file_name == SAMPLE.name
    assert count(engine, "SELECT COUNT(*) FROM sandbox_trials WHERE mapping_name = 'hubspot_contacts'") == 1
    assert count(engine, "SELECT COUNT(*) FROM leads") == 0
    result = curve(engine, OPS, made.id, Knobs())
    assert isinstance(result.recommended, int)
    point = result.points.set_index("threshold").loc[result.recommended]
    assert point["conversion"] >= 0.30 and point["mqls"] > 0
    # Nothing with more volume meets the gate.
    more = result.points[result.points["mqls"] > point["mqls"]]
    assert not (more["conversion"] >= 0.30).any()


def test_the_scoreboard_reads_the_same_before_and_after_a_trial(engine: Engine) -> None:
    from core.funnel.kpis import KpiQuery, kpi_table

    import_csv(engine, "leads", csv_file(LEADS_CSV, "leads.csv"), actor=TESTER)
    query = KpiQuery(dt.date(2025, 1, 1), dt.date(2025, 2, 28), "month")
    before = kpi_table(engine, query)
    assert int(before["mqls"].sum()) > 0  # the comparison is of real numbers
    trial = trials.upload_trial(engine, OPS, "Same leads", csv_file(LEADS_CSV, "leads.csv"))
    moved = Knobs(score_threshold=90, sla_hours=1.0, sla_business_hours=False, conversion_gate=0.5)
    outcome(engine, OPS, trial.id, moved)
    curve(engine, OPS, trial.id, moved)
    propose_from_trial(engine, OPS, trial.id, moved, ("mql", "sla"))  # proposed, not signed
    trials.delete_trial(engine, OPS, trial.id)
    pd.testing.assert_frame_equal(kpi_table(engine, query), before)


def test_proposing_only_the_sla_carries_evidence_for_the_sla_alone(engine: Engine, trial: trials.TrialInfo) -> None:
    moved = Knobs(score_threshold=90, sla_hours=1.0)
    (sla,) = propose_from_trial(engine, OPS, trial.id, moved, ("sla",))
    evidence = sla.evidence
    assert evidence is not None
    # The threshold moved too but is not proposed: the figures keep the MQL rule in force (8 MQLs, see above).
    assert evidence["proposed"]["mqls"] == evidence["active_definition"]["mqls"] == 8
    assert evidence["knobs"]["score_threshold"] == 50 and evidence["knobs"]["sla_hours"] == 1.0
    assert evidence["proposed"]["sla_compliance"] != evidence["active_definition"]["sla_compliance"]


def test_a_kind_the_knobs_leave_as_in_force_is_not_proposed(engine: Engine, trial: trials.TrialInfo) -> None:
    with pytest.raises(SandboxError, match="nothing to propose"):
        propose_from_trial(engine, OPS, trial.id, Knobs(score_threshold=70), ("mql", "sla"))
    assert versions.versions(engine) == []  # neither was proposed


def test_editing_a_proposal_drops_the_evidence_measured_for_its_old_rules(
    engine: Engine, trial: trials.TrialInfo
) -> None:
    (mql,) = propose_from_trial(engine, OPS, trial.id, Knobs(score_threshold=70), ("mql",))
    assert mql.evidence is not None
    reworded = versions.edit(engine, OPS, mql.id, mql.rules, "Same rule, clearer words", revision=mql.revision)
    assert reworded.evidence == mql.evidence  # the rules did not change: the figures still hold
    changed = versions.edit(engine, OPS, mql.id, {**mql.rules, "score_threshold": 75}, "75", revision=2)
    assert changed.evidence is None


def test_knobs_refuse_a_size_range_that_ends_before_it_starts() -> None:
    with pytest.raises(SandboxError, match="company-size range starts"):
        Knobs(company_size_min=1000, company_size_max=500)
    with pytest.raises(SandboxError, match="some hours"):
        Knobs(sla_hours=0)


def test_removing_a_trial_twice_removes_and_audits_it_once(engine: Engine, trial: trials.TrialInfo) -> None:
    from core.db import session_scope

    with session_scope(engine) as session:
        row = session.get(SandboxTrial, trial.id)
        trials._remove(session, row, "system", "expire")
        trials._remove(session, row, "system", "expire")
    assert [entry for entry in trial_audit(engine) if entry[1] == "expire"] == [("system", "expire", str(trial.id))]


# ------------------------------------------------------------------ the page's knobs and figures


@pytest.mark.parametrize("gate", [0.3, 0.35, 0.325, 0.07, 0.0, 1.0])
def test_the_widgets_values_give_back_the_knobs(gate: float) -> None:
    knobs = Knobs(score_threshold=64, conversion_gate=gate, rejection_gate=gate, company_size_max=500)
    values = knob_values(knobs)
    assert values["conversion_gate"] == round(gate * 100, 4) and values["size_limited"] is True
    assert knobs_from(values, Knobs()) == knobs
    # The upper limit switched off drops the size it held; the knobs without a widget stay as in force.
    assert knobs_from({**values, "size_limited": False}, Knobs()).company_size_max is None
    in_force = Knobs(industries=("Software",), departments=("Sales",))
    assert knobs_from(values, in_force).industries == ("Software",)


def test_the_comparison_reads_as_people_read_it(engine: Engine, trial: trials.TrialInfo) -> None:
    before = outcome(engine, OPS, trial.id, Knobs(), "Definition in force")
    after = outcome(engine, OPS, trial.id, Knobs(score_threshold=95), "Your knobs")
    table = comparison(before, after, Knobs()).set_index("Figure")
    assert list(table.columns) == ["Definition in force", "Your knobs", "Note"]
    # 3 of 8 MQLs converted under the rule in force; nobody qualifies at 95, so the rates are missing, not 0%.
    assert table.loc["MQL→SQL conversion"].tolist() == ["38%", MISSING, "gate 30%"]
    assert table.loc["MQLs per month", "Definition in force"] == "4"
    assert table.loc["SQLs lost", "Your knobs"] == "4"
    figures = {headline.label: headline for headline in headlines(before, after)}
    assert (figures["MQLs per month"].value, figures["MQLs per month"].delta) == ("0", "-4")
    assert (figures["MQL→SQL conversion"].value, figures["MQL→SQL conversion"].delta) == (MISSING, None)
    assert figures["SQLs lost"].lower_is_better


def test_the_monthly_comparison_labels_each_month_by_its_own_date(engine: Engine, trial: trials.TrialInfo) -> None:
    before = outcome(engine, OPS, trial.id, Knobs(), "Definition in force")
    after = outcome(engine, OPS, trial.id, Knobs(score_threshold=70), "Your knobs")
    frame = monthly_comparison(before, after)
    assert list(frame["label"]) == ["Jan 2025", "Jan 2025", "Feb 2025", "Feb 2025"]
    assert list(frame["rule"]) == ["Definition in force", "Your knobs"] * 2
    assert frame["mqls"].tolist() == [4, 2, 4, 2]  # at 50: L1 L2 L6 L3, L8 L9 L12 L10; at 70: L1 L2, L8 L10
