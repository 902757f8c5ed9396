"""Benchmark: import 1M leads / 200k opportunities / 5M touches and run the scoreboard query set.

For SQLite and PostgreSQL it prints the import time and peak memory of each file
(each import runs in its own process so that its peak RSS is its own), and the
median of several runs of the scoreboard query set; DuckDB computes the same
numbers from the same stored rows in the same run, and our time is printed as a
ratio of DuckDB's. Results also go to bench/out/results.json.

    python bench/benchmark.py [--leads 1000000] [--runs 5] [--backends sqlite postgresql]

PostgreSQL is taken from TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test);
the benchmark works in a throw-away schema.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from core.db import get_engine, upgrade  # noqa: E402
from core.funnel.attribution import revenue_by_channel  # noqa: E402
from core.funnel.kpis import KpiQuery, kpi_table  # noqa: E402
from core.funnel.segments import filter_options  # noqa: E402
from core.imports.runs import import_csv  # noqa: E402
from core.permissions import Actor  # noqa: E402

OUT = ROOT / "bench" / "out"
KINDS = ("leads", "opportunities", "touches", "spend", "targets")
AS_OF = dt.datetime(2026, 11, 1)
# The scoreboard's two shapes: one quarter by week, two years by month; each total and by source.
SCOPES = {
    "quarter_by_week": (dt.date(2026, 7, 1), dt.date(2026, 9, 30), "week"),
    "two_years_by_month": (dt.date(2024, 11, 1), dt.date(2026, 10, 31), "month"),
}


def peak_rss_mb() -> float:
    """This process image's peak resident memory. Not getrusage: its ru_maxrss survives fork and exec,
    so a child would report the parent's peak (the generator's, here)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_data(leads: int) -> Path:
    directory = OUT / f"data_{leads}"
    if (directory / "touches.csv").is_file():
        return directory
    sys.path.insert(0, str(ROOT / "sample_data"))
    from generate import generate  # type: ignore[import-not-found]

    started = time.perf_counter()
    counts = generate(directory, leads=leads, exports=False)
    print(f"generated {counts} in {time.perf_counter() - started:.1f} s")
    return directory


def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_for(url: str, schema: str | None) -> Any:
    if schema is None:
        return get_engine(url)
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def import_one(url: str, schema: str | None, kind: str, path: Path) -> dict[str, Any]:
    """Runs in a child process: one import, its seconds and the process's peak memory."""
    engine = engine_for(url, schema)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    result = import_csv(engine, kind, path, actor=Actor("benchmark", "admin"))
    seconds = time.perf_counter() - started
    return {
        "kind": kind,
        "rows": result.inserted + result.updated + result.unchanged,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": baseline,
    }


def run_child(url: str, schema: str | None, kind: str, path: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child-import", url, schema or "", kind, str(path)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def median_seconds(function: Callable[..., object], arguments: tuple[Any, ...], runs: int) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function(*arguments)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def our_query_set(
    engine: Any, first: dt.date, last: dt.date, grain: Any, from_rows: bool = False
) -> dict[str, pd.DataFrame]:
    """The Scoreboard's queries; `from_rows`: its KPI tables from the rows, as any view the counts kept per day
    do not serve (a lead owner, a campaign, an industry) reads them."""
    return {
        "total": kpi_table(engine, KpiQuery(first, last, grain, as_of=AS_OF), from_rows=from_rows),
        "by_source": kpi_table(engine, KpiQuery(first, last, grain, "source", as_of=AS_OF), from_rows=from_rows),
        "revenue_linear": revenue_by_channel(engine, KpiQuery(first, last, grain, as_of=AS_OF), "linear"),
    }


DUCK_LEADS = """
SELECT date_trunc('{grain}', mql_day) AS bucket, {group} AS grp,
       count(*) AS mqls, count(sql_at) AS sqls,
       count(*) FILTER (WHERE lead_id IN (SELECT lead_id FROM opportunities WHERE is_won AND lead_id IS NOT NULL))
           AS won_mqls,
       count(*) FILTER (WHERE sql_at IS NOT NULL OR rejected_at IS NOT NULL) AS dispositioned,
       count(rejected_at) AS rejected,
       count(*) FILTER (WHERE rejected_at IS NOT NULL AND reason_key IS NULL)
           AS rejected_no_reason,
       count(*) FILTER (WHERE response_minutes <= $sla) AS sla_met,
       count(*) FILTER (WHERE response_minutes > $sla OR (first_response_at IS NULL AND sla_due_at <= $as_of))
           AS sla_breached,
       count(response_minutes) AS responded,
       median(response_minutes) AS median_response_minutes,
       count(*) FILTER (WHERE coalesce(trim(company), '') <> '' AND coalesce(trim(title), '') <> ''
                        AND coalesce(trim(email), '') <> '' AND coalesce(trim(source), '') NOT IN ('', 'unknown')
                        AND coalesce(trim(intent_signal), '') <> '') AS complete_mqls
FROM leads WHERE mql_day BETWEEN $first AND $last GROUP BY ALL
"""
DUCK_CREATED = """
SELECT date_trunc('{grain}', o.created_day) AS bucket, {group} AS grp,
       count(*) AS opportunities_created, sum(o.amount) AS pipeline_created,
       sum(CASE WHEN o.origin = 'marketing' OR (o.origin IS NULL AND l.mql_at IS NOT NULL) THEN o.amount ELSE 0 END)
           AS pipeline_marketing
FROM opportunities o LEFT JOIN leads l USING (lead_id)
WHERE o.created_day BETWEEN $first AND $last GROUP BY ALL
"""
DUCK_CLOSED = """
SELECT date_trunc('{grain}', o.closed_day) AS bucket, {group} AS grp,
       count(*) AS closed, count(*) FILTER (WHERE o.is_won) AS won,
       sum(o.amount) FILTER (WHERE o.is_won) AS won_amount,
       avg(o.cycle_days) FILTER (WHERE o.is_won) AS mean_cycle_days,
       median(o.cycle_days) FILTER (WHERE o.is_won) AS median_cycle_days
FROM opportunities o LEFT JOIN leads l USING (lead_id)
WHERE o.closed_day BETWEEN $first AND $last GROUP BY ALL
"""
DUCK_TARGETS = """
SELECT date_trunc('{grain}', d.day) AS bucket,
       sum(t.value / d.days_in_month) FILTER (WHERE t.metric = 'mqls') AS mql_target,
       sum(t.value / d.days_in_month) FILTER (WHERE t.metric = 'pipeline') AS pipeline_target
FROM calendar_days d JOIN targets t ON t.month = d.month_start
WHERE d.day BETWEEN $first AND $last GROUP BY ALL
"""
DUCK_LINEAR = """
WITH won AS (
    SELECT opportunity_id, lead_id, amount, closed_at, date_trunc('{grain}', closed_day) AS bucket
    FROM opportunities WHERE is_won AND closed_day BETWEEN $first AND $last
), paths AS (
    SELECT w.opportunity_id, t.id, t.channel FROM won w
    JOIN touches t ON t.opportunity_id = w.opportunity_id AND t.touched_at <= w.closed_at
    UNION
    SELECT w.opportunity_id, t.id, t.channel FROM won w
    JOIN touches t ON w.lead_id IS NOT NULL AND t.lead_id = w.lead_id AND t.touched_at <= w.closed_at
), weighted AS (
    SELECT opportunity_id, channel, 1.0 / count(*) OVER (PARTITION BY opportunity_id) AS weight FROM paths
)
SELECT w.bucket, coalesce(x.channel, 'unattributed') AS channel,
       sum(w.amount * coalesce(x.weight, 1.0)) AS revenue, sum(coalesce(x.weight, 1.0)) AS won_credit
FROM won w LEFT JOIN weighted x USING (opportunity_id) GROUP BY ALL
"""


def duck_query_set(duck: Any, first: dt.date, last: dt.date, grain: str) -> dict[str, pd.DataFrame]:
    parameters = {"first": first, "last": last, "sla": 240.0, "as_of": AS_OF}
    results = {}
    for name, group_sql, opportunity_group in (
        ("total", "'all'", "'all'"),
        ("by_source", "source", "CASE WHEN l.lead_id IS NULL THEN '(no lead)' ELSE l.source END"),
    ):
        frames = [
            duck.execute(DUCK_LEADS.format(grain=grain, group=group_sql), {**parameters}).df(),
            duck.execute(
                DUCK_CREATED.format(grain=grain, group=opportunity_group),
                {k: parameters[k] for k in ("first", "last")},
            ).df(),
            duck.execute(
                DUCK_CLOSED.format(grain=grain, group=opportunity_group),
                {k: parameters[k] for k in ("first", "last")},
            ).df(),
        ]
        if name == "total":
            targets = duck.execute(DUCK_TARGETS.format(grain=grain), {k: parameters[k] for k in ("first", "last")}).df()
            frames.append(targets.assign(grp="all"))
        merged = frames[0]
        for frame in frames[1:]:
            merged = merged.merge(frame, on=["bucket", "grp"], how="outer")
        results[name] = merged
    results["revenue_linear"] = duck.execute(
        DUCK_LINEAR.format(grain=grain), {k: parameters[k] for k in ("first", "last")}
    ).df()
    return results


def load_duckdb(engine: Any) -> Any:
    """DuckDB gets the same stored rows (with the columns derived on write) that our queries read."""
    duck = duckdb.connect()
    for table in ("leads", "opportunities", "touches", "targets", "calendar_days"):
        with engine.connect() as connection:
            frame = pd.read_sql(text(f"SELECT * FROM {table}"), connection)
        for column in frame.columns:
            # SQLite hands dates and timestamps back as text; DuckDB must compare them as times.
            if column.endswith(("_day", "_at", "_start")) or column in ("day", "month"):
                frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        duck.register("frame", frame)
        duck.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
        duck.unregister("frame")
        del frame
    return duck


def check_same(ours: dict[str, pd.DataFrame], theirs: dict[str, pd.DataFrame]) -> list[str]:
    """The totals that must agree between the two engines; a mismatch means the benchmark compares apples and pears."""
    problems = []
    for column in ("mqls", "sqls", "won_mqls", "rejected", "sla_met", "sla_breached", "opportunities_created", "won"):
        mine, duck = float(ours["total"][column].sum()), float(theirs["total"][column].fillna(0).sum())
        if abs(mine - duck) > 1e-6:
            problems.append(f"{column}: ours {mine} duckdb {duck}")
    for column in ("pipeline_created", "won_amount"):
        mine, duck = float(ours["total"][column].sum()), float(theirs["total"][column].fillna(0).sum())
        if abs(mine - duck) > 1e-6 * max(1.0, abs(mine)):
            problems.append(f"{column}: ours {mine} duckdb {duck}")
    mine, duck = float(ours["revenue_linear"]["revenue"].sum()), float(theirs["revenue_linear"]["revenue"].sum())
    if abs(mine - duck) > 1e-6 * max(1.0, abs(mine)):
        problems.append(f"linear revenue: ours {mine} duckdb {duck}")
    return problems


PAGES = {
    # page file: query string of the view timed (the default view: no query string)
    "scoreboard.py": {},
    "rejections.py": {},
    "rejections.py?period=this_year": {"period": "this_year"},
    # the latest closed round of the sample company's survey, held against the 1,000,000 leads
    "diagnostic.py": {},
}


def page_seconds(url: str, schema: str | None, runs: int, page: str = "scoreboard.py") -> dict[str, float]:
    """A page as a user opens it (its default view, or the view of PAGES), run headless by AppTest: median
    seconds with every cache cleared (the first visit after an import) and warm."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from core.admin import users
    from ui.auth import USER_KEY

    if schema:
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    os.environ["DATABASE_URL"] = url
    engine = engine_for(url, None)
    reader = Actor("benchmark", "admin")
    if users.get_user(engine, "bench_exec") is None:
        users.create_user(
            engine, reader, username="bench_exec", name="Bench Exec", email="b@x.io", role="exec", password="x" * 12
        )
    viewer = users.get_user(engine, "bench_exec")
    engine.dispose()

    def open_page() -> None:
        app = AppTest.from_file(str(ROOT / "pages" / page.split("?")[0]), default_timeout=600)
        app.session_state[USER_KEY] = viewer
        for key, value in PAGES[page].items():
            app.query_params[key] = value
        app.run()
        assert not app.exception, [exception.message for exception in app.exception]
        assert app.metric, f"{page} showed no metrics"

    cold = []
    for _ in range(runs):
        st.cache_resource.clear()
        st.cache_data.clear()
        started = time.perf_counter()
        open_page()
        cold.append(time.perf_counter() - started)
    warm, _ = median_seconds(open_page, (), runs)
    return {"cold_median_s": statistics.median(cold), "warm_median_s": warm}


def rejection_query_seconds(engine: Any, runs: int) -> dict[str, float]:
    """Median seconds of each query the Rejections page runs, over the sample's "this year" (ten months)."""
    from core.definitions.rules import IcpRules, MqlRules
    from core.rejections.explorer import Drill, by_owner, by_reason, drill_leads, heatmap, overview, weekly
    from core.rejections.profiles import reason_profiles
    from core.rejections.scope import RejectionQuery

    query = RejectionQuery(dt.date(2026, 1, 1), dt.date(2026, 10, 31))
    calls: dict[str, tuple[Callable[..., object], tuple[Any, ...]]] = {
        "overview": (overview, (engine, query)),
        "by_reason": (by_reason, (engine, query)),
        "weekly": (weekly, (engine, query)),
        "heatmap_source": (heatmap, (engine, query, "source")),
        "heatmap_campaign": (heatmap, (engine, query, "campaign")),
        "by_owner": (by_owner, (engine, query)),
        "reason_profiles": (reason_profiles, (engine, query, IcpRules(company_size_min=50), MqlRules())),
        "drill_first_page": (drill_leads, (engine, query, Drill(reason="Wrong company size"))),
    }
    seconds = {}
    for label, (function, arguments) in calls.items():
        seconds[label], _ = median_seconds(function, arguments, runs)
        print(f"  rejections {label}: {seconds[label]:.3f} s (median of {runs})")
    return seconds


def diagnostic_seconds(engine: Any, runs: int) -> dict[str, float]:
    """Loads the sample company's survey rounds (the Diagnostic page needs a closed one), then times measuring
    the six signs over the 13 weeks to the end of the data, and a whole diagnosis of the latest closed round."""
    from core.admin.seed import SAMPLE_DIR, SURVEY_FILE, seed_survey
    from core.alignment.diagnostic.report import diagnose
    from core.alignment.diagnostic.signs import measured_signs
    from core.alignment.diagnostic.survey import closed_rounds
    from core.settings import current

    today = current(engine).today()
    seed_survey(engine, SAMPLE_DIR / SURVEY_FILE, today=today)
    latest = closed_rounds(engine, today)[0]
    seconds = {}
    seconds["measured_signs"], _ = median_seconds(
        measured_signs, (engine, dt.date(2026, 8, 2), dt.date(2026, 10, 31)), runs
    )
    seconds["diagnose"], _ = median_seconds(functools.partial(diagnose, today=today), (engine, latest.id), runs)
    for label, value in seconds.items():
        print(f"  diagnostic {label}: {value:.3f} s (median of {runs})")
    return seconds


def sandbox_seconds(engine: Any, data: Path, runs: int) -> dict[str, float]:
    """Uploads into a trial (the 1,000,000-lead file, and a 100,000-lead one), then what a moved knob costs on
    the 100,000: the outcome of the new knobs and the threshold curve (the definition in force is cached)."""
    import dataclasses

    from core.sandbox.outcome import active_knobs, curve, outcome
    from core.sandbox.trials import upload_trial

    ops = Actor("bench_ops", "ops")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with (data / "leads.csv").open("rb") as handle:
        upload_trial(engine, ops, "all leads", handle)
    seconds["upload_all_leads"] = time.perf_counter() - started
    small = generate_data(100_000)
    started = time.perf_counter()
    with (small / "leads.csv").open("rb") as handle:
        trial = upload_trial(engine, ops, "100k leads", handle)
    seconds["upload_100k"] = time.perf_counter() - started
    knobs = active_knobs(engine)
    moved = [dataclasses.replace(knobs, score_threshold=threshold) for threshold in (40, 55, 70, 85, 65)]

    def move_a_knob() -> None:
        for each in moved:
            outcome(engine, ops, trial.id, each)
            curve(engine, ops, trial.id, each)

    total, _ = median_seconds(move_a_knob, (), runs)
    seconds["knob_move_100k"] = total / len(moved)
    for label, value in seconds.items():
        print(f"  sandbox {label}: {value:.3f} s")
    return seconds


def settings_change_seconds(engine: Any) -> float:
    """An admin's SLA change: every lead's due time and response minutes recomputed, the day counts rewritten."""
    from core.admin.settings import save
    from core.db import session_scope

    started = time.perf_counter()
    with session_scope(engine) as session:
        save(session, {"sla_hours": 5.0}, actor=Actor("benchmark", "admin"))
    return time.perf_counter() - started


SANDBOX_USERS, SANDBOX_RUNS = 5, 10


def sandbox_load(url: str, schema: str | None) -> dict[str, Any]:
    """bench/load.py's sandbox scenario against a `streamlit run` of its own on this database: five ops users, each
    on a trial of the last 365 days of stored leads, moving the score threshold; its report (p95 under "runs")."""
    if schema:
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    command = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        "--serve",
        "--url",
        "http://127.0.0.1:8597",
        "--database-url",
        url,
        "--scenario",
        "sandbox",
        "--users",
        str(SANDBOX_USERS),
        "--runs",
        str(SANDBOX_RUNS),
        "--json",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode not in (0, 1):  # 1: some runs failed, and the report says which
        raise RuntimeError(f"bench/load.py failed: {finished.stderr[-2000:]}")
    return json.loads(finished.stdout[finished.stdout.index("{") :])


def time_pages(
    report: dict[str, Any], name: str, url: str, schema: str | None, engine: Any, runs: int, data: Path
) -> None:
    report["sandbox"] = sandbox_seconds(engine, data, runs)
    report["diagnostic"] = diagnostic_seconds(engine, runs)
    report["pages"] = {}
    for page_name in PAGES:
        page = page_seconds(url, schema, runs, page_name)
        report["pages"][page_name] = page
        print(
            f"[{name}] page {page_name}: {page['cold_median_s']:.2f} s with empty caches, "
            f"{page['warm_median_s']:.2f} s cached (median of {runs})"
        )
    report["rejection_queries"] = rejection_query_seconds(engine, runs)
    report["sandbox_load"] = sandbox_load(url, schema)
    runs_seen = report["sandbox_load"]["runs"]
    print(
        f"[{name}] sandbox, {SANDBOX_USERS} users moving a knob on year-sized trials: p95 "
        f"{runs_seen['p95_s']:.2f} s, p50 {runs_seen['p50_s']:.2f} s ({runs_seen['count']} runs)"
    )
    # Last: it changes the settings every figure above was measured with.
    report["settings_change_s"] = settings_change_seconds(engine)
    print(f"[{name}] SLA change (recompute): {report['settings_change_s']:.1f} s")


# The figures the issue of a million leads in milliseconds sets goals for, by the name results.json gives them.
GOALS = {
    "scoreboard_query_set_quarter_by_week_x_duckdb": 1.0,
    "scoreboard_query_set_two_years_by_month_x_duckdb": 1.0,
    # A view the day counts do not serve (filtered by owner, campaign, industry) reads the rows.
    "scoreboard_query_set_quarter_by_week_from_rows_x_duckdb": 3.0,
    "scoreboard_query_set_two_years_by_month_from_rows_x_duckdb": 3.0,
    "scoreboard_page_cold_s": 1.0,
    "rejections_page_cold_13_weeks_s": 1.0,
    "rejections_page_cold_this_year_s": 1.0,
    "import_leads_s": 12.0,
    "reimport_leads_unchanged_s": 3.0,
    "import_touches_s": 25.0,
    "settings_change_s": 10.0,
    "sandbox_five_users_p95_s": 0.5,
}


def goal_figures(report: dict[str, Any]) -> dict[str, float | None]:
    """One backend's report as the goal table reads it; None where this run did not measure the figure."""
    queries, pages = report.get("queries", {}), report.get("pages", {})
    imports = {step["kind"]: step["seconds"] for step in report.get("imports", [])}

    def ratio(scope: str, key: str = "ratio") -> float | None:
        return queries[scope].get(key) if scope in queries else None

    def cold(page: str) -> float | None:
        return pages[page]["cold_median_s"] if page in pages else None

    return {
        "scoreboard_query_set_quarter_by_week_x_duckdb": ratio("quarter_by_week"),
        "scoreboard_query_set_two_years_by_month_x_duckdb": ratio("two_years_by_month"),
        "scoreboard_query_set_quarter_by_week_from_rows_x_duckdb": ratio("quarter_by_week", "from_rows_ratio"),
        "scoreboard_query_set_two_years_by_month_from_rows_x_duckdb": ratio("two_years_by_month", "from_rows_ratio"),
        "scoreboard_page_cold_s": cold("scoreboard.py"),
        "rejections_page_cold_13_weeks_s": cold("rejections.py"),
        "rejections_page_cold_this_year_s": cold("rejections.py?period=this_year"),
        "import_leads_s": imports.get("leads"),
        "reimport_leads_unchanged_s": report["reimport_leads"]["seconds"] if "reimport_leads" in report else None,
        "import_touches_s": imports.get("touches"),
        "settings_change_s": report.get("settings_change_s"),
        "sandbox_five_users_p95_s": report["sandbox_load"]["runs"]["p95_s"] if "sandbox_load" in report else None,
    }


def bench_backend(name: str, url: str, data: Path, runs: int, *, page_only: bool = False) -> dict[str, Any]:
    schema = None
    if name == "postgresql":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(url).begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    else:
        database = OUT / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{database}"
    engine = engine_for(url, schema)
    upgrade(engine)
    report: dict[str, Any] = {"backend": name, "imports": [], "queries": {}}
    try:
        for kind in KINDS:
            step = run_child(url, schema, kind, data / f"{kind}.csv")
            report["imports"].append(step)
            print(
                f"[{name}] import {kind}: {step['rows']:,} rows in {step['seconds']:.1f} s, "
                f"peak {step['peak_rss_mb']:.0f} MB"
            )
        if page_only:
            time_pages(report, name, url, schema, engine, runs, data)
            return report
        # A re-import of the same leads file must change nothing; its time is the idempotency check's cost.
        again = run_child(url, schema, "leads", data / "leads.csv")
        report["reimport_leads"] = again
        print(f"[{name}] re-import leads (no changes): {again['seconds']:.1f} s, peak {again['peak_rss_mb']:.0f} MB")

        # The filter pickers' values: a read of the small table kept at import (a scan of every lead before).
        picker_seconds, _ = median_seconds(filter_options, (engine,), runs)
        report["filter_options_median_s"] = picker_seconds
        print(f"[{name}] filter pickers' values: {picker_seconds * 1000:.1f} ms (median of {runs})")

        duck = load_duckdb(engine)
        for scope, (first, last, grain) in SCOPES.items():
            ours_seconds, ours = median_seconds(our_query_set, (engine, first, last, grain), runs)
            duck_seconds, theirs = median_seconds(duck_query_set, (duck, first, last, grain), runs)
            rows_seconds, from_rows = median_seconds(our_query_set, (engine, first, last, grain, True), runs)
            problems = check_same(ours, theirs)  # type: ignore[arg-type]
            problems += [f"from the rows: {problem}" for problem in check_same(from_rows, theirs)]  # type: ignore[arg-type]
            report["queries"][scope] = {
                "ours_median_s": ours_seconds,
                "duckdb_median_s": duck_seconds,
                "ratio": ours_seconds / duck_seconds,
                "from_rows_median_s": rows_seconds,
                "from_rows_ratio": rows_seconds / duck_seconds,
                "mismatches": problems,
            }
            print(
                f"[{name}] {scope}: ours {ours_seconds:.3f} s, DuckDB {duck_seconds:.3f} s, "
                f"ratio {ours_seconds / duck_seconds:.1f}x; from the rows {rows_seconds:.3f} s, "
                f"{rows_seconds / duck_seconds:.1f}x (median of {runs})"
                + (f"  MISMATCH {problems}" if problems else "  (same numbers)")
            )
        duck.close()
        time_pages(report, name, url, schema, engine, runs, data)
    finally:
        engine.dispose()
        if schema:
            with create_engine(url).begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    return report


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-import":
        url, schema, kind, path = sys.argv[2:6]
        print(json.dumps(import_one(url, schema or None, kind, Path(path))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--page-only", action="store_true", help="imports, then only the pages' timings")
    arguments = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = generate_data(arguments.leads)
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "platform": platform.platform(),
        "duckdb": duckdb.__version__,
        "date": dt.date.today().isoformat(),
    }
    print(f"machine: {machine}")
    results = {"machine": machine, "leads": arguments.leads, "runs": arguments.runs, "backends": []}
    for backend in arguments.backends:
        url = postgres_url() if backend == "postgresql" else ""
        report = bench_backend(backend, url, data, arguments.runs, page_only=arguments.page_only)
        report["goals"] = goal_figures(report)
        for figure, value in report["goals"].items():
            met = "not measured" if value is None else ("met" if value <= GOALS[figure] else "not met")
            if value is not None and arguments.leads != 1_000_000:
                met = "the goal is set for 1,000,000 leads"  # a smaller run is not judged against it
            shown = "—" if value is None else f"{value:.2f}"
            print(f"[{backend}] goal {figure}: {shown} (goal ≤ {GOALS[figure]:g}): {met}")
        results["backends"].append(report)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"results in {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
