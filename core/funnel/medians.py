"""Exact medians kept per week, month and quarter (core.models.PeriodMedian): the median response time of each
MQL cohort and the median sales cycle of the deals won, in total, by lead source and by segment.

A median cannot be added up from day cells as counts can: it needs every value of its period. So each period's
median is kept whole, computed from the rows when an import touches one of its days (the periods from the
first touched one on) or the settings change (all of them). A view whose buckets are whole weeks, months or
quarters, or whose range is exactly one of them, unfiltered, in total, by source or by segment, reads them; a
bucket the range cuts (the first week of a quarter that starts on a Wednesday) is counted from the rows, as is
every other view. Both give the same numbers (tests/test_rollups.py, and the property test).

The medians are computed in pandas, over the values of the periods rewritten: one read of one column, instead
of nine sorts in SQL (three grains × three groupings). For an even count the median is the mean of the two
middle values, as on the row path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Connection, String, and_, case, delete, insert, literal, select, type_coerce

from core.funnel.query import KpiQuery
from core.funnel.segments import NOT_SET, Filters, segment_expression
from core.models import Lead, Opportunity, PeriodMedian
from core.periods import Grain, bucket_start, next_bucket_start, periods, quarter_start, week_start
from core.settings import OrgSettings

Metric = Literal["response", "cycle"]
GRAINS: tuple[Grain, ...] = ("week", "month", "quarter")
NO_LEAD = "(no lead)"  # as core.funnel.kpis groups a deal without a lead
EVERYTHING = dt.date.min


def since(day: dt.date) -> dt.date:
    """The first day from which every week, month and quarter holding `day` or a later day starts."""
    return week_start(quarter_start(day))


def _values(connection: Connection, metric: Metric, settings: OrgSettings, first: dt.date) -> pd.DataFrame:
    """The metric's values from `first` on: day, source group, segment group, value."""
    segment = segment_expression(settings)
    if metric == "response":
        # The day as the text SQLite stores (ISO), parsed once by pandas below, not by a converter per row.
        day = type_coerce(Lead.mql_day, String) if connection.dialect.name == "sqlite" else Lead.mql_day
        statement = select(day, Lead.source, segment, Lead.response_minutes).where(
            Lead.response_minutes.is_not(None), Lead.mql_day.is_not(None), Lead.mql_day >= first
        )
    else:
        linked = Lead.lead_id.is_not(None)
        closed = Opportunity.closed_day
        statement = (
            select(
                type_coerce(closed, String) if connection.dialect.name == "sqlite" else closed,
                case((linked, Lead.source), else_=literal(NO_LEAD)),
                case((linked, segment), else_=literal(NO_LEAD)),
                Opportunity.cycle_days,
            )
            .select_from(Opportunity)
            .outerjoin(Lead, Lead.lead_id == Opportunity.lead_id)
            .where(
                Opportunity.is_won.is_(True),
                Opportunity.cycle_days.is_not(None),
                Opportunity.closed_day.is_not(None),
                Opportunity.closed_day >= first,
            )
        )
    # Plain tuples: pandas probes each SQLAlchemy row for attributes it lacks, a second per 100,000 rows.
    fetched = [tuple(row) for row in connection.execute(statement)]
    rows = pd.DataFrame(fetched, columns=["day", "source", "segment", "value"])
    rows["day"] = pd.to_datetime(rows["day"])
    rows["source"] = rows["source"].fillna(NOT_SET)
    rows["value"] = pd.to_numeric(rows["value"]).astype(float)
    return rows


def _starts(days: pd.Series, grain: Grain) -> pd.Series:
    """Each day's week (Monday), month or quarter start."""
    if grain == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    months = days.dt.to_period("M").dt.to_timestamp()
    if grain == "month":
        return months
    return _quarters(months)


def _quarters(months: pd.Series) -> pd.Series:
    first_month = (months.dt.month - 1) // 3 * 3 + 1
    return pd.to_datetime({"year": months.dt.year, "month": first_month, "day": 1})


def rebuild(connection: Connection, settings: OrgSettings, metric: Metric, first: dt.date = EVERYTHING) -> None:
    """Rewrite the metric's medians of every period that starts on or after `first` (see `since`)."""
    values = _values(connection, metric, settings, first)
    connection.execute(delete(PeriodMedian).where(PeriodMedian.metric == metric, PeriodMedian.period_start >= first))
    records: list[dict[str, Any]] = []
    for grain in GRAINS:
        starts = _starts(values["day"], grain)
        for grouping in ("all", "source", "segment"):
            keys = [starts] if grouping == "all" else [starts, values[grouping]]
            medians = values["value"].groupby(keys).median()
            for key, value in medians.items():
                start, group = (key, "all") if grouping == "all" else key
                if pd.Timestamp(start).date() < first:
                    continue  # a period that began before the values read: only some of its values were read
                records.append(
                    {
                        "metric": metric,
                        "grain": grain,
                        "grouping": grouping,
                        "period_start": pd.Timestamp(start).date(),
                        "grp": group,
                        "value": float(value),
                    }
                )
    if records:
        connection.execute(insert(PeriodMedian), records)


# ---------------------------------------------------------------------------------------------------- reading


def plan(query: KpiQuery) -> tuple[Grain, list[dt.date], list[tuple[dt.date, dt.date]]] | None:
    """How the kept medians serve `query`: (grain, the whole periods to read, the cut edges to count from the
    rows); None when they do not (a filter, an owner or campaign grouping, a range that is no one period)."""
    if query.filters != Filters() or query.by not in (None, "source", "segment"):
        return None
    first, last = query.first_day, query.last_day
    if query.grain == "range":
        for grain in GRAINS:
            if bucket_start(first, grain) == first and next_bucket_start(first, grain) - dt.timedelta(days=1) == last:
                return grain, [first], []
        return None
    whole, edges = [], []
    for period in periods(first, last, query.grain):
        end = next_bucket_start(period.start, query.grain) - dt.timedelta(days=1)
        if (period.first_day, period.last_day) == (period.start, end):
            whole.append(period.start)
        else:
            edges.append((period.first_day, period.last_day))
    return query.grain, whole, edges


def read(
    connection: Connection, metric: Metric, grain: Grain, by: str | None, starts: list[dt.date], label: str
) -> pd.DataFrame:
    """The kept medians of the periods starting on `starts`: bucket, grp, `label`."""
    kept = PeriodMedian
    rows = connection.execute(
        select(kept.period_start, kept.grp, kept.value).where(
            and_(
                kept.metric == metric,
                kept.grain == grain,
                kept.grouping == (by or "all"),
                kept.period_start.in_(starts),
            )
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["bucket", "grp", label])
    if not frame.empty:
        frame["bucket"] = pd.to_datetime(frame["bucket"]).dt.date
        frame[label] = frame[label].astype(float)
    return frame
