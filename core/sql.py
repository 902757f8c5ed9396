"""The SQL toolkit every area counts with: a connection from an engine or one already open, conditional counts,
the calendar bucket of a day, a median per bucket and group, a result as a frame, and a rate that is "no data"
over nothing. Public so that areas share it instead of reaching into each other's private helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Date, Engine, Select, case, func, literal, or_, select

from core.models import CalendarDay
from core.periods import Grain


def connection_of(target: Engine | Connection) -> Any:
    """A context manager giving a connection: a new one from an engine, or the caller's own, left open."""
    return target.connect() if isinstance(target, Engine) else _Borrowed(target)


class _Borrowed:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __enter__(self) -> Connection:
        return self.connection

    def __exit__(self, *_exc: object) -> None:
        return None


def bucket(grain: Grain | Literal["range"], first_day: dt.date | None = None) -> Any:
    """The bucket start of each calendar day; for the whole range, one constant bucket."""
    if grain == "range":
        return literal(first_day, Date)
    return {"week": CalendarDay.week_start, "month": CalendarDay.month_start, "quarter": CalendarDay.quarter_start}[
        grain
    ]


def filled(column: Any) -> ColumnElement[bool]:
    """A text column holding something other than blanks."""
    return func.coalesce(func.trim(column), "") != ""


def count_if(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def median(connection: Connection, base: Select[Any], value: Any, label: str) -> Select[Any]:
    """Median of `value` per (bucket, grp) of `base`: the mean of the two middle values when the count is even."""
    if connection.dialect.name == "postgresql":
        # One ordered-set aggregate instead of two window passes; percentile_cont interpolates the same way.
        middle_value = func.percentile_cont(0.5).within_group(value)
        return (
            base.add_columns(middle_value.label(label))
            .where(value.is_not(None))
            .group_by(base.selected_columns.bucket, base.selected_columns.grp)
        )
    ranked = (
        base.add_columns(
            value.label("value"),
            func.row_number()
            .over(partition_by=[base.selected_columns.bucket, base.selected_columns.grp], order_by=value)
            .label("rn"),
            # The same window as the rank's, over the whole partition: one sort serves both.
            func.count()
            .over(
                partition_by=[base.selected_columns.bucket, base.selected_columns.grp],
                order_by=value,
                rows=(None, None),
            )
            .label("n"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    return (
        select(ranked.c.bucket, ranked.c.grp, func.avg(ranked.c.value).label(label))
        .where(middle)
        .group_by(ranked.c.bucket, ranked.c.grp)
    )


def frame(connection: Connection, statement: Select[Any]) -> pd.DataFrame:
    """A statement's rows as a frame; its `bucket` column, where there is one, as dates."""
    result = connection.execute(statement)
    # Plain tuples: pandas probes each SQLAlchemy row for attributes it lacks, which costs more than the read.
    rows = pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))
    if not rows.empty and "bucket" in rows:
        rows["bucket"] = pd.to_datetime(rows["bucket"]).dt.date
    return rows


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, missing (no data) where the denominator is not positive."""
    numerator = pd.to_numeric(numerator, errors="coerce").astype(float)
    denominator = pd.to_numeric(denominator, errors="coerce").astype(float)
    return (numerator / denominator).where(denominator > 0)
