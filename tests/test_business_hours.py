"""Business-hour arithmetic across evenings, weekends, holidays and DST."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.business_hours import BusinessCalendar, BusinessClock


def series(*stamps: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps))).astype("datetime64[us]")


@pytest.fixture
def us_clock() -> BusinessClock:
    return BusinessClock(BusinessCalendar(holiday_country="US"))


def test_minutes_between(us_clock: BusinessClock) -> None:
    minutes = us_clock.minutes_between(
        series("2025-01-03 16:00", "2025-01-03 18:00", "2024-12-31 10:00", "2025-01-06 12:00", None),
        series("2025-01-06 10:00", "2025-01-06 09:30", "2025-01-02 09:00", "2025-01-06 11:00", "2025-01-06 11:00"),
    )
    # Fri 16–17 + Mon 9–10; Mon 9–9:30 only; 31 Dec 10–17 then New Year's Day off; backwards = 0; missing = NaN.
    assert minutes[:4].tolist() == [120, 30, 420, 0]
    assert np.isnan(minutes[4])


def test_add_minutes_lands_on_the_next_working_day(us_clock: BusinessClock) -> None:
    due = us_clock.add_minutes(series("2025-01-03 16:00", "2025-01-04 12:00", "2025-01-17 15:00"), 240)
    # Fri 16:00 + 4h -> Mon 12:00; Saturday noon -> Mon 13:00; Fri 17 Jan 15:00 -> Tue 21 Jan 11:00 (MLK Day).
    assert [str(x) for x in due] == ["2025-01-06 12:00:00", "2025-01-06 13:00:00", "2025-01-21 11:00:00"]


def test_exactly_a_whole_day_ends_at_closing_time(us_clock: BusinessClock) -> None:
    due = us_clock.add_minutes(series("2025-01-06 09:00"), 480)
    assert str(due.iloc[0]) == "2025-01-06 17:00:00"


def test_timezone_and_daylight_saving() -> None:
    clock = BusinessClock(BusinessCalendar(timezone="Europe/Berlin"))
    # Fri 28 Mar 2025 15:00 UTC = 16:00 CET; 1h left on Friday, 3h on Monday 31 Mar (now CEST, UTC+2).
    due = clock.add_minutes(series("2025-03-28 15:00"), 240)
    assert str(due.iloc[0]) == "2025-03-31 10:00:00"


def test_custom_week_and_hours() -> None:
    clock = BusinessClock(BusinessCalendar(weekdays=(6, 0, 1, 2, 3), start=dt.time(8), end=dt.time(12)))
    # Sunday is a working day, Friday is not: Thu 11:00 -> Sun 11:00 for 4 hours.
    due = clock.add_minutes(series("2025-01-02 11:00"), 240)
    assert str(due.iloc[0]) == "2025-01-05 11:00:00"


def test_invalid_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="end after they start"):
        BusinessClock(BusinessCalendar(start=dt.time(17), end=dt.time(9)))
    with pytest.raises(ValueError, match="working day"):
        BusinessClock(BusinessCalendar(weekdays=()))
