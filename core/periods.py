"""Periods and grains: how a date range is cut into weeks, months or quarters.

Weeks are ISO weeks (Monday). The calendar table holds every day from
CALENDAR_FIRST to CALENDAR_LAST with its bucket starts, so grouping by a grain is
a join that works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Literal

Grain = Literal["week", "month", "quarter"]
GRAINS: tuple[Grain, ...] = ("week", "month", "quarter")
CALENDAR_FIRST = dt.date(2000, 1, 1)
CALENDAR_LAST = dt.date(2059, 12, 31)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def bucket_start(day: dt.date, grain: Grain) -> dt.date:
    return {"week": week_start, "month": month_start, "quarter": quarter_start}[grain](day)


def next_bucket_start(start: dt.date, grain: Grain) -> dt.date:
    if grain == "week":
        return start + dt.timedelta(days=7)
    months = 1 if grain == "month" else 3
    year, month = divmod(start.month - 1 + months, 12)
    return dt.date(start.year + year, month + 1, 1)


@dataclass(frozen=True)
class Period:
    """One bucket of a range, clipped to the range (the first and last may be partial)."""

    start: dt.date  # bucket start, the grouping key
    first_day: dt.date  # first day inside the range
    last_day: dt.date  # last day inside the range


def periods(first_day: dt.date, last_day: dt.date, grain: Grain | Literal["range"]) -> list[Period]:
    """Every bucket that overlaps [first_day, last_day], in order ("range": the range itself)."""
    if last_day < first_day:
        raise ValueError(f"the range ends ({last_day}) before it starts ({first_day})")
    if grain == "range":
        return [Period(first_day, first_day, last_day)]
    result = []
    start = bucket_start(first_day, grain)
    while start <= last_day:
        end = next_bucket_start(start, grain) - dt.timedelta(days=1)
        result.append(Period(start, max(start, first_day), min(end, last_day)))
        start = end + dt.timedelta(days=1)
    return result


def last_complete_month(today: dt.date) -> tuple[dt.date, dt.date]:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


def calendar_rows(first: dt.date = CALENDAR_FIRST, last: dt.date = CALENDAR_LAST) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    day = first
    while day <= last:
        rows.append(
            {
                "day": day,
                "week_start": week_start(day),
                "month_start": month_start(day),
                "quarter_start": quarter_start(day),
                "days_in_month": calendar.monthrange(day.year, day.month)[1],
            }
        )
        day += dt.timedelta(days=1)
    return rows


# How far before the data a range may start, and after it (or today) end: room for a period around the data.
CLAMP_MARGIN = dt.timedelta(days=366)


def clamp_range(
    first: dt.date, last: dt.date, span: tuple[dt.date, dt.date] | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """A range someone typed or a link carried, kept within a year of the data's span (and of today): a page
    whose work grows with the days or weeks of its range cannot be made to count ten thousand years."""
    lower = (span[0] if span else today) - CLAMP_MARGIN
    upper = max(span[1] if span else today, today) + CLAMP_MARGIN
    first = min(max(first, lower), upper)
    last = max(min(last, upper), first)
    return first, last
