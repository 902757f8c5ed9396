"""Periods and grains: how a date range is cut into weeks, months or quarters, and the period presets every
page offers ("last complete month", "this week so far", a custom range) with the days each means.

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
PeriodPreset = Literal["this_week", "last_week", "this_month", "last_month", "this_quarter", "last_quarter", "custom"]
PERIOD_PRESETS: dict[PeriodPreset, str] = {
    "last_month": "Last complete month",
    "this_month": "This month so far",
    "last_week": "Last complete week",
    "this_week": "This week so far",
    "last_quarter": "Last complete quarter",
    "this_quarter": "This quarter so far",
    "custom": "Custom range",
}
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


def _unit(preset: PeriodPreset) -> Grain:
    return preset.split("_", 1)[1]  # type: ignore[return-value]


def completed_unit(preset: str) -> Grain | None:
    """The unit of a "last …" preset (a complete week, month or quarter); None for the others."""
    return _unit(preset) if preset in PERIOD_PRESETS and preset.startswith("last_") else None


def anchor_day(today: dt.date, data_ends: dt.date | None) -> dt.date:
    """The day presets count from: today, or the day after the data ends when it stops in the past (a demo
    or an old export), so that a default view always has numbers."""
    return today if data_ends is None else min(today, data_ends + dt.timedelta(days=1))


def period_range(
    preset: PeriodPreset, today: dt.date, custom: tuple[dt.date, dt.date] | None = None
) -> tuple[dt.date, dt.date]:
    """The first and last day a preset means on `today` ("this …" ends today; "last …" is the complete one)."""
    if preset == "custom":
        if custom is None:
            raise ValueError("a custom period needs its first and last day")
        first, last = custom
        if last < first:
            raise ValueError(f"the range ends ({last}) before it starts ({first})")
        return first, last
    unit = _unit(preset)
    current = bucket_start(today, unit)
    if preset.startswith("this_"):
        return current, today
    return bucket_start(current - dt.timedelta(days=1), unit), current - dt.timedelta(days=1)


def previous_range(preset: PeriodPreset, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period to compare with: the previous week, month or quarter (as far into it as this one has
    run, for "this …"), or for a custom range the same number of days just before it."""
    if preset == "custom":
        length = last - first
        return first - length - dt.timedelta(days=1), first - dt.timedelta(days=1)
    unit = _unit(preset)
    start = bucket_start(first - dt.timedelta(days=1), unit)
    end = next_bucket_start(start, unit) - dt.timedelta(days=1)
    if preset.startswith("this_"):
        # Like for like: the first N days of the previous period against the first N days of this one.
        end = min(end, start + (last - first))
    return start, end


def trend_range(last_day: dt.date, grain: Grain, count: int) -> tuple[dt.date, dt.date]:
    """The `count` periods of `grain` that end with the one holding `last_day` (the last may be partial)."""
    start = bucket_start(last_day, grain)
    for _ in range(count - 1):
        start = bucket_start(start - dt.timedelta(days=1), grain)
    return start, last_day


def is_partial(first_day: dt.date, last_day: dt.date, grain: Grain) -> bool:
    """Whether [first_day, last_day] is less than the whole week, month or quarter it belongs to."""
    start = bucket_start(first_day, grain)
    return first_day != start or last_day != next_bucket_start(start, grain) - dt.timedelta(days=1)


def period_label(start: dt.date, grain: Grain) -> str:
    """How a period is named on a chart axis: "Oct 2026", "Q3 2026", or a week by its Monday, "26 Oct"."""
    if grain == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if grain == "month":
        return f"{start:%b %Y}"
    return f"{start:%d %b}"


def span_label(first: dt.date, last: dt.date) -> str:
    """A range as people name it: "October 2026", "Q3 2026", else "06 Jan 2025 – 12 Jan 2025"."""
    if first.day == 1 and next_bucket_start(first, "month") - dt.timedelta(days=1) == last:
        return f"{first:%B %Y}"
    if first == quarter_start(first) and next_bucket_start(first, "quarter") - dt.timedelta(days=1) == last:
        return f"Q{(first.month - 1) // 3 + 1} {first.year}"
    return f"{first:%d %b %Y} – {last:%d %b %Y}"


def shown_period_reason(
    preset: PeriodPreset, first: dt.date, last: dt.date, today: dt.date, data_ends: dt.date | None
) -> str:
    """One line on which period a page shows and why, e.g. "October 2026: the last complete month with MQLs;
    the data runs to 6 Dec 2026"."""
    label = span_label(first, last)
    runs_to = f"; the data runs to {data_ends.day} {data_ends:%b %Y}" if data_ends else ""
    if preset.startswith("last_"):
        unit = _unit(preset)
        latest = bucket_start(today, unit) - dt.timedelta(days=1)
        why = f"the last complete {unit} with MQLs" if last < latest else f"the last complete {unit}"
        return f"{label}: {why}{runs_to}"
    if preset.startswith("this_"):
        return f"{label}: this {_unit(preset)} so far{runs_to}"
    return f"{label}: the range you chose{runs_to}"
