"""Targets and spend edited as tables: the year's frames, the diff that is saved, its audit, and refusals."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select

from core.admin.planning import (
    PlanChange,
    PlanError,
    channels,
    save_spend,
    save_targets,
    spend_frame,
    targets_frame,
    years,
)
from core.formats import TARGET_METRICS
from core.models import AuditEntry, Spend, Target, Touch
from core.permissions import Actor, PermissionDenied
from tests.conftest import TESTER, snapshot

JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)
DEC_2024 = dt.date(2024, 12, 1)
NAN = float("nan")


@pytest.fixture
def planned(engine: Engine) -> Engine:
    """Targets and spend for Dec 2024 to Feb 2025, as an import (import_id 7) left them."""
    with engine.begin() as connection:
        connection.execute(
            insert(Target),
            [
                {"month": DEC_2024, "metric": "mqls", "value": 90.0, "import_id": 7},
                {"month": JAN, "metric": "mqls", "value": 100.0, "import_id": 7},
                {"month": JAN, "metric": "pipeline", "value": 50_000.0, "import_id": 7},
                {"month": FEB, "metric": "mqls", "value": 120.0, "import_id": 7},
                {"month": FEB, "metric": "sqls", "value": 30.0, "import_id": 7},
            ],
        )
        connection.execute(
            insert(Spend),
            [
                {"month": DEC_2024, "channel": "paid_search", "amount": 4_000.0, "import_id": 7},
                {"month": JAN, "channel": "paid_search", "amount": 5_000.0, "import_id": 7},
                {"month": JAN, "channel": "events", "amount": 2_000.0, "import_id": 7},
                {"month": FEB, "channel": "paid_search", "amount": 5_500.0, "import_id": 7},
            ],
        )
    return engine


def target_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Target.month, Target.metric, Target.value, Target.import_id).order_by(Target.month, Target.metric)
        )
        return [tuple(row) for row in rows]


def spend_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Spend.month, Spend.channel, Spend.amount, Spend.import_id).order_by(Spend.month, Spend.channel)
        )
        return [tuple(row) for row in rows]


def audit_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                AuditEntry.actor, AuditEntry.action, AuditEntry.entity, AuditEntry.entity_key, AuditEntry.detail
            ).order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]


def wide(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """A targets table as the editor returns it: month, then one cell per metric in TARGET_METRICS order."""
    return pd.DataFrame(list(rows), columns=["month", *TARGET_METRICS])


def long(*rows: tuple[Any, ...]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["month", "channel", "amount"])


def test_targets_frame_is_one_row_per_month_with_a_column_per_metric(planned: Engine) -> None:
    frame = targets_frame(planned, 2025)
    assert list(frame.columns) == ["month", "mqls", "sqls", "pipeline", "opportunities", "won_revenue"]
    assert list(frame["month"]) == [JAN, FEB]
    assert all(type(month) is dt.date for month in frame["month"])
    assert all(frame[metric].dtype == "float64" for metric in TARGET_METRICS)
    january, february = frame.to_dict("records")
    assert (january["mqls"], january["pipeline"]) == (100.0, 50_000.0)
    assert math.isnan(january["sqls"]) and math.isnan(january["won_revenue"])
    assert (february["mqls"], february["sqls"]) == (120.0, 30.0)
    assert math.isnan(february["pipeline"])
    assert list(targets_frame(planned)["month"]) == [DEC_2024, JAN, FEB]
    assert targets_frame(planned, 2026).empty
    assert list(targets_frame(planned, 2026).columns) == ["month", *TARGET_METRICS]


def test_spend_frame_and_years(planned: Engine) -> None:
    frame = spend_frame(planned, 2025)
    assert list(frame.itertuples(index=False, name=None)) == [
        (JAN, "events", 2_000.0),
        (JAN, "paid_search", 5_000.0),
        (FEB, "paid_search", 5_500.0),
    ]
    assert len(spend_frame(planned)) == 4
    assert spend_frame(planned, 2023).empty
    assert years(planned) == [2024, 2025]


def test_channels_are_those_of_the_touches_and_of_stored_spend(engine: Engine) -> None:
    assert channels(engine) == []
    with engine.begin() as connection:
        touched = [("L1", "webinar"), ("L2", "paid_search"), ("L3", "paid_search")]
        connection.execute(
            insert(Touch),
            [{"lead_id": lead, "touched_at": dt.datetime(2025, 1, 5), "channel": channel} for lead, channel in touched],
        )
        connection.execute(insert(Spend), [{"month": JAN, "channel": "events", "amount": 2_000.0}])
    assert channels(engine) == ["events", "paid_search", "webinar"]


def test_years_of_an_empty_database_and_of_spend_alone(engine: Engine) -> None:
    assert years(engine) == []
    save_spend(engine, TESTER, long(("2027-05", "events", 10)), year=2027)
    assert years(engine) == [2027]


def test_saving_what_was_read_changes_nothing_and_audits_nothing(planned: Engine) -> None:
    before = snapshot(planned)
    assert save_targets(planned, TESTER, targets_frame(planned, 2025), year=2025) == PlanChange(0, 0, 0)
    assert save_spend(planned, TESTER, spend_frame(planned, 2025), year=2025).summary() == "No changes."
    # The same values written differently are not a change either: another day of the month, an int, text.
    same = wide(
        (dt.date(2025, 1, 31), 100, None, "50000", None, None),
        ("2025-02", 120.0, 30, None, None, None),
    )
    assert save_targets(planned, TESTER, same, year=2025) == PlanChange(0, 0, 0)
    assert snapshot(planned) == before
    assert audit_rows(planned) == []


def test_round_trip_into_an_empty_database(engine: Engine) -> None:
    edited = wide((MAR, 130.0, NAN, 60_000.0, NAN, NAN), (JAN, 100.0, 25.0, NAN, 8.0, 45_000.0))
    assert save_targets(engine, TESTER, edited, year=2025) == PlanChange(6, 0, 0)
    frame = targets_frame(engine, 2025)
    pd.testing.assert_frame_equal(frame, edited.sort_values("month", ignore_index=True), check_dtype=False)
    assert save_targets(engine, TESTER, frame, year=2025).summary() == "No changes."
    assert all(row[3] is None for row in target_rows(engine))


def test_an_edit_writes_and_audits_exactly_the_differences(planned: Engine) -> None:
    edited = wide(
        # January: mqls 100 → 110, pipeline cleared.
        (JAN, 110.0, NAN, NAN, NAN, NAN),
        # February's row deleted; a new March row given on another day of the month.
        (dt.date(2025, 3, 15), 130.0, NAN, NAN, NAN, 80_000.0),
    )
    change = save_targets(planned, TESTER, edited, year=2025)
    assert change == PlanChange(inserted=2, updated=1, deleted=3)
    assert change.summary() == "2 added, 1 changed, 3 removed."
    assert target_rows(planned) == [
        (DEC_2024, "mqls", 90.0, 7),  # another year: untouched
        (JAN, "mqls", 110.0, None),
        (MAR, "mqls", 130.0, None),
        (MAR, "won_revenue", 80_000.0, None),
    ]
    assert sorted(audit_rows(planned), key=lambda row: row[3]) == [
        ("test", "update", "target", "2025-01 mqls", {"before": 100.0, "after": 110.0}),
        ("test", "delete", "target", "2025-01 pipeline", {"before": 50_000.0, "after": None}),
        ("test", "delete", "target", "2025-02 mqls", {"before": 120.0, "after": None}),
        ("test", "delete", "target", "2025-02 sqls", {"before": 30.0, "after": None}),
        ("test", "create", "target", "2025-03 mqls", {"before": None, "after": 130.0}),
        ("test", "create", "target", "2025-03 won_revenue", {"before": None, "after": 80_000.0}),
    ]


def test_a_blank_target_cell_removes_that_target_and_is_audited(planned: Engine) -> None:
    frame = targets_frame(planned, 2025)
    frame.loc[frame["month"] == FEB, "sqls"] = None
    assert save_targets(planned, Actor("olu", "ops"), frame, year=2025) == PlanChange(0, 0, 1)
    assert (FEB, "sqls", 30.0, 7) not in target_rows(planned)
    assert (FEB, "mqls", 120.0, 7) in target_rows(planned)
    assert audit_rows(planned) == [("olu", "delete", "target", "2025-02 sqls", {"before": 30.0, "after": None})]


def test_spend_edit_with_a_renamed_channel_and_a_new_row(planned: Engine) -> None:
    edited = long(
        (JAN, "events", 2_500.0),  # 2,000 → 2,500
        (JAN, "linkedin", 5_000.0),  # was paid_search: one removed, one added
        (FEB, "paid_search", 5_500.0),  # unchanged
        ("2025-02-10", "  webinars ", 750),  # another day of February, padded channel
    )
    change = save_spend(planned, TESTER, edited, year=2025)
    assert change == PlanChange(inserted=2, updated=1, deleted=1)
    assert spend_rows(planned) == [
        (DEC_2024, "paid_search", 4_000.0, 7),
        (JAN, "events", 2_500.0, None),
        (JAN, "linkedin", 5_000.0, None),
        (FEB, "paid_search", 5_500.0, 7),
        (FEB, "webinars", 750.0, None),
    ]
    assert sorted(audit_rows(planned), key=lambda row: row[3]) == [
        ("test", "update", "spend", "2025-01 events", {"before": 2_000.0, "after": 2_500.0}),
        ("test", "create", "spend", "2025-01 linkedin", {"before": None, "after": 5_000.0}),
        ("test", "delete", "spend", "2025-01 paid_search", {"before": 5_000.0, "after": None}),
        ("test", "create", "spend", "2025-02 webinars", {"before": None, "after": 750.0}),
    ]


def test_rows_left_wholly_blank_are_ignored(planned: Engine) -> None:
    frame = pd.concat([spend_frame(planned, 2025), long((None, None, None))], ignore_index=True)
    assert save_spend(planned, TESTER, frame, year=2025) == PlanChange(0, 0, 0)


# Each bad table also carries a good change (January mqls 100 → 999), which must not be written either.
GOOD_JAN = (JAN, 999.0, NAN, 50_000.0, NAN, NAN)
GOOD_FEB = (FEB, 120.0, 30.0, NAN, NAN, NAN)


@pytest.mark.parametrize(
    ("edited", "message"),
    [
        pytest.param(
            wide(GOOD_JAN, (FEB, -5, 30.0, NAN, NAN, NAN)),
            "row 2, column 'mqls': '-5' is not valid, expected a number of at least 0",
            id="negative target",
        ),
        pytest.param(
            wide(GOOD_JAN, (FEB, 120.0, "thirty", NAN, NAN, NAN)),
            "row 2, column 'sqls': 'thirty' is not valid, expected a number of at least 0",
            id="target not a number",
        ),
        pytest.param(
            wide(GOOD_JAN, (dt.date(2024, 11, 15), 120.0, NAN, NAN, NAN, NAN)),
            "row 2, column 'month': '2024-11-15' is not valid, expected a month in 2025",
            id="month outside the year",
        ),
        pytest.param(
            wide(GOOD_JAN, ("March", 120.0, NAN, NAN, NAN, NAN)),
            "row 2, column 'month': 'March' is not valid, expected a month (e.g. 2025-03 or 2025-03-01)",
            id="month not a date",
        ),
        pytest.param(
            wide(GOOD_JAN, (None, 120.0, NAN, NAN, NAN, NAN)),
            "row 2, column 'month': a month (the month is required)",
            id="month missing",
        ),
        pytest.param(
            wide(GOOD_JAN, GOOD_FEB, ("2025-01", NAN, NAN, NAN, 4.0, NAN)),
            "row 3, column 'month': '2025-01' is not valid, expected each month once (2025-01 is also row 1)",
            id="month twice",
        ),
    ],
)
def test_bad_targets_are_refused_whole(planned: Engine, edited: pd.DataFrame, message: str) -> None:
    before = snapshot(planned)
    with pytest.raises(PlanError) as refused:
        save_targets(planned, TESTER, edited, year=2025)
    assert message in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert snapshot(planned) == before  # includes the audit log


@pytest.mark.parametrize(
    ("edited", "message"),
    [
        pytest.param(
            long((JAN, "events", 2_500.0), (JAN, "paid_search", 5_000.0), ("2025-01-20", " events", 10.0)),
            "row 3, column 'channel': ' events' is not valid, "
            "expected each channel once a month (2025-01 events is also row 1)",
            id="channel twice in a month",
        ),
        pytest.param(
            long((JAN, "events", 2_500.0), (FEB, "paid_search", "lots")),
            "row 2, column 'amount': 'lots' is not valid, expected a number of at least 0",
            id="amount not a number",
        ),
        pytest.param(
            long((JAN, "events", 2_500.0), (FEB, "paid_search", -1.5)),
            "row 2, column 'amount': '-1.5' is not valid, expected a number of at least 0",
            id="negative amount",
        ),
        pytest.param(
            long((JAN, "events", 2_500.0), (FEB, "paid_search", None)),
            "row 2, column 'amount': a number of at least 0 (the amount is required)",
            id="amount missing",
        ),
        pytest.param(
            long((JAN, "events", 2_500.0), (FEB, "   ", 10.0)),
            "row 2, column 'channel': a channel name (the channel is required)",
            id="channel blank",
        ),
        pytest.param(
            long((JAN, "events", 2_500.0), (FEB, "x" * 65, 10.0)),
            "row 2, column 'channel': '" + "x" * 65 + "' is not valid, expected a channel name, text of at most 64",
            id="channel too long",
        ),
        pytest.param(
            long((JAN, "events", 2_500.0), (dt.date(2026, 1, 1), "events", 10.0)),
            "row 2, column 'month': '2026-01-01' is not valid, expected a month in 2025",
            id="month outside the year",
        ),
    ],
)
def test_bad_spend_is_refused_whole(planned: Engine, edited: pd.DataFrame, message: str) -> None:
    before = snapshot(planned)
    with pytest.raises(PlanError) as refused:
        save_spend(planned, TESTER, edited, year=2025)
    assert message in str(refused.value)
    assert snapshot(planned) == before


def test_every_problem_is_listed(planned: Engine) -> None:
    before = snapshot(planned)
    edited = long((JAN, "", -1), ("2025-13", "events", 1.0))
    with pytest.raises(PlanError) as refused:
        save_spend(planned, TESTER, edited, year=2025)
    assert [(problem.row, problem.column) for problem in refused.value.problems] == [
        (1, "channel"),
        (1, "amount"),
        (2, "month"),
    ]
    assert str(refused.value).startswith("The spend were not saved (3 problems; nothing was changed):")
    assert snapshot(planned) == before


def test_a_missing_metric_column_is_refused_rather_than_read_as_no_targets(planned: Engine) -> None:
    before = snapshot(planned)
    with pytest.raises(PlanError, match="no column 'won_revenue'"):
        save_targets(planned, TESTER, targets_frame(planned, 2025).drop(columns="won_revenue"), year=2025)
    with pytest.raises(PlanError, match="unknown column 'mql'"):
        save_targets(planned, TESTER, targets_frame(planned, 2025).assign(mql=1.0), year=2025)
    assert snapshot(planned) == before


def test_a_role_without_import_data_changes_nothing(planned: Engine) -> None:
    before = snapshot(planned)
    marketer = Actor("m", "marketing")
    with pytest.raises(PermissionDenied, match="m \\(marketing\\) may not import data"):
        save_targets(planned, marketer, wide(GOOD_JAN), year=2025)
    with pytest.raises(PermissionDenied):
        save_spend(planned, marketer, long((JAN, "events", 1.0)), year=2025)
    # Permission comes before validation: a refused role learns nothing about the table.
    with pytest.raises(PermissionDenied):
        save_spend(planned, Actor("e", "exec"), long((None, "", "lots")), year=2025)
    assert snapshot(planned) == before


def test_two_people_editing_the_same_year_keep_each_others_changes(planned: Engine) -> None:
    ana, ben = Actor("ana", "ops"), Actor("ben", "admin")
    ana_sees = targets_frame(planned, 2025)
    ben_sees = targets_frame(planned, 2025)
    # Ben adds March and raises January's MQL target while Ana still has the page open.
    ben_edit = pd.concat([ben_sees, pd.DataFrame([{"month": MAR, "mqls": 130.0}])], ignore_index=True)
    ben_edit.loc[0, "mqls"] = 105.0
    assert save_targets(planned, ben, ben_edit, year=2025, shown=ben_sees) == PlanChange(1, 1, 0)
    # Ana changes February's SQLs only: Ben's March and January survive her save.
    ana_edit = ana_sees.copy()
    ana_edit.loc[1, "sqls"] = 35.0
    assert save_targets(planned, ana, ana_edit, year=2025, shown=ana_sees) == PlanChange(0, 1, 0)
    stored = {(month, metric): value for month, metric, value, _ in target_rows(planned)}
    assert (stored[(JAN, "mqls")], stored[(FEB, "sqls")], stored[(MAR, "mqls")]) == (105.0, 35.0, 130.0)
    # Ana also changes January's MQLs, which Ben changed since she opened the page: refused, nothing written.
    ana_edit.loc[0, "mqls"] = 110.0
    before = snapshot(planned)
    with pytest.raises(PlanError, match=r"Someone else changed target .*2025-01 mqls \(now 105\)"):
        save_targets(planned, ana, ana_edit, year=2025, shown=ana_sees)
    assert snapshot(planned) == before


def test_a_spend_row_deleted_by_someone_else_is_a_conflict_only_if_you_edited_it(planned: Engine) -> None:
    shown = spend_frame(planned, 2025)  # Jan events, Jan paid_search, Feb paid_search
    without_events = shown[shown["channel"] != "events"].reset_index(drop=True)
    assert save_spend(planned, TESTER, without_events, year=2025, shown=shown) == PlanChange(0, 0, 1)
    edited = shown.copy()
    edited.loc[edited["channel"] == "events", "amount"] = 2_500.0
    with pytest.raises(PlanError, match=r"2025-01 events \(now removed\)"):
        save_spend(planned, TESTER, edited, year=2025, shown=shown)
    edited = shown.copy()
    edited.loc[2, "amount"] = 6_000.0  # February only: the deleted January row stays deleted
    assert save_spend(planned, TESTER, edited, year=2025, shown=shown) == PlanChange(0, 1, 0)
    assert [(row[1], row[2]) for row in spend_rows(planned) if row[0].year == 2025] == [
        ("paid_search", 5_000.0),
        ("paid_search", 6_000.0),
    ]
