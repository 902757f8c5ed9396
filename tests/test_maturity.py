"""Maturity: a cohort younger than the time in which nine in ten past conversions happened is "still maturing":
marked so, drawn apart and never flagged red."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from core.funnel.caveats import maturity_lags
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.scoreboard import flags, funnel, headlines
from core.imports.runs import import_csv
from tests.conftest import TESTER, csv_file

HEADER = "lead_id,created_at,source,mql_at,sql_at,rejected_at\n"


def history() -> str:
    """20 MQLs in January whose SQLs came 1, 2, … 20 days later: nine in ten came within 18 days (the 18th of
    20), and 25 MQLs on 20 February with no SQL yet."""
    start = dt.datetime(2026, 1, 1, 9)
    rows = [
        f"J{day},2026-01-01,web,{start:%Y-%m-%d %H:%M},{start + dt.timedelta(days=day):%Y-%m-%d %H:%M},"
        for day in range(1, 21)
    ]
    rows += [f"F{n},2026-02-20,web,2026-02-20 09:00,," for n in range(25)]
    return HEADER + "\n".join(rows) + "\n"


def february(engine: Engine, as_of: dt.datetime) -> tuple:
    query = KpiQuery(dt.date(2026, 2, 1), dt.date(2026, 2, 28), "range", as_of=as_of)
    now = kpi_table(engine, query).iloc[0]
    by_source = kpi_table(engine, KpiQuery(query.first_day, query.last_day, "range", "source", as_of=as_of))
    return now, by_source


def test_nine_in_ten_conversions_measured_from_the_data(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(history()), actor=TESTER)
    assert maturity_lags(engine) == {"mql_to_sql": 18.0}  # too few wins to measure MQL→won


def test_a_young_cohort_is_maturing_and_not_flagged(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(history()), actor=TESTER)
    # 10 March: February ended 10 days ago, under the 18 days nine in ten SQLs take.
    now, by_source = february(engine, dt.datetime(2026, 3, 10))
    assert list(now["maturing"]) == ["mql_to_sql"] and now["maturity_days"] == {"mql_to_sql": 18.0}
    assert now["mql_to_sql"] == 0.0
    assert not flags(now, by_source)
    [shown] = [h for h in headlines(now, now) if h.key == "mql_to_sql"]
    assert shown.value == "0% (so far)"
    assert "still maturing: 9 in 10 SQLs come within 18 days of the MQL date" in shown.note
    stages = funnel(now).set_index("stage")
    assert bool(stages.loc["SQLs", "maturing"]) and not bool(stages.loc["MQLs", "maturing"])
    # 20 March: 20 days on, the cohort is mature, and 0 SQLs of 25 MQLs is a red flag.
    now, by_source = february(engine, dt.datetime(2026, 3, 20))
    assert list(now["maturing"]) == []
    # Every MQL came from the web: its line says it, and the company-wide line would repeat it.
    assert flags(now, by_source) == ["Web converts 0% of 25 MQLs to SQL — gate is 30%."]


def test_too_little_history_judges_nothing(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(HEADER + "A,2026-01-01,web,2026-01-01,2026-01-05,\n"), actor=TESTER)
    assert maturity_lags(engine) == {}
    now, _ = february(engine, dt.datetime(2026, 3, 1))
    assert list(now["maturing"]) == []
