"""The benchmark's DuckDB reference must compute the same numbers as the engine, or its ratio means nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.fixtures import load_fixture

pytest.importorskip("duckdb")
BENCHMARK = Path(__file__).resolve().parent.parent / "bench" / "benchmark.py"


def benchmark_module() -> Any:
    spec = importlib.util.spec_from_file_location("benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("grain", ["week", "month"])
def test_duckdb_reference_agrees_with_the_engine(engine: Engine, grain: str) -> None:
    bench = benchmark_module()
    load_fixture(engine)
    first, last = dt.date(2025, 1, 1), dt.date(2025, 2, 28)
    ours = bench.our_query_set(engine, first, last, grain)
    duck = bench.load_duckdb(engine)
    theirs = bench.duck_query_set(duck, first, last, grain)
    assert bench.check_same(ours, theirs) == []
    assert bench.check_same(bench.our_query_set(engine, first, last, grain, from_rows=True), theirs) == []
    # The check itself must notice a difference.
    theirs["total"]["won"] = theirs["total"]["won"].fillna(0) + 1
    assert bench.check_same(ours, theirs) != []


def test_the_goal_table_reads_each_figure_by_its_name() -> None:
    report: dict[str, Any] = {
        "imports": [{"kind": "leads", "seconds": 20.0}, {"kind": "touches", "seconds": 40.0}],
        "reimport_leads": {"seconds": 17.5},
        "queries": {"quarter_by_week": {"ratio": 7.0, "from_rows_ratio": 2.5}, "two_years_by_month": {"ratio": 12.5}},
        "pages": {"scoreboard.py": {"cold_median_s": 8.7}, "rejections.py": {"cold_median_s": 3.1}},
        "sandbox_load": {"runs": {"p95_s": 3.41, "p50_s": 1.2, "count": 50}},
    }
    figures = benchmark_module().goal_figures(report)
    assert figures == {
        "scoreboard_query_set_quarter_by_week_x_duckdb": 7.0,
        "scoreboard_query_set_two_years_by_month_x_duckdb": 12.5,
        "scoreboard_query_set_quarter_by_week_from_rows_x_duckdb": 2.5,
        "scoreboard_query_set_two_years_by_month_from_rows_x_duckdb": None,  # an older report without it
        "scoreboard_page_cold_s": 8.7,
        "rejections_page_cold_13_weeks_s": 3.1,
        "rejections_page_cold_this_year_s": None,  # not measured in this report
        "import_leads_s": 20.0,
        "reimport_leads_unchanged_s": 17.5,
        "import_touches_s": 40.0,
        "settings_change_s": None,
        "sandbox_five_users_p95_s": 3.41,
    }
    assert set(figures) == set(benchmark_module().GOALS)
