"""The weekly sync (core.alignment.agenda, core.alignment.sync): the agenda's numbers against the KPI engine and
by hand, the meeting record, carry-over of actions, the read-only closed record, permissions, exports and the trend.

Settings are the defaults: UTC, business hours Mon–Fri 09:00–17:00, SLA 4 business hours, gates 30%.

The main fixture (LEADS): week W = Mon 3 – Sun 9 Mar 2025 (Thursday 6 Mar: March), the week before
P = Mon 24 Feb – Sun 2 Mar 2025. MQLs of W at Mon 3 Mar 10:00; a response at 11:00 is 60 minutes (met), at
15:00 300 minutes (breached, over 240). SQLs on Tue 4 Mar, rejections on Wed 5 Mar.

    id   source        owner  response  outcome
    W01  paid_search   Alex   met       sql
    W02  paid_search   Alex   met       sql
    W03  paid_search   Alex   breached  sql
    W04  paid_search   Alex   breached  rejected "No budget"
    W05  paid_search   Alex   breached  rejected "No budget"
    W06  paid_search   Alex   met       open
    W07  webinar       Dana   met       sql
    W08  webinar       Dana   met       sql
    W09  webinar       Dana   met       sql
    W10  webinar       Dana   met       sql
    W11  webinar       Dana   breached  rejected "Duplicate"
    W12  events        Kim    breached  sql
    W13  events        Kim    breached  sql
    P: Q01–Q02 paid_search Alex sql (Tue 25 Feb), Q03 paid_search Alex rejected "No budget" on Wed 5 Mar (in W),
       Q04 paid_search Alex open, Q05–Q06 webinar Dana open (all MQL Mon 24 Feb 10:00, response 11:00),
       Q07–Q08 organic_search Kim open, MQL Sat 1 Mar 10:00 (March!), response Mon 3 Mar 10:00 (60 business min).
    X01  paid_search Alex, MQL Mon 10 Mar (the week after W: in neither W nor W's month to date).
    N01  referral Alex, created Tue 4 Mar, never an MQL.
    Targets: February 20 MQLs, March 40 MQLs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from core.alignment.agenda import SECTIONS, agenda, rejection_lines, trend, volume_lines
from core.alignment.sync import (
    SyncError,
    actions_csv,
    add_action,
    all_actions,
    close_meeting,
    meeting_for,
    meeting_markdown,
    meetings,
    open_from_before,
    open_meeting,
    review_action,
    save_notes,
    update_action,
)
from core.db import session_scope
from core.funnel.kpis import KpiQuery, kpi_table
from core.imports.display_names import set_name
from core.imports.runs import import_csv
from core.models import AuditEntry
from core.permissions import Actor, PermissionDenied
from core.rejections.explorer import by_reason, overview
from core.rejections.scope import RejectionQuery
from tests.conftest import TESTER, csv_file, snapshot

OPS = Actor("olivia", "ops")
ADMIN = Actor("ada", "admin")
W = dt.date(2025, 3, 3)
SUNDAY = W + dt.timedelta(days=6)
P = W - dt.timedelta(days=7)
W1, W2 = W + dt.timedelta(weeks=1), W + dt.timedelta(weeks=2)
DUE = dt.date(2025, 3, 14)
LEAD_COLUMNS = (
    "lead_id",
    "created_at",
    "source",
    "owner",
    "mql_at",
    "sql_at",
    "rejected_at",
    "rejection_reason",
    "first_response_at",
)

MET, BREACHED = "2025-03-03 11:00:00", "2025-03-03 15:00:00"
SQL, REJECTED = "2025-03-04 10:00:00", "2025-03-05 10:00:00"


def lead(
    lead_id: str,
    mql: str,
    source: str,
    owner: str,
    response: str | None,
    sql: str | None = None,
    rejected: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    created = (dt.datetime.fromisoformat(mql) - dt.timedelta(hours=2)).isoformat(sep=" ")
    return {
        "lead_id": lead_id,
        "created_at": created,
        "source": source,
        "owner": owner,
        "mql_at": mql,
        "sql_at": sql,
        "rejected_at": rejected,
        "rejection_reason": reason,
        "first_response_at": response,
    }


def import_leads(engine: Engine, rows: list[dict[str, Any]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LEAD_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    import_csv(engine, "leads", csv_file(out.getvalue(), "leads.csv"), actor=TESTER)


def import_targets(engine: Engine, text: str) -> None:
    import_csv(engine, "targets", csv_file("month,metric,value\n" + text, "targets.csv"), actor=TESTER)


def main_rows() -> list[dict[str, Any]]:
    mon = "2025-03-03 10:00:00"
    rows = [
        lead("W01", mon, "paid_search", "Alex", MET, sql=SQL),
        lead("W02", mon, "paid_search", "Alex", MET, sql=SQL),
        lead("W03", mon, "paid_search", "Alex", BREACHED, sql=SQL),
        lead("W04", mon, "paid_search", "Alex", BREACHED, rejected=REJECTED, reason="No budget"),
        lead("W05", mon, "paid_search", "Alex", BREACHED, rejected=REJECTED, reason="No budget"),
        lead("W06", mon, "paid_search", "Alex", MET),
        *(lead(f"W{n:02d}", mon, "webinar", "Dana", MET, sql=SQL) for n in range(7, 11)),
        lead("W11", mon, "webinar", "Dana", BREACHED, rejected=REJECTED, reason="Duplicate"),
        lead("W12", mon, "events", "Kim", BREACHED, sql=SQL),
        lead("W13", mon, "events", "Kim", BREACHED, sql=SQL),
    ]
    before, answered, accepted = "2025-02-24 10:00:00", "2025-02-24 11:00:00", "2025-02-25 10:00:00"
    rows += [
        lead("Q01", before, "paid_search", "Alex", answered, sql=accepted),
        lead("Q02", before, "paid_search", "Alex", answered, sql=accepted),
        lead("Q03", before, "paid_search", "Alex", answered, rejected=REJECTED, reason="No budget"),
        lead("Q04", before, "paid_search", "Alex", answered),
        lead("Q05", before, "webinar", "Dana", answered),
        lead("Q06", before, "webinar", "Dana", answered),
        lead("Q07", "2025-03-01 10:00:00", "organic_search", "Kim", "2025-03-03 10:00:00"),
        lead("Q08", "2025-03-01 10:00:00", "organic_search", "Kim", "2025-03-03 10:00:00"),
        lead("X01", "2025-03-10 10:00:00", "paid_search", "Alex", "2025-03-10 11:00:00"),
        # Created in W but never an MQL: its source has no MQL either week and is not listed.
        {"lead_id": "N01", "created_at": "2025-03-04 09:00:00", "source": "referral", "owner": "Alex"},
    ]
    return rows


@pytest.fixture
def funnel(engine: Engine) -> Engine:
    import_leads(engine, main_rows())
    import_targets(engine, "2025-02-01,mqls,20\n2025-03-01,mqls,40\n")
    return engine


def same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and math.isnan(left):
        return isinstance(right, float) and math.isnan(right)
    return left == pytest.approx(right)


AGENDA_KPIS = (
    "mqls",
    "sqls",
    "mql_to_sql",
    "dispositioned",
    "rejected",
    "rejection_share",
    "sla_met",
    "sla_breached",
    "sla_pending",
    "sla_compliance",
    "median_response_hours",
    "mql_target",
)


def rows_of(engine: Engine, query: KpiQuery) -> pd.DataFrame:
    return kpi_table(engine, query)


# ------------------------------------------------------------------ 1. the agenda's numbers


def test_agenda_company_rows_equal_the_kpi_engine(funnel: Engine) -> None:
    plan = agenda(funnel, W + dt.timedelta(days=2))  # any day of the week
    assert (plan.week, plan.last_day) == (W, SUNDAY)
    now = rows_of(funnel, KpiQuery(W, SUNDAY, "range")).iloc[0]
    before = rows_of(funnel, KpiQuery(P, P + dt.timedelta(days=6), "range")).iloc[0]
    for column in AGENDA_KPIS:
        assert same(float(plan.company[column]), float(now[column])), column
        assert same(float(plan.previous[column]), float(before[column])), column
    # By hand: W has 13 MQLs (W01–W13), 9 SQLs (W01–03, W07–10, W12–13); decided 9 + 3 rejected = 12.
    assert (plan.company["mqls"], plan.company["sqls"], plan.company["dispositioned"]) == (13, 9, 12)
    assert plan.company["mql_to_sql"] == pytest.approx(9 / 13)
    # Met: W01, W02, W06 (Alex), W07–W10 (Dana) = 7; breached W03–W05, W11, W12, W13 = 6.
    assert (plan.company["sla_met"], plan.company["sla_breached"]) == (7, 6)
    assert plan.company["sla_compliance"] == pytest.approx(7 / 13)
    assert plan.company["median_response_hours"] == pytest.approx(1.0)  # 7th of 60×7, 300×6 minutes
    # P: Q01–Q08 (Q07, Q08 on Sat 1 Mar are still P's), 2 SQLs.
    assert (plan.previous["mqls"], plan.previous["sqls"]) == (8, 2)
    assert plan.label == "Week 10, 2025 (03 Mar – 09 Mar 2025)"


def test_agenda_by_source_and_by_owner_equal_the_kpi_engine(funnel: Engine) -> None:
    plan = agenda(funnel, W)
    now = rows_of(funnel, KpiQuery(W, SUNDAY, "range", "source")).set_index("group")
    before = rows_of(funnel, KpiQuery(P, P + dt.timedelta(days=6), "range", "source")).set_index("group")
    # Most MQLs first; organic_search had MQLs only last week and is still listed.
    assert plan.by_source["source"].tolist() == ["paid_search", "webinar", "events", "organic_search"]
    for row in plan.by_source.itertuples():
        this = now.loc[row.source] if row.source in now.index else None
        assert row.mqls == (0 if this is None else this["mqls"])
        assert row.sqls == (0 if this is None else this["sqls"])
        assert row.dispositioned == (0 if this is None else this["dispositioned"])
        if this is not None:
            assert same(float(row.mql_to_sql), float(this["mql_to_sql"]))
        assert row.previous_mqls == (before.loc[row.source, "mqls"] if row.source in before.index else 0)
    assert plan.by_source.set_index("source")["previous_mqls"].to_dict() == {
        "paid_search": 4,
        "webinar": 2,
        "events": 0,
        "organic_search": 2,
    }
    owners = rows_of(funnel, KpiQuery(W, SUNDAY, "range", "owner")).set_index("group")
    for row in plan.by_owner.itertuples():
        assert (row.sla_met, row.sla_breached) == (
            owners.loc[row.owner, "sla_met"],
            owners.loc[row.owner, "sla_breached"],
        )
    assert plan.by_owner.set_index("owner")["sla_breached"].to_dict() == {"Alex": 3, "Dana": 1, "Kim": 2}


def test_agenda_lines_by_hand(funnel: Engine) -> None:
    plan = agenda(funnel, W)
    assert plan.month_days == (9, 31)  # 1–9 March of 31 days
    # Month to date: Q07, Q08 (Sat 1 Mar) + W01–W13 = 15; X01 (10 Mar) is after the week.
    assert plan.month["mqls"] == 15
    assert plan.month["mql_target"] == pytest.approx(40)  # the whole month's target, not 9/31 of it
    assert plan.month_projection() == pytest.approx(15 / 9 * 31)  # 51.67
    assert plan.section_lines("volume") == [
        "13 MQLs this week (+5 on last week).",
        "Month to date 15 of a 40 target (38%), heading for 52: on track.",
    ]
    # 9/13 = 69.2%, last week 2/8 = 25%: +44.2 points. Ranked (>= 5 MQLs): webinar 4/5, paid_search 3/6;
    # events (2/2 = 100%) has too few MQLs to rank.
    assert plan.section_lines("conversion") == [
        "MQL→SQL conversion 69% (9 of 13), +44.2 pts on last week; gate 30%.",
        "12 of the week's 13 MQLs are decided so far.",
        "Best converting sources: Webinar 80%, Paid search 50%.",  # sources by their display names
    ]
    # Rejections logged in W: W04, W05, Q03 "No budget", W11 "Duplicate". W's cohort: 3 rejected of 12 decided.
    assert plan.section_lines("rejections") == [
        "Unqualified share 25% (gate 30%).",
        "Top reasons: No budget 3 (75%), Duplicate 1 (25%).",
    ]
    # Alex 3 of 6 met (3 breached), Dana 4 of 5 (1 breached); Kim 0 of 2 has too few to rank.
    assert plan.section_lines("sla") == [
        "SLA compliance 54% (7 of 13 within 4 business hours); median response 1.0 h.",
        "Bottleneck owners: Alex 50% (3 breached), Dana 80% (1 breached).",
    ]
    assert plan.section_lines("actions") == []
    assert plan.points() == [line for s in SECTIONS for line in plan.section_lines(s.key)]


def test_each_section_is_one_function_of_the_agenda(funnel: Engine) -> None:
    plan = agenda(funnel, W)
    assert [(s.key, s.title, s.minutes) for s in SECTIONS] == [
        ("volume", "MQL volume vs target", 5),
        ("conversion", "MQL→SQL conversion", 5),
        ("rejections", "Rejection analysis", 10),
        ("sla", "Response-SLA compliance", 5),
        ("actions", "Next week's actions", 5),
    ]
    assert sum(s.minutes for s in SECTIONS) == 30
    # One section alone, on an agenda changed by hand: no streaks, no reasons, nothing decided.
    quiet = replace(plan, streaks=[], reasons=plan.reasons.head(0), unqualified_share=math.nan)
    assert rejection_lines(quiet) == ["No MQL of the week has been accepted or rejected yet."]
    assert volume_lines(plan) == plan.section_lines("volume")


def test_agenda_names_sources_as_ops_named_them(funnel: Engine) -> None:
    set_name(funnel, "paid_search", "Google Ads", actor=OPS)
    plan = agenda(funnel, W)
    assert plan.section_lines("conversion")[-1] == "Best converting sources: Webinar 80%, Google Ads 50%."
    assert list(plan.sources_table()["Source"]) == ["Google Ads", "Webinar", "Events", "Organic search"]
    assert list(plan.by_source["source"]) == ["paid_search", "webinar", "events", "organic_search"]  # as stored


def test_agenda_behind_and_without_a_target(funnel: Engine) -> None:
    import_targets(funnel, "2025-03-01,mqls,60\n")  # replaces March's 40
    plan = agenda(funnel, W)
    assert plan.section_lines("volume")[1] == "Month to date 15 of a 60 target (25%), heading for 52: behind."
    # April has no target: the week of Mon 31 Mar – Sun 6 Apr 2025 is April's (Thursday 3 Apr); no MQLs in it
    # nor in the week before (X01 is of 10 Mar).
    april = agenda(funnel, dt.date(2025, 3, 31))
    assert april.month_days == (6, 30)
    assert april.section_lines("volume") == [
        "0 MQLs this week (+0 on last week).",
        "Month to date 0; no MQL target for the month.",
    ]


def test_agenda_of_an_empty_database(engine: Engine) -> None:
    plan = agenda(engine, W)
    assert plan.points() == [
        "0 MQLs this week (+0 on last week).",
        "Month to date 0; no MQL target for the month.",
        "MQL→SQL conversion — (0 of 0); gate 30%.",
        "0 of the week's 0 MQLs are decided so far.",
        "No MQL of the week has been accepted or rejected yet.",
        "No MQL of the week could be judged against the SLA yet.",
    ]
    assert plan.by_source.empty and plan.bottlenecks().empty and plan.streaks == []


def test_week_spanning_two_months_belongs_to_its_thursdays_month(engine: Engine) -> None:
    # Mon 30 Mar – Sun 5 Apr 2026: Thursday 2 Apr, so April's. Month to date is 1–5 April, 5 of 30 days.
    rows = [
        *(lead(f"M{n}", "2026-03-31 10:00:00", "webinar", "Ann", "2026-03-31 11:00:00") for n in range(3)),
        *(lead(f"A{n}", "2026-04-02 10:00:00", "webinar", "Ann", "2026-04-02 11:00:00") for n in range(2)),
        lead("A9", "2026-04-04 10:00:00", "webinar", "Ann", None),
        lead("N1", "2026-04-06 10:00:00", "webinar", "Ann", None),  # the week after
    ]
    import_leads(engine, rows)
    import_targets(engine, "2026-03-01,mqls,100\n2026-04-01,mqls,30\n")
    plan = agenda(engine, dt.date(2026, 4, 2))
    assert plan.week == dt.date(2026, 3, 30)
    assert plan.month_days == (5, 30)
    assert plan.company["mqls"] == 6  # 3 on 31 Mar + 2 on 2 Apr + 1 on 4 Apr
    assert plan.month["mqls"] == 3  # 2 Apr ×2, 4 Apr; March's 31st is not April's
    assert plan.month["mql_target"] == pytest.approx(30)
    # 3 in 5 days of 30: heading for 18 of 30.
    assert plan.section_lines("volume") == [
        "6 MQLs this week (+6 on last week).",
        "Month to date 3 of a 30 target (10%), heading for 18: behind.",
    ]


def test_week_ending_in_the_next_month_belongs_to_its_thursdays_month(engine: Engine) -> None:
    # Mon 26 Jan – Sun 1 Feb 2026: Thursday 29 Jan, so January's; month to date is the whole of January.
    rows = [
        *(lead(f"J{n}", "2026-01-05 10:00:00", "events", "Kim", "2026-01-05 11:00:00") for n in range(4)),
        *(lead(f"K{n}", "2026-01-27 10:00:00", "events", "Kim", "2026-01-27 11:00:00") for n in range(3)),
        lead("F1", "2026-02-01 10:00:00", "events", "Kim", None),  # Sunday 1 Feb: the week's, not January's
    ]
    import_leads(engine, rows)
    import_targets(engine, "2026-01-01,mqls,7\n2026-02-01,mqls,100\n")
    plan = agenda(engine, dt.date(2026, 1, 26))
    assert plan.month_days == (31, 31)
    assert plan.company["mqls"] == 4  # K0–K2 + F1
    assert plan.month["mqls"] == 7  # J0–J3 + K0–K2
    # 7 of 7 with the month over: exactly on target is on track.
    assert plan.section_lines("volume") == [
        "4 MQLs this week (+4 on last week).",
        "Month to date 7 of a 7 target (100%), heading for 7: on track.",
    ]


def test_a_month_exactly_on_target_is_on_track(engine: Engine) -> None:
    # Mon 24 Feb – Sun 2 Mar 2025 is February's (Thursday 27 Feb): the month is over, 28 of 28 days.
    rows = [lead(f"F{n:02d}", "2025-02-03 10:00:00", "events", "Kim", "2025-02-03 11:00:00") for n in range(61)]
    import_leads(engine, rows)
    import_targets(engine, "2025-02-01,mqls,61\n")
    plan = agenda(engine, dt.date(2025, 2, 24))
    assert plan.month_days == (28, 28)
    assert plan.section_lines("volume")[1] == "Month to date 61 of a 61 target (100%), heading for 61: on track."


def test_rejection_section_equals_the_rejections_explorer(funnel: Engine) -> None:
    plan = agenda(funnel, W)
    week = RejectionQuery(W, SUNDAY)
    expected = by_reason(funnel, week)
    pd.testing.assert_frame_equal(plan.reasons.reset_index(drop=True), expected)
    assert plan.reasons[["reason", "rejections"]].values.tolist() == [["No budget", 3], ["Duplicate", 1]]
    summary = overview(funnel, week)
    assert plan.unqualified_share == pytest.approx(summary.unqualified_share) == pytest.approx(3 / 12)
    assert plan.unqualified_share == pytest.approx(plan.company["rejection_share"])
    assert plan.rejection_gate == pytest.approx(0.30)
    assert plan.streaks == []


def streak_rows() -> list[dict[str, Any]]:
    """Rejections of Jan 2025, by week (rejected on the week's Tuesday; MQLs of Mon 6 Jan):
    W1 6 Jan: No budget 2, Duplicate 1 · W2 13 Jan: No budget 2, Duplicate 1 · W3 20 Jan: No budget 3, Duplicate 1
    W4 27 Jan: Duplicate 2, No budget 1 · W5 3 Feb: none."""
    counts = {
        "2025-01-07": {"No budget": 2, "Duplicate": 1},
        "2025-01-14": {"No budget": 2, "Duplicate": 1},
        "2025-01-21": {"No budget": 3, "Duplicate": 1},
        "2025-01-28": {"Duplicate": 2, "No budget": 1},
    }
    rows = []
    for day, reasons in counts.items():
        for reason, n in reasons.items():
            for i in range(n):
                lead_id = f"R{day[-2:]}{reason[:2]}{i}"
                rows.append(
                    lead(
                        lead_id,
                        "2025-01-06 10:00:00",
                        "events",
                        "Kim",
                        "2025-01-06 11:00:00",
                        None,
                        f"{day} 10:00:00",
                        reason,
                    )
                )
    return rows


def test_recurring_reason_is_flagged_only_while_the_streak_reaches_the_week(engine: Engine) -> None:
    import_leads(engine, streak_rows())
    w3 = agenda(engine, dt.date(2025, 1, 20))
    assert w3.streaks == [
        "“No budget” topped the rejection reasons 3 complete weeks in a row, from the week of 06 Jan 2025 "
        "to the week of 20 Jan 2025 (06 Jan, 13 Jan, 20 Jan)."
    ]
    assert w3.section_lines("rejections")[-1] == "Recurring: " + w3.streaks[0]
    assert w3.reasons[["reason", "rejections"]].values.tolist() == [["No budget", 3], ["Duplicate", 1]]
    assert agenda(engine, dt.date(2025, 1, 13)).streaks == []  # two weeks are not yet a pattern
    # The streak ended in W3: the weeks after it do not repeat last week's news.
    for later in (dt.date(2025, 1, 27), dt.date(2025, 2, 3)):
        plan = agenda(engine, later)
        assert plan.streaks == []
        assert not any(line.startswith("Recurring") for line in plan.section_lines("rejections"))


def test_bottleneck_owners_by_hand(engine: Engine) -> None:
    """Week Mon 2 – Sun 8 Jun 2025; MQLs Mon 2 Jun 10:00, met at 11:00, breached at 15:00.
    Ann 5 judged, 2 breached (60%) · Ben 5, 4 (20%) · Cat 6, 2 (67%) · Dan 5, 1 (80%) · Eve 4, 4 (0%: too few)
    · Fay 30, 3 (90%: not under 90%) · Gus 4 breached + 2 MQLs of Fri 6 Jun 16:00 unanswered, due Mon 9 Jun 12:00."""
    mon, met, late = "2025-06-02 10:00:00", "2025-06-02 11:00:00", "2025-06-02 15:00:00"
    plan_of = {"Ann": (3, 2), "Ben": (1, 4), "Cat": (4, 2), "Dan": (4, 1), "Eve": (0, 4), "Fay": (27, 3), "Gus": (0, 4)}
    rows = []
    for owner, (n_met, n_late) in plan_of.items():
        rows += [lead(f"{owner}m{i}", mon, "events", owner, met) for i in range(n_met)]
        rows += [lead(f"{owner}l{i}", mon, "events", owner, late) for i in range(n_late)]
    rows += [lead(f"Gusp{i}", "2025-06-06 16:00:00", "events", "Gus", None) for i in range(2)]
    import_leads(engine, rows)
    pending = agenda(engine, dt.date(2025, 6, 2), as_of=dt.datetime(2025, 6, 9, 10, 0))
    # Most breaches first, then by name; three at most (Dan, 1 breach, is left out). Gus: 4 judged, too few.
    assert pending.bottlenecks()["owner"].tolist() == ["Ben", "Ann", "Cat"]
    assert pending.section_lines("sla")[1] == (
        "Bottleneck owners: Ben 20% (4 breached), Ann 60% (2 breached), Cat 67% (2 breached)."
    )
    # At 13:00 Gus's two are breached too: 6 judged, 6 breached, 0%.
    later = agenda(engine, dt.date(2025, 6, 2), as_of=dt.datetime(2025, 6, 9, 13, 0))
    assert later.bottlenecks()["owner"].tolist() == ["Gus", "Ben", "Ann"]


def test_trend_rows_equal_the_kpi_engines_weeks(funnel: Engine) -> None:
    rows = trend(funnel, W + dt.timedelta(days=4))
    first = W - dt.timedelta(weeks=12)
    assert rows["week"].tolist() == [first + dt.timedelta(weeks=n) for n in range(13)]
    table = kpi_table(funnel, KpiQuery(first, SUNDAY, "week"))
    for column in ("mqls", "mql_target", "mql_to_sql", "rejection_share", "sla_compliance", "median_response_hours"):
        for mine, theirs in zip(rows[column], table[column], strict=True):
            assert same(float(mine), float(theirs)), column
    assert rows["mqls"].tolist()[-2:] == [8, 13]
    # The week of 24 Feb has 5 days of February (20/28 each) and 2 of March (40/31 each).
    assert rows["mql_target"].iloc[-2] == pytest.approx(5 * 20 / 28 + 2 * 40 / 31)


# ------------------------------------------------------------------ 2. the meeting record


def audit_rows(engine: Engine) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with session_scope(engine) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "sync_meeting").order_by(AuditEntry.id)
        ).all()
        return [(entry.actor, entry.action, entry.entity_key, dict(entry.detail)) for entry in entries]


def count_meetings(engine: Engine) -> int:
    return len(meetings(engine))


def test_open_meeting_is_idempotent_per_iso_week(engine: Engine) -> None:
    first = open_meeting(engine, OPS, W + dt.timedelta(days=3))  # Thursday
    again = open_meeting(engine, ADMIN, W)
    assert first.id == again.id and first.week == W and first.status == "open" and first.revision == 1
    assert again.created_by == "olivia"
    assert count_meetings(engine) == 1
    assert meeting_for(engine, SUNDAY) == first
    assert meeting_for(engine, W1) is None
    assert audit_rows(engine) == [("olivia", "open", "2025-03-03", {})]


def test_save_notes_trims_and_checks_the_revision(engine: Engine) -> None:
    meeting = open_meeting(engine, OPS, W)
    saved = save_notes(
        engine,
        OPS,
        meeting.id,
        {"volume": "  Paid search is flat.  ", "sla": "   ", "actions": "Two actions."},
        ["  Olivia ", "Sam   Lee", "Olivia", "", "Sam Lee", "   "],
        revision=meeting.revision,
    )
    assert saved.notes == {"volume": "Paid search is flat.", "actions": "Two actions."}
    assert saved.attendees == ["Olivia", "Sam Lee"]
    assert saved.revision == meeting.revision + 1
    assert meeting_for(engine, W) == saved
    before = snapshot(engine)
    with pytest.raises(SyncError, match="someone saved this meeting"):
        save_notes(engine, ADMIN, meeting.id, {"volume": "mine"}, ["Ada"], revision=meeting.revision)
    with pytest.raises(SyncError, match="unknown sections bogus"):
        save_notes(engine, OPS, meeting.id, {"bogus": "x"}, [], revision=saved.revision)
    with pytest.raises(SyncError, match="there is no meeting"):
        save_notes(engine, OPS, meeting.id + 999, {}, [])
    assert snapshot(engine) == before
    actor, action, key, detail = audit_rows(engine)[-1]
    assert (actor, action, key) == ("olivia", "edit", "2025-03-03")
    assert detail["after"] == {"notes": saved.notes, "attendees": ["Olivia", "Sam Lee"]}
    assert detail["before"] == {"notes": {}, "attendees": []}


@pytest.mark.parametrize(
    ("team", "text", "owner", "due", "message"),
    [
        ("finance", "Fix the form", "Mia", DUE, "team 'finance' is not one of marketing, sales, ops"),
        ("marketing", "   ", "Mia", DUE, "needs a description"),
        ("marketing", "Fix the form", "  ", DUE, "needs an owner"),
        ("marketing", "Fix the form", "Mia", None, "needs a due date"),
        ("marketing", "x" * 501, "Mia", DUE, "at most 500 characters"),
        ("marketing", "Fix the form", "m" * 129, DUE, "at most 500 characters and its owner's name 128"),
    ],
)
def test_add_action_validates(
    engine: Engine, team: str, text: str, owner: str, due: dt.date | None, message: str
) -> None:
    meeting = open_meeting(engine, OPS, W)
    before = snapshot(engine)
    with pytest.raises(SyncError, match=message):
        add_action(engine, OPS, meeting.id, team, text, owner, due)
    assert snapshot(engine) == before


def test_add_and_update_action(engine: Engine) -> None:
    meeting = open_meeting(engine, OPS, W)
    action = add_action(engine, OPS, meeting.id, "marketing", "  Fix   the form ", " Mia  Park ", DUE)
    assert (action.meeting_id, action.week, action.team, action.text, action.owner) == (
        meeting.id,
        W,
        "marketing",
        "Fix the form",
        "Mia Park",
    )
    assert (action.due, action.status, action.carried_from, action.reviewed_in) == (DUE, "open", None, None)
    edited = update_action(
        engine,
        ADMIN,
        action.id,
        team="sales",
        text="Call Beta",
        owner="Sam",
        due=DUE + dt.timedelta(days=7),
        status="done",
    )
    assert (edited.team, edited.text, edited.owner, edited.due, edited.status) == (
        "sales",
        "Call Beta",
        "Sam",
        DUE + dt.timedelta(days=7),
        "done",
    )
    assert meeting_for(engine, W).actions == [edited]  # type: ignore[union-attr]
    before = snapshot(engine)
    with pytest.raises(SyncError, match="not 'finished'"):
        update_action(engine, OPS, action.id, team="sales", text="x", owner="Sam", due=DUE, status="finished")  # type: ignore[arg-type]
    with pytest.raises(SyncError, match="there is no action"):
        update_action(engine, OPS, action.id + 999, team="sales", text="x", owner="Sam", due=DUE, status="open")
    with pytest.raises(SyncError, match="needs an owner"):
        update_action(engine, OPS, action.id, team="sales", text="x", owner=" ", due=DUE, status="open")
    assert snapshot(engine) == before
    log = audit_rows(engine)
    assert [(a, act, key) for a, act, key, _ in log] == [
        ("olivia", "open", "2025-03-03"),
        ("olivia", "add action", "2025-03-03"),
        ("ada", "edit action", "2025-03-03"),
    ]
    assert log[1][3] == {"action_id": action.id, "team": "marketing", "text": "Fix the form", "owner": "Mia Park"}
    assert log[2][3]["before"]["status"] == "open" and log[2][3]["after"]["status"] == "done"


# ------------------------------------------------------------------ 3. carry-over


def test_carry_over_between_meetings(engine: Engine) -> None:
    m0 = open_meeting(engine, OPS, W)
    a = add_action(engine, OPS, m0.id, "marketing", "Fix the form", "Mia", DUE)
    b = add_action(engine, OPS, m0.id, "sales", "Call back Beta", "Sam", DUE)
    c = add_action(engine, OPS, m0.id, "ops", "Already done", "Olivia", DUE)
    update_action(engine, OPS, c.id, team="ops", text="Already done", owner="Olivia", due=DUE, status="done")
    close_meeting(engine, OPS, m0.id)
    m1 = open_meeting(engine, OPS, W1)
    assert [(x.id, x.week) for x in open_from_before(engine, W1)] == [(a.id, W), (b.id, W)]
    assert [m.week for m in meetings(engine)] == [W1, W]  # newest first
    assert open_from_before(engine, W) == []  # nothing before the first meeting

    assert review_action(engine, OPS, m1.id, a.id, "done") is None
    copy = review_action(engine, OPS, m1.id, b.id, "carried over")
    assert copy is not None
    assert (copy.meeting_id, copy.week, copy.status, copy.carried_from, copy.reviewed_in) == (
        m1.id,
        W1,
        "open",
        b.id,
        None,
    )
    assert (copy.team, copy.text, copy.owner, copy.due) == ("sales", "Call back Beta", "Sam", DUE)
    old = {x.id: x for x in meeting_for(engine, W).actions}  # type: ignore[union-attr]
    assert (old[a.id].status, old[a.id].reviewed_in) == ("done", m1.id)
    assert (old[b.id].status, old[b.id].reviewed_in) == ("carried over", m1.id)
    assert old[c.id].reviewed_in is None
    assert meeting_for(engine, W1).actions == [copy]  # type: ignore[union-attr]
    assert open_from_before(engine, W1) == []
    # The week after sees the carried copy while it is open.
    m2 = open_meeting(engine, OPS, W2)
    assert [(x.id, x.week, x.carried_from) for x in open_from_before(engine, W2)] == [(copy.id, W1, b.id)]

    later = add_action(engine, OPS, m2.id, "ops", "New in W2", "Olivia", DUE)
    before = snapshot(engine)
    with pytest.raises(SyncError, match="already done"):
        review_action(engine, OPS, m1.id, a.id, "dropped")
    with pytest.raises(SyncError, match="already carried over"):
        review_action(engine, OPS, m1.id, b.id, "carried over")
    with pytest.raises(SyncError, match="only an action of an earlier meeting"):
        review_action(engine, OPS, m1.id, copy.id, "done")  # the same meeting's
    with pytest.raises(SyncError, match="only an action of an earlier meeting"):
        review_action(engine, OPS, m1.id, later.id, "done")  # a later meeting's
    with pytest.raises(SyncError, match="not 'open'"):
        review_action(engine, OPS, m2.id, copy.id, "open")  # type: ignore[arg-type]
    with pytest.raises(SyncError, match="there is no action"):
        review_action(engine, OPS, m2.id, later.id + 999, "done")
    assert snapshot(engine) == before

    again = review_action(engine, OPS, m2.id, copy.id, "carried over")
    assert again is not None and again.carried_from == copy.id and again.week == W2
    review_kinds = [(act, key, d.get("decision")) for _, act, key, d in audit_rows(engine) if act == "review action"]
    assert review_kinds == [
        ("review action", "2025-03-10", "done"),
        ("review action", "2025-03-10", "carried over"),
        ("review action", "2025-03-17", "carried over"),
    ]
    frame = all_actions(engine)
    # Newest week first: W2 holds "New in W2" and the copy that continues W1's copy.
    assert frame[frame["week"] == W2]["carried from week"].tolist() == [None, W1]
    assert frame[frame["week"] == W1]["carried from week"].tolist() == [W]


def test_dropped_action_leaves_the_list(engine: Engine) -> None:
    m0 = open_meeting(engine, OPS, W)
    a = add_action(engine, OPS, m0.id, "ops", "Clean owners", "Olivia", DUE)
    m1 = open_meeting(engine, OPS, W1)  # the earlier meeting need not be closed
    assert review_action(engine, ADMIN, m1.id, a.id, "dropped") is None
    assert open_from_before(engine, W1) == [] and open_from_before(engine, W2) == []
    assert meeting_for(engine, W).actions[0].status == "dropped"  # type: ignore[union-attr]


def test_update_action_cannot_carry_over_without_a_copy(engine: Engine) -> None:
    m0 = open_meeting(engine, OPS, W)
    action = add_action(engine, OPS, m0.id, "sales", "Call Beta", "Sam", DUE)
    try:
        update_action(
            engine, OPS, action.id, team="sales", text="Call Beta", owner="Sam", due=DUE, status="carried over"
        )
    except SyncError:
        return  # refused: only review_action carries an action over
    # Or, if accepted, it must have been carried somewhere: a copy that continues it, and who reviewed it.
    frame = all_actions(engine)
    assert (frame["carried from week"] == W).any(), "no copy continues the 'carried over' action"


# ------------------------------------------------------------------ 4. a closed meeting is read-only


def test_closed_meeting_is_read_only(engine: Engine) -> None:
    earlier = open_meeting(engine, OPS, P)
    pending = add_action(engine, OPS, earlier.id, "sales", "Earlier action", "Sam", DUE)
    meeting = open_meeting(engine, OPS, W)
    own = add_action(engine, OPS, meeting.id, "marketing", "Own action", "Mia", DUE)
    saved = save_notes(engine, OPS, meeting.id, {"volume": "ok"}, ["Olivia"])
    closed = close_meeting(engine, ADMIN, meeting.id)
    assert closed.closed and closed.closed_by == "ada" and closed.closed_at is not None
    assert closed.revision == saved.revision + 1
    before = snapshot(engine)
    attempts = [
        lambda: save_notes(engine, OPS, meeting.id, {"volume": "changed"}, ["Olivia"]),
        lambda: save_notes(engine, OPS, meeting.id, {"volume": "changed"}, ["Olivia"], revision=closed.revision),
        lambda: add_action(engine, OPS, meeting.id, "ops", "Late action", "Olivia", DUE),
        lambda: update_action(engine, OPS, own.id, team="ops", text="Changed", owner="Olivia", due=DUE, status="done"),
        lambda: review_action(engine, OPS, meeting.id, pending.id, "done"),
        lambda: review_action(engine, OPS, meeting.id, pending.id, "carried over"),
        lambda: close_meeting(engine, OPS, meeting.id),
    ]
    for attempt in attempts:
        with pytest.raises(SyncError, match="is closed; its record is read-only"):
            attempt()
        assert snapshot(engine) == before
    assert meeting_for(engine, W) == closed
    assert open_from_before(engine, W1)[0].id == pending.id  # still open: the closed meeting did not review it


def test_closed_numbers_stay_as_at_close(funnel: Engine) -> None:
    meeting = open_meeting(funnel, OPS, W)
    expected = {section.key: agenda(funnel, W).section_lines(section.key) for section in SECTIONS}
    closed = close_meeting(funnel, OPS, meeting.id)
    assert closed.numbers == expected
    assert closed.numbers["volume"][0] == "13 MQLs this week (+5 on last week)."
    assert closed.numbers["actions"] == []
    close_entry = audit_rows(funnel)[-1]
    assert close_entry[:3] == ("olivia", "close", "2025-03-03") and close_entry[3]["numbers"] == expected
    # A later import adds three MQLs to the week: the agenda moves, the closed record does not.
    import_leads(funnel, [lead(f"Z{n}", "2025-03-04 10:00:00", "events", "Kim", None) for n in range(3)])
    now = agenda(funnel, W)
    assert now.section_lines("volume")[0] == "16 MQLs this week (+8 on last week)."
    kept = meeting_for(funnel, W)
    assert kept is not None and kept.numbers == expected
    markdown = meeting_markdown(kept, now)
    assert "- 13 MQLs this week (+5 on last week)." in markdown
    assert "16 MQLs" not in markdown


# ------------------------------------------------------------------ 5. permissions


@pytest.mark.parametrize("role", ["exec", "marketing", "sales", "marketing_lead", "sales_lead"])
def test_only_ops_and_admin_run_the_sync(engine: Engine, role: str) -> None:
    earlier = open_meeting(engine, OPS, W)
    action = add_action(engine, OPS, earlier.id, "sales", "Call Beta", "Sam", DUE)
    current = open_meeting(engine, OPS, W1)
    who = Actor("someone", role)  # type: ignore[arg-type]
    before = snapshot(engine)
    attempts = [
        lambda: open_meeting(engine, who, W2),
        lambda: open_meeting(engine, who, W),  # even one that exists
        lambda: save_notes(engine, who, current.id, {"volume": "x"}, ["x"]),
        lambda: add_action(engine, who, current.id, "sales", "x", "x", DUE),
        lambda: update_action(engine, who, action.id, team="sales", text="x", owner="x", due=DUE, status="done"),
        lambda: review_action(engine, who, current.id, action.id, "done"),
        lambda: close_meeting(engine, who, current.id),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied, match="may not run sync"):
            attempt()
    assert snapshot(engine) == before
    # Reading is everyone's.
    assert meeting_for(engine, W) is not None and len(meetings(engine)) == 2 and len(all_actions(engine)) == 1


@pytest.mark.parametrize("role", ["ops", "admin"])
def test_ops_and_admin_may_run_the_sync(engine: Engine, role: str) -> None:
    who = Actor("runner", role)  # type: ignore[arg-type]
    earlier = open_meeting(engine, who, W)
    action = add_action(engine, who, earlier.id, "sales", "Call Beta", "Sam", DUE)
    update_action(engine, who, action.id, team="sales", text="Call Beta today", owner="Sam", due=DUE, status="open")
    save_notes(engine, who, earlier.id, {"sla": "slow"}, ["Runner"])
    close_meeting(engine, who, earlier.id)
    current = open_meeting(engine, who, W1)
    assert review_action(engine, who, current.id, action.id, "carried over") is not None
    assert [(a, act) for a, act, _, _ in audit_rows(engine)] == [
        ("runner", "open"),
        ("runner", "add action"),
        ("runner", "edit action"),
        ("runner", "edit"),
        ("runner", "close"),
        ("runner", "open"),
        ("runner", "review action"),
    ]


# ------------------------------------------------------------------ 6. exports


def test_actions_csv_is_formula_safe_and_lists_every_action(engine: Engine) -> None:
    m0 = open_meeting(engine, OPS, W)
    formula = add_action(engine, OPS, m0.id, "marketing", '=HYPERLINK("http://evil.example","x")', "@mia", DUE)
    plain = add_action(engine, OPS, m0.id, "sales", "Call Beta", "Sam", DUE)
    close_meeting(engine, OPS, m0.id)
    m1 = open_meeting(engine, OPS, W1)
    review_action(engine, OPS, m1.id, plain.id, "carried over")
    add_action(engine, OPS, m1.id, "ops", "+1 more owner field", "-Olivia", DUE)
    data = actions_csv(engine)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(rows[0]) == ["week", "team", "action", "owner", "due", "status", "carried from week"]
    assert len(rows) == 4 == len(all_actions(engine))
    # Newest week first, then by id.
    assert [(r["week"], r["team"], r["action"], r["owner"], r["status"], r["carried from week"]) for r in rows] == [
        ("2025-03-10", "Sales", "Call Beta", "Sam", "open", "2025-03-03"),
        ("2025-03-10", "Ops", "'+1 more owner field", "'-Olivia", "open", ""),
        ("2025-03-03", "Marketing", '\'=HYPERLINK("http://evil.example","x")', "'@mia", "open", ""),
        ("2025-03-03", "Sales", "Call Beta", "Sam", "carried over", ""),
    ]
    assert formula.id  # the formula action is listed above, neutralised
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert all(r["due"] == "2025-03-14" for r in rows)


def test_meeting_markdown(funnel: Engine) -> None:
    meeting = open_meeting(funnel, OPS, W)
    notes = {s.key: f"Note on {s.key}." for s in SECTIONS}
    meeting = save_notes(funnel, OPS, meeting.id, notes, ["Olivia", "Sam Lee"])
    add_action(funnel, OPS, meeting.id, "marketing", "Split | the form", "Mia", DUE)
    add_action(funnel, OPS, meeting.id, "sales", "=cmd()", "Sam", DUE)
    current = agenda(funnel, W)
    text = meeting_markdown(meeting_for(funnel, W), current)  # type: ignore[arg-type]
    assert text.startswith("# Weekly sync: Week 10, 2025 (03 Mar – 09 Mar 2025)\n")
    assert "Status: open\n" in text
    assert "Attendees: Olivia, Sam Lee\n" in text
    titles = [
        "## MQL volume vs target (5 min)",
        "## MQL→SQL conversion (5 min)",
        "## Rejection analysis (10 min)",
        "## Response-SLA compliance (5 min)",
        "## Next week's actions (5 min)",
    ]
    positions = [text.index(title) for title in titles]
    assert positions == sorted(positions)
    for title, section in zip(titles, SECTIONS, strict=True):
        body = text[text.index(title) :].split("\n## ")[0]
        assert f"Note on {section.key}." in body
        for line in current.section_lines(section.key):
            assert "- " + line.replace("_", "\\_") in body  # paid_search: "_" is escaped
    assert "- 13 MQLs this week (+5 on last week)." in text
    assert "| team | action | owner | due | status |" in text
    assert "| Marketing | Split \\| the form | Mia | 14 Mar 2025 | open |" in text
    assert "| Sales | '=cmd() | Sam | 14 Mar 2025 | open |" in text
    # Every row of the actions table has its five cells: the escaped pipe does not add one.
    table = [line for line in text.splitlines() if line.startswith("| Marketing")]
    assert len(table[0].replace("\\|", "").split("|")) == 7

    closed = close_meeting(funnel, OPS, meeting.id)
    closed_text = meeting_markdown(closed, current)
    assert "Status: closed, closed by olivia\n" in closed_text


def test_markdown_of_a_meeting_without_actions(engine: Engine) -> None:
    meeting = open_meeting(engine, OPS, W)
    text = meeting_markdown(meeting, agenda(engine, W))
    assert "Attendees: —\n" in text
    assert "| — | no actions recorded | | | |" in text
