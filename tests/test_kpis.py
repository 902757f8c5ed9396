"""Every KPI on the hand-made fixture (tests/fixtures.py), with the arithmetic written out."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import Engine

from core.admin.settings import save
from core.db import session_scope
from core.funnel.kpis import KpiQuery, kpi_records, kpi_table
from core.funnel.segments import Filters
from tests.conftest import TESTER
from tests.fixtures import load_fixture

JAN = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))
AS_OF = dt.datetime(2025, 2, 3, 10, 0)  # L6's SLA (due Mon 3 Feb 12:00) is still open


@pytest.fixture
def company(engine: Engine) -> Engine:
    load_fixture(engine)
    return engine


def month(engine: Engine, **kwargs: object) -> dict[str, object]:
    table = kpi_table(engine, KpiQuery(*JAN, grain="month", as_of=AS_OF, **kwargs))  # type: ignore[arg-type]
    assert len(table) == 1
    return kpi_records(table)[0]


def test_lead_cohort_kpis(company: Engine) -> None:
    row = month(company)
    assert row["mqls"] == 6  # L1–L6; L7 never became an MQL, L8 is February's
    assert row["mql_target"] == pytest.approx(5)
    assert row["mql_attainment"] == pytest.approx(6 / 5)
    assert row["sqls"] == 2  # L1, L4
    assert row["mql_to_sql"] == pytest.approx(2 / 6)
    assert row["leads_created"] == 7  # L1–L7 were created in January; L8 on 3 February
    assert row["opportunity_mqls"] == 2  # L1 (O1) and L4 (O3); O2, O4 and O5 have no lead
    assert row["won_mqls"] == 2  # L1 via O1, L4 via O3
    assert row["mql_to_won"] == pytest.approx(2 / 6)
    assert row["dispositioned"] == 4  # L1, L4 accepted; L2, L3 rejected
    assert row["rejected"] == 2
    assert row["rejection_share"] == pytest.approx(2 / 4)
    assert row["rejected_no_reason"] == 1  # L3's reason is empty
    assert row["complete_mqls"] == 2  # L1, L4 have company, title, email, source and intent
    assert row["data_completeness"] == pytest.approx(2 / 6)


def test_response_sla(company: Engine) -> None:
    row = month(company)
    # L1: Mon 10:00 -> 11:00 = 60 min, met.
    # L2: Fri 16:00 -> Mon 10:00 = 60 + 60 = 120 business minutes across the weekend, met.
    # L3: Mon 09:00 -> Tue 12:00 = 480 + 180 = 660, breached.
    # L4: responded 30 min before the MQL: 0, met.
    # L5: no response, due Mon 20 Jan 14:00 < as-of, breached.
    # L6: no response, Fri 31 Jan 16:00 + 4h = Mon 3 Feb 12:00 > as-of 10:00, pending (left out).
    assert (row["sla_met"], row["sla_breached"], row["sla_pending"]) == (3, 2, 1)
    assert row["sla_compliance"] == pytest.approx(3 / 5)
    assert row["responded"] == 4
    assert row["median_response_hours"] == pytest.approx((60 + 120) / 2 / 60)  # of 0, 60, 120, 660


def test_pending_becomes_breached_when_the_window_passes(company: Engine) -> None:
    later = kpi_table(company, KpiQuery(*JAN, as_of=dt.datetime(2025, 2, 3, 12, 30)))
    assert (later.loc[0, "sla_met"], later.loc[0, "sla_breached"], later.loc[0, "sla_pending"]) == (3, 3, 0)


def test_opportunity_kpis(company: Engine) -> None:
    row = month(company)
    assert row["opportunities_created"] == 4  # O1–O4; O5 was created in December
    assert row["pipeline_created"] == pytest.approx(35_000)  # O4 has no amount
    assert row["opportunities_without_amount"] == 1
    # O1 says marketing; O3 has no origin but its lead L4 is an MQL; O2 says sales.
    assert row["pipeline_marketing"] == pytest.approx(30_000)
    assert row["pipeline_sales"] == pytest.approx(5_000)
    assert row["pipeline_target"] == pytest.approx(40_000)
    assert row["pipeline_attainment"] == pytest.approx(35_000 / 40_000)
    assert row["closed"] == 4  # O1, O2, O3 and December's O5
    assert row["won"] == 3
    assert row["win_rate"] == pytest.approx(3 / 4)
    assert row["won_amount"] == pytest.approx(33_000)
    assert row["median_cycle_days"] == pytest.approx(20)  # of 10, 20, 31
    assert row["mean_cycle_days"] == pytest.approx(61 / 3)
    # created 4 × mean won amount 11,000 × win rate 0.75 ÷ mean cycle 20.33 days
    assert row["pipeline_velocity_per_day"] == pytest.approx(4 * 11_000 * 0.75 / (61 / 3))


def test_empty_period_is_no_data_not_zero(company: Engine) -> None:
    row = kpi_records(kpi_table(company, KpiQuery(dt.date(2024, 11, 1), dt.date(2024, 11, 30))))[0]
    assert row["mqls"] == 0
    for rate in ("mql_to_sql", "rejection_share", "sla_compliance", "data_completeness", "win_rate", "mql_to_won"):
        assert row[rate] is None, rate
    assert row["median_response_hours"] is None
    assert row["pipeline_velocity_per_day"] is None


def test_weekly_grain_has_every_week_and_partial_edges(company: Engine) -> None:
    table = kpi_table(company, KpiQuery(*JAN, grain="week", as_of=AS_OF))
    assert [d.isoformat() for d in table["period_start"]] == [
        "2025-01-01",
        "2025-01-06",
        "2025-01-13",
        "2025-01-20",
        "2025-01-27",
    ]
    assert table["period_end"].iloc[-1] == dt.date(2025, 1, 31)
    assert table["mqls"].tolist() == [0, 2, 2, 1, 1]
    assert math.isnan(table["mql_to_sql"].iloc[0])
    # The monthly target of 5 is spread over 31 days: the week of 6 Jan gets 7/31 of it.
    assert table["mql_target"].iloc[1] == pytest.approx(5 * 7 / 31)
    assert table["mql_target"].sum() == pytest.approx(5)


def test_group_by_source(company: Engine) -> None:
    table = kpi_table(company, KpiQuery(*JAN, by="source", as_of=AS_OF)).set_index("group")
    assert table.loc["paid_search", "mqls"] == 2
    assert table.loc["organic_search", "leads_created"] == 1  # L7, created but never an MQL
    assert table.loc["organic_search", "mqls"] == 0
    assert table.loc["paid_search", "mql_to_sql"] == pytest.approx(0.5)
    assert table.loc["webinar", "rejected_no_reason"] == 1
    assert table.loc["events", "sla_breached"] == 1
    # Opportunities without a lead are grouped on their own.
    assert table.loc["(no lead)", "pipeline_created"] == pytest.approx(5_000)
    assert table.loc["(no lead)", "won"] == 1  # O5
    assert table.loc["webinar", "median_cycle_days"] == pytest.approx(10)  # O3
    assert math.isnan(table.loc["paid_search", "mql_target"])  # targets are company-wide


def test_filters(company: Engine) -> None:
    row = month(company, filters=Filters(owners=("Dana",)))
    assert row["mqls"] == 3  # L2, L3, L6
    # Targets are company-wide: Dana's 3 MQLs are not 60% of the company's target of 5.
    assert row["mql_target"] is None and row["mql_attainment"] is None
    assert row["opportunities_created"] == 0  # Dana owns no opportunity
    row = month(company, filters=Filters(segments=("smb",)))
    assert row["mqls"] == 2  # L2 (20 employees), L6 (40)
    row = month(company, filters=Filters(sources=("webinar",), campaigns=("wb-jan",)))
    assert (row["mqls"], row["won"]) == (2, 1)


def test_holiday_calendar_moves_the_sla_deadline(company: Engine) -> None:
    with session_scope(company) as session:
        save(session, {"holiday_country": "US"}, actor=TESTER)
    # L5 became an MQL on Mon 20 Jan 2025, Martin Luther King Jr. Day: the clock starts
    # Tue 09:00, so it is due Tue 13:00.
    at_noon = kpi_table(
        company, KpiQuery(dt.date(2025, 1, 20), dt.date(2025, 1, 20), as_of=dt.datetime(2025, 1, 21, 12))
    )
    assert (at_noon.loc[0, "sla_pending"], at_noon.loc[0, "sla_breached"]) == (1, 0)
    later = kpi_table(company, KpiQuery(dt.date(2025, 1, 20), dt.date(2025, 1, 20), as_of=dt.datetime(2025, 1, 21, 14)))
    assert (later.loc[0, "sla_pending"], later.loc[0, "sla_breached"]) == (0, 1)


def test_calendar_hours_sla(company: Engine) -> None:
    with session_scope(company) as session:
        save(session, {"sla_business_hours": False}, actor=TESTER)
    row = month(company)
    # In calendar hours L2 waited 66 h (breach) and L3 27 h (breach); L1 and L4 meet.
    assert (row["sla_met"], row["sla_breached"]) == (2, 4)  # L6 is due Fri 20:00, before the as-of


def test_timezone_moves_leads_between_days(company: Engine) -> None:
    with session_scope(company) as session:
        save(session, {"timezone": "Asia/Tokyo"}, actor=TESTER)
    # L6 became an MQL at 16:00 UTC on 31 Jan = 01:00 on 1 Feb in Tokyo.
    assert month(company)["mqls"] == 5


def test_whole_range_totals_are_not_sums_of_periods(company: Engine) -> None:
    query = KpiQuery(dt.date(2025, 1, 1), dt.date(2025, 2, 28), grain="range", as_of=AS_OF)
    [row] = kpi_records(kpi_table(company, query))
    assert (row["period_start"], row["period_end"]) == ("2025-01-01", "2025-02-28")
    assert row["mqls"] == 7
    assert row["mql_target"] == pytest.approx(11)
    assert row["median_response_hours"] == pytest.approx(1.0)  # of 0, 30, 60, 120, 660 minutes
