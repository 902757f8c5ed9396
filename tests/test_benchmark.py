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
    # The check itself must notice a difference.
    theirs["total"]["won"] = theirs["total"]["won"].fillna(0) + 1
    assert bench.check_same(ours, theirs) != []
