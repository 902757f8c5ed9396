"""What imports keep beside their rows (the pickers' values, the attribution credits, the KPI counts per day)
equals what the rows say, after any sequence of imports, re-imports and settings changes: a property test over
random small files, on both databases."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from core.admin.settings import save
from core.db import session_scope
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.segments import Filters, filter_options
from core.imports.problems import ImportRefused
from core.imports.runs import import_csv
from core.rejections.catalogue import install_default_catalogue
from tests.conftest import DATA_TABLES, TESTER, csv_file
from tests.oracles import (
    PICKED,
    assert_kept_counts_give_the_rows_numbers,
    credits_afresh,
    picker_values_from_the_rows,
    stored_credits,
)

START = dt.datetime(2025, 1, 6, 9, 0)
LEAD_IDS = [f"L{n}" for n in range(1, 7)]
DEAL_IDS = [f"O{n}" for n in range(1, 5)]


def at(hours: int) -> str:
    return f"{START + dt.timedelta(hours=hours):%Y-%m-%d %H:%M:%S}"


lead_rows = st.lists(
    st.tuples(
        st.sampled_from(LEAD_IDS),
        st.sampled_from(["paid_search", "webinar", "events"]),
        st.sampled_from(["", "c-one", "c-two"]),
        st.sampled_from(["", "Ann", "Bob"]),
        st.sampled_from(["", "Tech", "Retail"]),
        st.sampled_from(["", "20", "300", "2000"]),  # company size: every segment, and none
        st.sampled_from([None, 2, 200]),  # hours after the start it became an MQL (days apart), or never
        st.sampled_from([None, 1, 30]),  # hours after that it was first answered: in the SLA, late, or never
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda row: row[0],
)
deal_rows = st.lists(
    st.tuples(
        st.sampled_from(DEAL_IDS),
        st.sampled_from(["", *LEAD_IDS]),
        st.sampled_from(["won", "lost", "open"]),
        st.integers(0, 400),  # hours after the start it closes, when it does
        st.sampled_from(["", "Kim", "Sam"]),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda row: row[0],
)
touch_rows = st.lists(
    st.tuples(
        st.sampled_from(["", *LEAD_IDS]),
        st.sampled_from(["", *DEAL_IDS]),
        st.integers(0, 400),
        st.sampled_from(["email", "events", "webinar"]),
    ).filter(lambda row: bool(row[0] or row[1])),
    min_size=1,
    max_size=8,
    unique_by=lambda row: (row[0], row[1], row[2], row[3]),
)
# An admin's save or a signed-off SLA: the segments' bounds and the response window move what is counted where.
settings_changes = st.fixed_dictionaries(
    {
        "mid_market_from": st.sampled_from([10, 100, 500]),
        "enterprise_from": st.sampled_from([1000, 3000]),
        "sla_hours": st.sampled_from([2.0, 4.0, 48.0]),
        "sla_business_hours": st.booleans(),
    }
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("leads"), lead_rows),
        st.tuples(st.just("opportunities"), deal_rows),
        st.tuples(st.just("touches"), touch_rows),
        st.tuples(st.just("settings"), settings_changes),
    ),
    min_size=2,
    max_size=6,
)


def as_csv(kind: str, rows: list[tuple[object, ...]]) -> str:
    if kind == "leads":
        lines = ["lead_id,created_at,source,campaign,owner,industry,company_size,mql_at,first_response_at"]
        for lead, source, campaign, owner, industry, size, mql, response in rows:
            mql_at = at(int(str(mql))) if mql is not None else ""
            answered = at(int(str(mql)) + int(str(response))) if mql is not None and response is not None else ""
            lines.append(f"{lead},{at(0)},{source},{campaign},{owner},{industry},{size},{mql_at},{answered}")
    elif kind == "opportunities":
        lines = ["opportunity_id,lead_id,created_at,stage,amount,closed_at,is_won,owner"]
        for deal, lead, state, hours, owner in rows:
            closed = at(int(str(hours)) + 1) if state != "open" else ""
            stage = {"won": "Closed Won", "lost": "Closed Lost", "open": "Discovery"}[str(state)]
            won = {"won": "true", "lost": "false", "open": ""}[str(state)]
            lines.append(f"{deal},{lead},{at(0)},{stage},1000,{closed},{won},{owner}")
    else:
        lines = ["lead_id,opportunity_id,touched_at,channel"]
        lines += [f"{lead},{deal},{at(int(str(hours)))},{channel}" for lead, deal, hours, channel in rows]
    return "\n".join(lines) + "\n"


def start_empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in DATA_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
        install_default_catalogue(connection)


Sequence = list[tuple[str, Any]]
# The views the kept counts serve, as of a moment when some unanswered leads are still inside their SLA.
AS_OF = START + dt.timedelta(hours=203)
KEPT_VIEWS = [
    KpiQuery(START.date(), START.date() + dt.timedelta(days=13), "week", by, filters, AS_OF)
    for by, filters in ((None, Filters()), ("source", Filters(segments=("smb", "unknown"))), ("segment", Filters()))
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_what_imports_keep_follows_the_rows(engine: Engine, sequence: Sequence) -> None:
    start_empty(engine)
    for number, (kind, rows) in enumerate(sequence):
        if kind == "settings":
            with session_scope(engine) as session:
                save(session, rows, actor=TESTER)
        # A refused file changes nothing: what was kept must still follow the rows.
        with contextlib.suppress(ImportRefused):
            if kind != "settings":
                import_csv(engine, kind, csv_file(as_csv(kind, rows), f"{kind}-{number}.csv"), actor=TESTER)
        assert {field: filter_options(engine)[field] for field in PICKED} == picker_values_from_the_rows(engine)
        pd.testing.assert_frame_equal(stored_credits(engine), credits_afresh(engine), check_exact=False, rtol=1e-9)
        for query in KEPT_VIEWS:
            assert_kept_counts_give_the_rows_numbers(engine, query)


def test_the_random_files_are_imported_not_refused(engine: Engine) -> None:
    start_empty(engine)
    for kind, rows in (
        (
            "leads",
            [("L1", "webinar", "c-one", "Ann", "Tech", "300", 2, 1), ("L2", "events", "", "", "", "", 200, None)],
        ),
        ("opportunities", [("O1", "L1", "won", 30, "Kim"), ("O2", "", "lost", 5, ""), ("O3", "L2", "open", 0, "")]),
        ("touches", [("L1", "", 10, "email"), ("", "O1", 20, "webinar"), ("L1", "O1", 40, "events")]),
    ):
        # The shapes the property test draws from, one of each: every file must get in, or it tests refusals.
        import_csv(engine, kind, csv_file(as_csv(kind, rows), f"{kind}.csv"), actor=TESTER)
    assert stored_credits(engine)["opportunity_id"].unique().tolist() == ["O1"]
    # L1 is an MQL of the first week, answered within the SLA; L2 of the second, not yet due at AS_OF.
    weeks = kpi_table(engine, KEPT_VIEWS[0])
    assert weeks[["mqls", "sla_met", "sla_breached", "sla_pending"]].values.tolist() == [[1, 1, 0, 0], [1, 0, 0, 1]]
