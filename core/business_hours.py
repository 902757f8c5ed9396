"""Business-hour arithmetic, vectorised over whole columns.

Response times are measured in business hours when the SLA says so: only the
working window of working days counts, holidays excluded. numpy's business-day
functions do the day counting and the `holidays` package supplies the calendar,
so a million leads take a fraction of a second.

The trick: `business_minutes_since_origin(t)` maps a local wall-clock time onto a
line where only business minutes advance. The business time between two moments
is then a subtraction, and "N business hours after t" is the inverse mapping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import holidays as holidays_lib
import numpy as np
import pandas as pd

_ORIGIN = np.datetime64("1990-01-01", "D")
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "UTC"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None

    @property
    def day_minutes(self) -> float:
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)

    @property
    def weekmask(self) -> str:
        return "".join("1" if day in self.weekdays else "0" for day in range(7))

    def holiday_dates(self, first_year: int = 1990, last_year: int = 2060) -> np.ndarray:
        if not self.holiday_country:
            return np.array([], dtype="datetime64[D]")
        calendar = holidays_lib.country_holidays(
            self.holiday_country, subdiv=self.holiday_subdivision, years=range(first_year, last_year + 1)
        )
        return np.array(sorted(calendar.keys()), dtype="datetime64[D]")


class BusinessClock:
    """Converts between UTC timestamps and business minutes for one calendar."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        if calendar.day_minutes <= 0:
            raise ValueError("business hours must end after they start")
        if not calendar.weekdays:
            raise ValueError("at least one working day is needed")
        self.calendar = calendar
        self._holidays = calendar.holiday_dates()
        self._start_minute = calendar.start.hour * 60 + calendar.start.minute
        self._origin = np.busday_offset(_ORIGIN, 0, roll="forward", weekmask=calendar.weekmask, holidays=self._holidays)

    def _local(self, utc: pd.Series) -> pd.Series:
        return utc.dt.tz_localize("UTC").dt.tz_convert(self.calendar.timezone).dt.tz_localize(None)

    def minutes_since_origin(self, utc: pd.Series) -> np.ndarray:
        """Business minutes from the origin to each naive-UTC timestamp (NaN for NaT)."""
        local = self._local(utc)
        valid = local.notna().to_numpy()
        result = np.full(len(local), np.nan)
        if not valid.any():
            return result
        values = local[valid]
        days = values.dt.floor("D").to_numpy().astype("datetime64[D]")
        minute_of_day = (values - values.dt.floor("D")).dt.total_seconds().to_numpy() / 60.0
        cal = self.calendar
        whole_days = np.busday_count(self._origin, days, weekmask=cal.weekmask, holidays=self._holidays)
        is_workday = np.is_busday(days, weekmask=cal.weekmask, holidays=self._holidays)
        within = np.clip(minute_of_day - self._start_minute, 0.0, cal.day_minutes) * is_workday
        result[valid] = whole_days * cal.day_minutes + within
        return result

    def minutes_between(self, start_utc: pd.Series, end_utc: pd.Series) -> np.ndarray:
        """Business minutes from start to end, 0 where end comes first, NaN where either is missing."""
        diff = self.minutes_since_origin(end_utc) - self.minutes_since_origin(start_utc)
        return np.where(np.isnan(diff), np.nan, np.maximum(diff, 0.0))

    def add_minutes(self, start_utc: pd.Series, minutes: float) -> pd.Series:
        """The naive-UTC moment when `minutes` business minutes have passed after each start."""
        target = self.minutes_since_origin(start_utc) + minutes
        valid = ~np.isnan(target)
        result = pd.Series(pd.NaT, index=start_utc.index, dtype="datetime64[us]")
        if not valid.any():
            return result
        cal = self.calendar
        # Land on the end of a working day rather than the start of the next one.
        day_index = np.ceil(target[valid] / cal.day_minutes) - 1
        minute_in_day = target[valid] - day_index * cal.day_minutes
        days = np.busday_offset(
            self._origin, day_index.astype(np.int64), roll="forward", weekmask=cal.weekmask, holidays=self._holidays
        )
        local = pd.to_datetime(days) + pd.to_timedelta(self._start_minute + minute_in_day, unit="min")
        utc = (
            pd.Series(local, index=start_utc.index[valid])
            .dt.tz_localize(cal.timezone, ambiguous="NaT", nonexistent="shift_forward")
            .dt.tz_convert("UTC")
            .dt.tz_localize(None)
        )
        result[valid] = utc.astype("datetime64[us]")
        return result


def calendar_minutes_between(start_utc: pd.Series, end_utc: pd.Series) -> np.ndarray:
    diff = (end_utc - start_utc).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan) / 60.0
    return np.where(np.isnan(diff), np.nan, np.maximum(diff, 0.0))
