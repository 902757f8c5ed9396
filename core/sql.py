"""The SQL toolkit every area counts with: a connection from an engine or one already open, conditional counts,
the calendar bucket of a day, a median per bucket and group, a result as a frame, and a rate that is "no data"
over nothing. Public so that areas share it instead of reaching into each other's private helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Date, Engine, Select, case, func, literal, or_, select
from sqlalchemy.exc import DBAPIError

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


def format_column(series: pd.Series, column_type: str) -> list[Any]:
    """Python values for the staging table: timestamps as the text SQLAlchemy stores in SQLite."""
    if column_type == "datetime":
        text_values = series.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        return text_values.astype(object).where(series.notna(), None).tolist()
    if column_type == "date":
        text_values = series.dt.strftime("%Y-%m-%d")
        return text_values.astype(object).where(series.notna(), None).tolist()
    if column_type == "int":
        series = pd.to_numeric(series, errors="coerce").astype("Int64")
    elif column_type == "float":
        series = pd.to_numeric(series, errors="coerce").astype("Float64")
    return series.astype(object).where(series.notna(), None).tolist()


def bulk_insert(connection: Connection, table: str, columns: list[str], records: list[tuple[Any, ...]]) -> None:
    """Rows into `table` at the driver's fastest: COPY on PostgreSQL, executemany on SQLite; in the
    connection's transaction. Values must already be plain Python (see format_column)."""
    if not records:
        return
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        if connection.dialect.name == "postgresql":
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for record in records:
                    copy.write_row(record)
        else:
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
            cursor.executemany(statement, records)
    except dbapi_error as exc:
        # The driver's own error, as SQLAlchemy would have wrapped it: callers catch sqlalchemy.exc.DataError for
        # a value the database refuses, not psycopg's or sqlite3's classes.
        raise DBAPIError.instance(statement, None, exc, dbapi_error, dialect=connection.dialect) from exc
    finally:
        cursor.close()
