"""The scoreboard's decisions without Streamlit: periods, comparisons, flags, funnel and freshness."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.scoreboard import LINK, View, flags, freshness, funnel, headlines, ranking_note, summary_markdown
from core.funnel.segments import Filters
from core.periods import is_partial, period_range, previous_range, trend_range
from tests.fixtures import load_fixture

D = dt.date
TODAY = D(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("preset", "expected", "previous"),
    [
        ("last_month", (D(2026, 10, 1), D(2026, 10, 31)), (D(2026, 9, 1), D(2026, 9, 30))),
        ("this_month", (D(2026, 11, 1), TODAY), (D(2026, 10, 1), D(2026, 10, 25))),
        ("last_week", (D(2026, 11, 16), D(2026, 11, 22)), (D(2026, 11, 9), D(2026, 11, 15))),
        ("this_week", (D(2026, 11, 23), TODAY), (D(2026, 11, 16), D(2026, 11, 18))),
        ("last_quarter", (D(2026, 7, 1), D(2026, 9, 30)), (D(2026, 4, 1), D(2026, 6, 30))),
        ("this_quarter", (D(2026, 10, 1), TODAY), (D(2026, 7, 1), D(2026, 8, 25))),
    ],
)
def test_presets_and_the_period_they_are_compared_with(
    preset: str, expected: tuple[dt.date, dt.date], previous: tuple[dt.date, dt.date]
) -> None:
    assert period_range(preset, TODAY) == expected  # type: ignore[arg-type]
    assert previous_range(preset, *expected) == previous  # type: ignore[arg-type]


def test_a_custom_range_is_compared_with_as_many_days_before_it() -> None:
    first, last = period_range("custom", TODAY, (D(2026, 3, 10), D(2026, 3, 19)))
    assert previous_range("custom", first, last) == (D(2026, 2, 28), D(2026, 3, 9))
    with pytest.raises(ValueError, match="ends"):
        period_range("custom", TODAY, (D(2026, 3, 10), D(2026, 3, 1)))


@pytest.fixture
def company(engine: Engine) -> Engine:
    load_fixture(engine)
    return engine


def test_headlines_flags_and_funnel_of_the_hand_counted_month(company: Engine) -> None:
    as_of = dt.datetime(2026, 1, 1)
    jan = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range", as_of=as_of)).iloc[0]
    dec = kpi_table(company, KpiQuery(D(2024, 12, 1), D(2024, 12, 31), "range", as_of=as_of)).iloc[0]
    shown = {headline.label: headline for headline in headlines(jan, dec)}
    assert shown["MQLs"].value == "6" and shown["MQLs"].delta == "+6"
    assert shown["MQL → SQL"].value == "33%" and shown["MQL → SQL"].delta is None  # December had no MQLs
    assert shown["MQL → SQL"].note == "gate 30%; 2 SQLs of 6 MQLs"
    assert shown["Sales cycle"].delta_color == "inverse"
    assert shown["Pipeline created"].note == "target $40k (88% reached)"  # 35,000 of 40,000, exactly 87.5%
    by_source = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range", "source", as_of=as_of))
    # 3 of 6 MQLs met the SLA. 2 of 4 dispositioned were rejected, over the 30% gate, but 4 are too few to
    # flag, as are 6 MQLs for the conversion gate.
    assert flags(jan, by_source) == ["Only 50% of MQLs got a response within 4 business hours."]
    busier = jan.copy()
    busier[["dispositioned", "rejected", "rejection_share"]] = [40, 20, 0.5]
    assert flags(busier, by_source)[-1] == "Sales rejected 50% of dispositioned MQLs — gate is 30%."
    stages = funnel(jan)
    assert list(stages["count"]) == [7, 6, 2, 2, 2]
    # Leads created and MQLs are different people, so the MQL stage carries no rate.
    assert list(stages["from_previous"].round(3).fillna(-1)) == [-1, -1, round(2 / 6, 3), 1.0, 1.0]


def test_a_source_under_the_gate_is_flagged_only_with_enough_mqls(company: Engine) -> None:
    jan = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range")).iloc[0]
    by_source = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range", "source"))
    by_source.loc[by_source["group"] == "webinar", ["mqls", "mql_to_sql"]] = [40, 0.18]
    assert flags(jan, by_source)[0] == "Webinar converts 18% of 40 MQLs to SQL — gate is 30%."


def test_a_view_of_one_source_says_its_conversion_once(company: Engine) -> None:
    jan = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range")).iloc[0].copy()
    jan[["mqls", "sqls", "mql_to_sql"]] = [40, 4, 0.1]
    only_webinar = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range", "source")).iloc[:1].copy()
    only_webinar[["group", "mqls", "sqls", "mql_to_sql"]] = ["webinar", 40, 4, 0.1]
    lines = flags(jan, only_webinar, {"webinar": "Webinars (all)"})
    assert [line for line in lines if "SQL" in line] == ["Webinars (all) converts 10% of 40 MQLs to SQL — gate is 30%."]
    assert len(lines) == len(set(lines))


def test_freshness_is_the_last_import(company: Engine, engine: Engine) -> None:
    fresh = freshness(company)
    assert fresh.last_import is not None and not fresh.stale()
    assert fresh.stale(fresh.last_import + dt.timedelta(days=8))


def test_a_view_survives_the_query_string_and_bad_values_fall_back() -> None:
    view = View(
        preset="custom",
        custom=(D(2025, 1, 6), D(2025, 1, 12)),
        grain="week",
        filters=Filters(sources=("paid_search", "webinar"), owners=("Dana",)),
        model="u_shaped",
    )
    params = LINK.write(view)
    assert params == {
        "period": ["custom"],
        "from": ["2025-01-06"],
        "to": ["2025-01-12"],
        "grain": ["week"],
        "model": ["u_shaped"],
        "source": ["paid_search", "webinar"],
        "owner": ["Dana"],
    }
    assert LINK.read(params) == view
    assert LINK.write(View()) == {}
    broken = {"period": ["custom"], "from": ["2025-02-30"], "to": ["2025-03-01"], "grain": ["year"], "model": ["x"]}
    assert LINK.read(broken) == View()
    assert LINK.read({"period": ["custom"], "from": ["2025-03-02"], "to": ["2025-03-01"]}) == View()


def test_trend_range_counts_whole_periods_back() -> None:
    assert trend_range(D(2026, 10, 31), "month", 12) == (D(2025, 11, 1), D(2026, 10, 31))
    assert trend_range(D(2026, 11, 25), "week", 3) == (D(2026, 11, 9), D(2026, 11, 25))
    assert trend_range(D(2026, 11, 25), "quarter", 2) == (D(2026, 7, 1), D(2026, 11, 25))


def test_ranking_note_says_how_much_the_model_matters() -> None:
    rows = [
        ("first_touch", "webinar", 1),
        ("first_touch", "events", 2),
        ("last_touch", "events", 1),
        ("last_touch", "webinar", 2),
        ("linear", "webinar", 1),
        ("linear", "events", 2),
    ]
    frame = pd.DataFrame(rows, columns=["model", "channel", "rank"])
    assert ranking_note(frame, "linear") == (
        "2 of 2 channels change rank between the five models; the top channel is Events or Webinar depending on "
        "the model."
    )
    steady = frame[frame["model"] != "last_touch"]
    assert ranking_note(steady, "linear") == (
        "0 of 2 channels change rank between the five models; Webinar is on top under every model."
    )
    assert ranking_note(frame.iloc[0:0], "linear") == "No won revenue in this period to attribute."


def test_the_markdown_summary_neutralises_text_from_the_data(company: Engine) -> None:
    jan = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range")).iloc[0]
    dec = kpi_table(company, KpiQuery(D(2024, 12, 1), D(2024, 12, 31), "range")).iloc[0]
    text = summary_markdown(
        "January 2025",
        "December 2024",
        headlines(jan, dec),
        ["=HYPERLINK(evil) converts 5% of 40 MQLs to SQL — gate is 30%."],
        funnel(jan),
        freshness(company),
        Filters(campaigns=("=cmd",)),
    )
    assert text.startswith("# OneFunnel scoreboard: January 2025\n")
    assert "| MQLs | 6 | +6 | target 5 (120% reached) |" in text
    assert "- '=HYPERLINK\\(evil\\) converts" in text
    assert "Filtered to campaign '=cmd." in text
    assert "| Leads created | 7 | — |" in text and "| MQLs | 6 | — |" in text and "| SQLs | 2 | 33% |" in text


def test_a_fall_reads_as_a_fall_and_no_change_shows_no_arrow() -> None:
    columns = [
        "mqls",
        "mql_target",
        "mql_attainment",
        "sqls",
        "mql_to_sql",
        "conversion_gate",
        "sla_compliance",
        "sla_hours",
        "sla_pending",
        "pipeline_created",
        "pipeline_target",
        "pipeline_attainment",
        "win_rate",
        "won",
        "closed",
        "median_cycle_days",
    ]
    now = pd.Series(dict.fromkeys(columns, float("nan")))
    before = now.copy()
    now[["mqls", "pipeline_created", "median_cycle_days", "win_rate", "conversion_gate"]] = [80, 9_000, 30.2, 0.25, 0.3]
    before[["mqls", "pipeline_created", "median_cycle_days", "win_rate"]] = [100, 12_500, 30.4, 0.25]
    shown = {headline.key: headline.delta for headline in headlines(now, before)}
    # Streamlit colours a delta by a leading ASCII "-": a typographic minus would show a fall as a green rise.
    assert shown["mqls"] == "-20" and shown["pipeline_created"] == "-$3,500"
    assert shown["median_cycle_days"] is None and shown["win_rate"] is None  # no change after rounding


def test_the_company_wide_conversion_is_flagged_even_when_no_source_is_big_enough(company: Engine) -> None:
    jan = kpi_table(company, KpiQuery(D(2025, 1, 1), D(2025, 1, 31), "range")).iloc[0].copy()
    jan[["mqls", "sqls", "mql_to_sql"]] = [100, 12, 0.12]
    assert flags(jan, pd.DataFrame(columns=["group", "mqls", "mql_to_sql", "conversion_gate"]))[0] == (
        "Only 12% of 100 MQLs became SQLs — gate is 30%."
    )


def test_partial_periods_are_recognised() -> None:
    assert not is_partial(D(2026, 10, 1), D(2026, 10, 31), "month")
    assert is_partial(D(2026, 10, 1), D(2026, 10, 31), "quarter")
    assert is_partial(D(2026, 11, 23), D(2026, 11, 25), "week") and not is_partial(
        D(2026, 11, 23), D(2026, 11, 29), "week"
    )
