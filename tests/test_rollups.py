"""The KPI counts kept per day at import (core.funnel.rollups) give the numbers the rows give, for every view
they serve, after imports and settings changes; the views they do not serve read the rows."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.admin.seed import seed_sample_data
from core.admin.settings import save
from core.db import session_scope
from core.funnel.derived import moved_by
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.rollups import covers
from core.funnel.segments import Filters
from core.imports.mapping import load_preset
from core.imports.runs import import_csv
from core.models import DealDayFacts, MqlDayFacts
from core.settings import OrgSettings
from tests.conftest import TESTER, csv_file
from tests.fixtures import FILES, load_fixture
from tests.oracles import assert_derived_columns_are_fresh, assert_kept_counts_give_the_rows_numbers

JAN = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))
AS_OF = dt.datetime(2025, 2, 3, 10, 0)


def views(first: dt.date, last: dt.date, as_of: dt.datetime, sources: tuple[str, ...]) -> list[KpiQuery]:
    filters = [Filters(), Filters(sources=sources[:1]), Filters(segments=("smb", "unknown")),
               Filters(sources=sources, segments=("mid_market",))]  # fmt: skip
    return [
        KpiQuery(first, last, grain, by, chosen, as_of)
        for grain, by, chosen in itertools.product(("week", "month", "range"), (None, "source", "segment"), filters)
    ]


def test_the_kept_counts_serve_only_unfiltered_source_and_segment_views() -> None:
    day = dt.date(2025, 1, 1)
    assert covers(KpiQuery(day, day, by="segment", filters=Filters(sources=("webinar",), segments=("smb",))))
    assert not covers(KpiQuery(day, day, by="owner"))
    assert not covers(KpiQuery(day, day, by="campaign"))
    for narrowed in (Filters(owners=("Alex",)), Filters(campaigns=("wb-jan",)), Filters(industries=("Tech",)),
                     Filters(size_bands=("1-9",))):  # fmt: skip
        assert not covers(KpiQuery(day, day, filters=narrowed))


def test_every_view_of_the_fixture_company_has_the_rows_numbers(engine: Engine) -> None:
    load_fixture(engine)
    for query in views(*JAN, AS_OF, ("paid_search", "webinar")):
        assert_kept_counts_give_the_rows_numbers(engine, query)
    # Before and after the unanswered leads' SLA runs out: the split of the kept "unanswered" follows the clock.
    for as_of in (dt.datetime(2025, 1, 20, 12, 0), dt.datetime(2025, 2, 3, 12, 30), dt.datetime(2030, 1, 1)):
        assert_kept_counts_give_the_rows_numbers(engine, KpiQuery(*JAN, "week", "source", as_of=as_of))


def test_a_deals_import_moves_the_counts_of_the_leads_cohorts(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(FILES["leads"], "leads.csv"), actor=TESTER)
    assert kpi_table(engine, KpiQuery(*JAN, "range", as_of=AS_OF)).loc[0, "won_mqls"] == 0
    import_csv(engine, "opportunities", csv_file(FILES["opportunities"], "deals.csv"), actor=TESTER)
    january = kpi_table(engine, KpiQuery(*JAN, "range", as_of=AS_OF)).loc[0]
    assert (january["won_mqls"], january["opportunity_mqls"]) == (2, 2)  # L1 via O1, L4 via O3
    # O2 and O4 have no lead: their own group, which no source picks and the "unknown" segment does.
    by_source = kpi_table(engine, KpiQuery(*JAN, "range", "source", as_of=AS_OF)).set_index("group")
    assert by_source.loc["(no lead)", "opportunities_created"] == 2
    unknown = kpi_table(engine, KpiQuery(*JAN, "range", filters=Filters(segments=("unknown",)), as_of=AS_OF))
    assert unknown.loc[0, "opportunities_created"] == 2  # O2, O4; L5 (no size) has no deal


def test_an_unchanged_reimport_leaves_the_counts_and_a_changed_one_moves_them(engine: Engine) -> None:
    load_fixture(engine)
    with engine.connect() as connection:
        before = connection.execute(select(func.sum(MqlDayFacts.mqls))).scalar_one()
    import_csv(engine, "leads", csv_file(FILES["leads"], "leads.csv"), actor=TESTER)
    with engine.connect() as connection:
        assert connection.execute(select(func.sum(MqlDayFacts.mqls))).scalar_one() == before == 7
    # L7 becomes an MQL on 7 January.
    mql_at_of_l7 = "g@eta.io,Eta,10,,organic_search,,,"
    changed = FILES["leads"].replace(mql_at_of_l7, mql_at_of_l7 + "2025-01-07 09:00:00")
    assert changed != FILES["leads"]
    import_csv(engine, "leads", csv_file(changed, "leads.csv"), actor=TESTER)
    assert kpi_table(engine, KpiQuery(*JAN, "range", as_of=AS_OF)).loc[0, "mqls"] == 7
    assert_kept_counts_give_the_rows_numbers(engine, KpiQuery(*JAN, "week", "segment", as_of=AS_OF))


@pytest.mark.parametrize(
    "change",
    [
        {"mid_market_from": 30, "enterprise_from": 200},  # moves leads between segments
        {"sla_hours": 1.0},  # moves leads from met to breached
        {"sla_business_hours": False},
        {"timezone": "America/Los_Angeles"},  # moves leads between days
        {"business_end": dt.time(13, 0)},  # moves due times and business-hour responses
    ],
)
def test_a_settings_change_moves_the_counts_with_it(engine: Engine, change: dict[str, object]) -> None:
    load_fixture(engine)
    before = kpi_table(engine, KpiQuery(*JAN, "week", "segment", as_of=AS_OF))
    with session_scope(engine) as session:
        save(session, change, actor=TESTER)
    after = kpi_table(engine, KpiQuery(*JAN, "week", "segment", as_of=AS_OF))
    assert not after.equals(before)  # the change shows, so the parity below is not two stale copies agreeing
    assert_derived_columns_are_fresh(engine)  # only the columns the change moves were recomputed: none missed
    for query in views(*JAN, AS_OF, ("paid_search", "events")):
        assert_kept_counts_give_the_rows_numbers(engine, query)


def test_a_settings_change_recomputes_only_what_it_moves() -> None:
    base = OrgSettings()
    assert moved_by(base, base.model_copy(update={"conversion_gate": 0.5, "enterprise_from": 5000})) == (set(), set())
    assert moved_by(base, base.model_copy(update={"sla_hours": 6.0})) == ({"sla_due_at"}, set())
    assert moved_by(base, base.model_copy(update={"holiday_country": "DE"})) == (
        {"sla_due_at", "response_minutes"},
        set(),
    )
    assert moved_by(base, base.model_copy(update={"timezone": "Asia/Tokyo"})) == (
        {"created_day", "rejected_day", "mql_day", "sla_due_at", "response_minutes"},
        {"created_day", "closed_day"},
    )


def test_the_sample_company_has_the_rows_numbers(engine: Engine) -> None:
    seed_sample_data(engine, with_survey=False, with_definitions=False)
    as_of = dt.datetime(2026, 11, 1)
    for query in views(dt.date(2026, 4, 1), dt.date(2026, 9, 30), as_of, ("paid_search", "webinar", "events")):
        if query.grain != "week":  # 26 weeks × groups: the months and the range already add every day up
            assert_kept_counts_give_the_rows_numbers(engine, query)
    with engine.connect() as connection:
        cells = connection.execute(select(func.count()).select_from(MqlDayFacts)).scalar_one()
        deal_cells = connection.execute(select(func.count()).select_from(DealDayFacts)).scalar_one()
    assert 0 < cells < 20_000 and deal_cells > 0  # a cell per day, source and segment that had MQLs


def test_real_exports_have_the_rows_numbers(engine: Engine, realdata: Path) -> None:
    import_csv(engine, "leads", realdata / "olist_marketing_funnel" / "olist_marketing_qualified_leads_dataset.csv",
               mapping=load_preset("olist_mqls"), actor=TESTER)  # fmt: skip
    import_csv(engine, "opportunities", realdata / "olist_marketing_funnel" / "olist_closed_deals_dataset.csv",
               mapping=load_preset("olist_closed_deals"), actor=TESTER)  # fmt: skip
    for query in views(dt.date(2017, 6, 1), dt.date(2018, 5, 31), dt.datetime(2019, 1, 1), ("paid_search",)):
        if query.grain != "week":
            assert_kept_counts_give_the_rows_numbers(engine, query)


def test_a_lead_moved_to_another_day_leaves_its_old_days_cells(engine: Engine) -> None:
    """An import rewrites the cells of the days its rows held before and after; not only the new ones."""
    load_fixture(engine)
    weeks = KpiQuery(dt.date(2025, 1, 6), dt.date(2025, 1, 26), "week", as_of=AS_OF)
    assert kpi_table(engine, weeks)["mqls"].tolist() == [2, 2, 1]  # L1, L2 | L3, L4 | L5
    moved = FILES["leads"].replace("VP Sales,paid_search,ps-brand,demo_request,2025-01-06 10:00:00",
                                   "VP Sales,paid_search,ps-brand,demo_request,2025-01-21 10:00:00")  # fmt: skip
    assert moved != FILES["leads"]
    import_csv(engine, "leads", csv_file(moved, "leads.csv"), actor=TESTER)
    assert kpi_table(engine, weeks)["mqls"].tolist() == [1, 2, 2]
    # O1 (won) moves from L1 to L2: L1's cohort loses a won MQL, L2's gains one.
    relinked = FILES["opportunities"].replace("O1,L1,", "O1,L2,")
    import_csv(engine, "opportunities", csv_file(relinked, "deals.csv"), actor=TESTER)
    assert kpi_table(engine, weeks)["won_mqls"].tolist() == [1, 1, 0]  # L2 | L4 (O3) | L1 no more
    for query in views(dt.date(2025, 1, 1), dt.date(2025, 1, 31), AS_OF, ("paid_search",)):
        assert_kept_counts_give_the_rows_numbers(engine, query)


def test_an_import_rewrites_the_medians_of_the_periods_it_touched_and_keeps_the_others(engine: Engine) -> None:
    """A lead of 2 April rewrites the periods from Monday 31 March on (the week holding the quarter's first day);
    March, which that week reaches into, keeps its median: only some of its values were read."""
    header = "lead_id,created_at,source,mql_at,first_response_at"
    march = f"{header}\nA1,2025-03-31 08:00:00,webinar,2025-03-31 09:00:00,2025-03-31 10:00:00\n"
    import_csv(engine, "leads", csv_file(march, "march.csv"), actor=TESTER)
    april = f"{header}\nB1,2025-04-02 08:00:00,webinar,2025-04-02 09:00:00,2025-04-02 12:00:00\n"
    import_csv(engine, "leads", csv_file(april, "april.csv"), actor=TESTER)
    medians = {
        (grain, first): kpi_table(engine, KpiQuery(first, last, grain, as_of=AS_OF))["median_response_hours"].tolist()
        for grain, first, last in (
            ("month", dt.date(2025, 3, 1), dt.date(2025, 4, 30)),
            ("week", dt.date(2025, 3, 31), dt.date(2025, 4, 6)),
        )
    }
    assert medians == {("month", dt.date(2025, 3, 1)): [1.0, 3.0], ("week", dt.date(2025, 3, 31)): [2.0]}
    for query in views(dt.date(2025, 3, 1), dt.date(2025, 4, 30), AS_OF, ("webinar",)):
        assert_kept_counts_give_the_rows_numbers(engine, query)
