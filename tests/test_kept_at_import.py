"""What imports keep beside their rows (the pickers' values, the attribution credits) equals what the rows say,
after any sequence of imports and re-imports: a property test over random small files, on both databases."""

from __future__ import annotations

import contextlib
import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from core.funnel.segments import filter_options
from core.imports.problems import ImportRefused
from core.imports.runs import import_csv
from core.rejections.catalogue import install_default_catalogue
from tests.conftest import DATA_TABLES, TESTER, csv_file
from tests.oracles import PICKED, credits_afresh, picker_values_from_the_rows, stored_credits

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
steps = st.lists(
    st.one_of(
        st.tuples(st.just("leads"), lead_rows),
        st.tuples(st.just("opportunities"), deal_rows),
        st.tuples(st.just("touches"), touch_rows),
    ),
    min_size=2,
    max_size=6,
)


def as_csv(kind: str, rows: list[tuple[object, ...]]) -> str:
    if kind == "leads":
        lines = ["lead_id,created_at,source,campaign,owner,industry"]
        lines += [
            f"{lead},{at(0)},{source},{campaign},{owner},{industry}" for lead, source, campaign, owner, industry in rows
        ]
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


Sequence = list[tuple[str, list[tuple[object, ...]]]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_what_imports_keep_follows_the_rows(engine: Engine, sequence: Sequence) -> None:
    start_empty(engine)
    for number, (kind, rows) in enumerate(sequence):
        # A refused file changes nothing: what was kept must still follow the rows.
        with contextlib.suppress(ImportRefused):
            import_csv(engine, kind, csv_file(as_csv(kind, rows), f"{kind}-{number}.csv"), actor=TESTER)
        assert {field: filter_options(engine)[field] for field in PICKED} == picker_values_from_the_rows(engine)
        pd.testing.assert_frame_equal(stored_credits(engine), credits_afresh(engine), check_exact=False, rtol=1e-9)


def test_the_random_files_are_imported_not_refused(engine: Engine) -> None:
    start_empty(engine)
    for kind, rows in (
        ("leads", [("L1", "webinar", "c-one", "Ann", "Tech"), ("L2", "events", "", "", "")]),
        ("opportunities", [("O1", "L1", "won", 30, "Kim"), ("O2", "", "lost", 5, ""), ("O3", "L2", "open", 0, "")]),
        ("touches", [("L1", "", 10, "email"), ("", "O1", 20, "webinar"), ("L1", "O1", 40, "events")]),
    ):
        # The shapes the property test draws from, one of each: every file must get in, or it tests refusals.
        import_csv(engine, kind, csv_file(as_csv(kind, rows), f"{kind}.csv"), actor=TESTER)
    assert stored_credits(engine)["opportunity_id"].unique().tolist() == ["O1"]
