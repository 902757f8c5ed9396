"""Monthly targets and marketing spend, edited a year at a time as a table (the Targets & spend page).

A save is all or nothing, like an import: every row is checked first and a refusal names the row (as the
editor numbers it), the column, the value and what was expected. A good table is compared with what is
stored for that year and only the differences are written, each one audited, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Table, case, delete, extract, func, insert, select, union, update
from sqlalchemy.exc import IntegrityError

from core import audit
from core.db import retrying, session_scope
from core.formats import KINDS, TARGET_METRICS
from core.permissions import Actor, require

MAX_PROBLEMS = 20
TARGET_COLUMNS = ("month", *TARGET_METRICS)
SPEND_COLUMNS = ("month", "channel", "amount")

_TARGETS = KINDS["targets"]
_SPEND = KINDS["spend"]
_TOUCHES = KINDS["touches"]
_MONTH_EXPECTED = _TARGETS.field("month").expected()
_NUMBER_EXPECTED = _TARGETS.field("value").expected()
_CHANNEL_LENGTH = _SPEND.field("channel").max_length

Key = tuple[dt.date, str]


@dataclass(frozen=True)
class PlanProblem:
    row: int  # 1-based, as the editor shows it
    column: str
    value: str | None  # None when the cell is blank
    expected: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column!r}"
        if self.value is None:
            return f"{where}: {self.expected}"
        return f"{where}: {self.value!r} is not valid, expected {self.expected}"


class PlanError(ValueError):
    """The edited table was refused; nothing was saved."""

    def __init__(self, message: str, problems: Sequence[PlanProblem] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message)


@dataclass(frozen=True)
class PlanChange:
    inserted: int
    updated: int
    deleted: int

    def summary(self) -> str:
        if not (self.inserted or self.updated or self.deleted):
            return "No changes."
        return f"{self.inserted} added, {self.updated} changed, {self.deleted} removed."


def _year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)


def targets_frame(engine: Engine, year: int | None = None) -> pd.DataFrame:
    """One row per month (`month` is a date, the first of the month), one float column per metric (NaN: no target)."""
    table = _TARGETS.table
    metrics = [func.max(case((table.c.metric == metric, table.c.value))).label(metric) for metric in TARGET_METRICS]
    statement = select(table.c.month, *metrics).group_by(table.c.month).order_by(table.c.month)
    if year is not None:
        first, after = _year_bounds(year)
        statement = statement.where(table.c.month >= first, table.c.month < after)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(TARGET_COLUMNS))
    frame["month"] = frame["month"].astype(object)
    return frame.astype({metric: "float64" for metric in TARGET_METRICS})


def spend_frame(engine: Engine, year: int | None = None) -> pd.DataFrame:
    """Columns month (a date, the first of the month), channel, amount; sorted by month and channel."""
    table = _SPEND.table
    statement = select(table.c.month, table.c.channel, table.c.amount).order_by(table.c.month, table.c.channel)
    if year is not None:
        first, after = _year_bounds(year)
        statement = statement.where(table.c.month >= first, table.c.month < after)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(SPEND_COLUMNS))
    frame["month"] = frame["month"].astype(object)
    # Explicit dtypes even when empty, so that the editor knows a new row's cells are text and numbers.
    return frame.astype({"channel": "str", "amount": "float64"})


def channels(engine: Engine) -> list[str]:
    """The channels spend may be entered for, sorted: those of the touch data (so that CAC can match them) and
    those spend is already stored under."""
    statement = union(select(_TOUCHES.table.c.channel), select(_SPEND.table.c.channel))
    with engine.connect() as connection:
        return sorted({channel for channel in connection.scalars(statement) if channel.strip()})


def years(engine: Engine) -> list[int]:
    """Calendar years that have any target or any spend, oldest first."""
    statement = union(select(extract("year", _TARGETS.table.c.month)), select(extract("year", _SPEND.table.c.month)))
    with engine.connect() as connection:
        # PostgreSQL's EXTRACT returns a numeric, SQLite's an integer.
        return sorted({int(year) for year in connection.scalars(statement) if year is not None})


class _Invalid(Exception):
    def __init__(self, expected: str) -> None:
        self.expected = expected


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes: not a cell value, and not blank
        return False


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):  # pd.Timestamp is a datetime
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _month(value: Any, year: int) -> dt.date:
    """Any day of a month, as a date or text, means that month."""
    day: dt.date | None = None
    if isinstance(value, str):
        text = value.strip()
        try:
            day = dt.datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            try:
                day = dt.datetime.fromisoformat(text).date()
            except ValueError:
                day = None
    elif isinstance(value, dt.datetime):  # pd.Timestamp is a datetime
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, np.datetime64):
        day = pd.Timestamp(value).date()
    if day is None:
        raise _Invalid(_MONTH_EXPECTED)
    if day.year != year:
        raise _Invalid(f"a month in {year}")
    return day.replace(day=1)


def _number(value: Any) -> float:
    number: float | None = None
    # bool is an int to Python, but True is not a target.
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        number = float(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise _Invalid(_NUMBER_EXPECTED)
    return number


def _channel(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"a channel name, text of at most {_CHANNEL_LENGTH} characters")
    text = value.strip()
    if len(text) > _CHANNEL_LENGTH:
        raise _Invalid(f"a channel name, text of at most {_CHANNEL_LENGTH} characters")
    return text


def _check_columns(edited: pd.DataFrame, expected: tuple[str, ...], what: str) -> None:
    # A missing metric column would otherwise read as "every target of that metric removed".
    missing = [column for column in expected if column not in edited.columns]
    unknown = [str(column) for column in edited.columns if column not in expected]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("no column " + ", ".join(repr(column) for column in missing))
        if unknown:
            parts.append("unknown column " + ", ".join(repr(column) for column in unknown))
        raise PlanError(
            f"The {what} table has {' and '.join(parts)}; expected the columns {', '.join(expected)}. "
            "Nothing was saved."
        )


def _refuse(problems: list[PlanProblem], what: str) -> PlanError:
    if len(problems) == 1:
        return PlanError(f"The {what} were not saved: {problems[0]}. Nothing was changed.", problems)
    shown = problems[:MAX_PROBLEMS]
    lines = [f"The {what} were not saved ({len(problems)} problems; nothing was changed):"]
    lines += [f"- {problem}" for problem in shown]
    if len(problems) > len(shown):
        lines.append(f"- … and {len(problems) - len(shown)} more")
    return PlanError("\n".join(lines), problems)


def _records(edited: pd.DataFrame, columns: tuple[str, ...]) -> Iterable[tuple[int, dict[str, Any]]]:
    """(row as the editor numbers it, cells) for every row that is not wholly blank."""
    for position, values in enumerate(edited.loc[:, list(columns)].itertuples(index=False, name=None), start=1):
        cells = dict(zip(columns, values, strict=True))
        # A row added in the editor and left empty carries nothing to save.
        if not all(_blank(value) for value in cells.values()):
            yield position, cells


def _parse_month(row: int, cells: dict[str, Any], year: int, problems: list[PlanProblem]) -> dt.date | None:
    value = cells["month"]
    if _blank(value):
        problems.append(PlanProblem(row, "month", None, "a month (the month is required)"))
        return None
    try:
        return _month(value, year)
    except _Invalid as invalid:
        problems.append(PlanProblem(row, "month", _shown(value), invalid.expected))
        return None


def _wanted_targets(edited: pd.DataFrame, year: int) -> dict[Key, float]:
    _check_columns(edited, TARGET_COLUMNS, "targets")
    problems: list[PlanProblem] = []
    wanted: dict[Key, float] = {}
    row_of_month: dict[dt.date, int] = {}
    for row, cells in _records(edited, TARGET_COLUMNS):
        month = _parse_month(row, cells, year, problems)
        values: dict[str, float] = {}
        for metric in TARGET_METRICS:
            value = cells[metric]
            if _blank(value):
                continue
            try:
                values[metric] = _number(value)
            except _Invalid as invalid:
                problems.append(PlanProblem(row, metric, _shown(value), invalid.expected))
        if month is None:
            continue
        if month in row_of_month:
            expected = f"each month once ({month:%Y-%m} is also row {row_of_month[month]})"
            problems.append(PlanProblem(row, "month", _shown(cells["month"]), expected))
            continue
        row_of_month[month] = row
        wanted.update({(month, metric): value for metric, value in values.items()})
    if problems:
        raise _refuse(problems, "targets")
    return wanted


def _wanted_spend(edited: pd.DataFrame, year: int) -> dict[Key, float]:
    _check_columns(edited, SPEND_COLUMNS, "spend")
    problems: list[PlanProblem] = []
    wanted: dict[Key, float] = {}
    row_of_key: dict[Key, int] = {}
    for row, cells in _records(edited, SPEND_COLUMNS):
        month = _parse_month(row, cells, year, problems)
        channel: str | None = None
        if _blank(cells["channel"]):
            problems.append(PlanProblem(row, "channel", None, "a channel name (the channel is required)"))
        else:
            try:
                channel = _channel(cells["channel"])
            except _Invalid as invalid:
                problems.append(PlanProblem(row, "channel", _shown(cells["channel"]), invalid.expected))
        amount: float | None = None
        if _blank(cells["amount"]):
            problems.append(PlanProblem(row, "amount", None, f"{_NUMBER_EXPECTED} (the amount is required)"))
        else:
            try:
                amount = _number(cells["amount"])
            except _Invalid as invalid:
                problems.append(PlanProblem(row, "amount", _shown(cells["amount"]), invalid.expected))
        if month is None or channel is None:
            continue
        key = (month, channel)
        if key in row_of_key:
            expected = f"each channel once a month ({month:%Y-%m} {channel} is also row {row_of_key[key]})"
            problems.append(PlanProblem(row, "channel", _shown(cells["channel"]), expected))
            continue
        row_of_key[key] = row
        if amount is not None:
            wanted[key] = amount
    if problems:
        raise _refuse(problems, "spend")
    return wanted


def _merge_edits(
    stored: dict[Key, float], shown: dict[Key, float], edited: dict[Key, float], entity: str
) -> dict[Key, float]:
    """What is stored, with only the cells the person changed (shown -> edited) applied.

    Rows someone else saved meanwhile are kept. A cell the person changed that someone else also changed
    since it was shown is a conflict: refused whole, so nobody's change is lost unseen.
    """
    result = dict(stored)
    conflicts = []
    for key in sorted(set(shown) | set(edited)):
        before, after = shown.get(key), edited.get(key)
        if before == after:
            continue
        if stored.get(key) != before and stored.get(key) != after:
            conflicts.append(f"{key[0]:%Y-%m} {key[1]} (now {_shown(stored.get(key)) if key in stored else 'removed'})")
            continue
        if after is None:
            result.pop(key, None)
        else:
            result[key] = after
    if conflicts:
        raise PlanError(
            f"Someone else changed {entity} since you opened the page: {', '.join(conflicts)}. Nothing was saved; "
            "reload the table to see their values and make your change again."
        )
    return result


@retrying
def _apply(
    engine: Engine,
    actor: Actor,
    *,
    table: Table,
    name_column: str,
    value_column: str,
    entity: str,
    wanted: dict[Key, float],
    shown: dict[Key, float] | None,
    year: int,
) -> PlanChange:
    first, after = _year_bounds(year)
    month, name, value = table.c.month, table.c[name_column], table.c[value_column]
    try:
        with session_scope(engine) as session:
            query = select(month, name, value).where(month >= first, month < after)
            # Row locks on PostgreSQL: a second save of the same year waits for this one to commit before it
            # compares; a row this one inserts is not locked, so a clash on it ends in the IntegrityError below.
            rows = session.execute(query.with_for_update())
            stored: dict[Key, float] = {(row_month, row_name): row_value for row_month, row_name, row_value in rows}
            if shown is not None:
                wanted = _merge_edits(stored, shown, wanted, entity)
            added = sorted(key for key in wanted if key not in stored)
            changed = sorted(key for key in wanted if key in stored and stored[key] != wanted[key])
            removed = sorted(key for key in stored if key not in wanted)
            if added:
                session.execute(
                    insert(table),
                    [
                        {"month": key[0], name_column: key[1], value_column: wanted[key], "import_id": None}
                        for key in added
                    ],
                )
            for key in changed:
                session.execute(
                    update(table)
                    .where(month == key[0], name == key[1])
                    .values({value_column: wanted[key], "import_id": None})
                )
            for key in removed:
                session.execute(delete(table).where(month == key[0], name == key[1]))
            for action, keys in (("create", added), ("update", changed), ("delete", removed)):
                for key in keys:
                    audit.record(
                        session,
                        actor=actor.username,
                        action=action,
                        entity=entity,
                        entity_key=f"{key[0]:%Y-%m} {key[1]}",
                        detail={"before": stored.get(key), "after": wanted.get(key)},
                    )
    except IntegrityError as error:
        # Another save of the same year inserted one of these rows between our read and our write.
        raise PlanError(
            f"Someone else saved {entity} for {year} at the same moment; nothing was saved. "
            "Reload the page and make the change again."
        ) from error
    return PlanChange(inserted=len(added), updated=len(changed), deleted=len(removed))


def save_targets(
    engine: Engine, actor: Actor, edited: pd.DataFrame, *, year: int, shown: pd.DataFrame | None = None
) -> PlanChange:
    """Make the stored targets of `year` what the edited wide table says (a blank cell: no target).

    With `shown` (the table as it was put in front of the person) only the cells they changed are written,
    and a cell someone else changed meanwhile is refused as a conflict instead of being overwritten.
    """
    require(actor, "import_data")
    wanted = _wanted_targets(edited, year)
    before = None if shown is None else _wanted_targets(shown, year)
    return _apply(
        engine,
        actor,
        table=_TARGETS.table,
        name_column="metric",
        value_column="value",
        entity="target",
        wanted=wanted,
        shown=before,
        year=year,
    )


def save_spend(
    engine: Engine, actor: Actor, edited: pd.DataFrame, *, year: int, shown: pd.DataFrame | None = None
) -> PlanChange:
    """Make the stored spend of `year` what the edited table says (a deleted row: that spend removed).

    `shown` works as for `save_targets`.
    """
    require(actor, "import_data")
    wanted = _wanted_spend(edited, year)
    before = None if shown is None else _wanted_spend(shown, year)
    return _apply(
        engine,
        actor,
        table=_SPEND.table,
        name_column="channel",
        value_column="amount",
        entity="spend",
        wanted=wanted,
        shown=before,
        year=year,
    )
