"""One URL cannot stall the server: a range read from a link is kept to the data's years, and per-week work
is one grouped pass (the hardening probe: /rejections?period=custom&from=0001-01-01&to=9999-12-31 took 381 s of
CPU and 1.5 GB)."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.admin.seed import seed_sample_data
from core.periods import clamp_range
from core.rejections.scope import NO_REASON
from core.rejections.streaks import week_tops
from tests.conftest import page_file, run, signed_in_as_existing

SPAN = (dt.date(2024, 11, 1), dt.date(2026, 10, 31))
TODAY = dt.date(2026, 12, 7)


def test_a_range_is_kept_within_a_year_of_the_data() -> None:
    assert clamp_range(dt.date(1, 1, 1), dt.date(9999, 12, 31), SPAN, TODAY) == (
        dt.date(2023, 11, 1),
        dt.date(2027, 12, 8),
    )
    assert clamp_range(dt.date(2025, 1, 1), dt.date(2025, 3, 31), SPAN, TODAY) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 3, 31),
    )
    # Wholly outside the data: a valid range at the edge, never one that ends before it starts.
    first, last = clamp_range(dt.date(1990, 1, 1), dt.date(1991, 1, 1), SPAN, TODAY)
    assert first == last == dt.date(2023, 11, 1)
    assert clamp_range(dt.date(1, 1, 1), dt.date(9999, 12, 31), None, TODAY) == (
        dt.date(2025, 12, 6),
        dt.date(2027, 12, 8),
    )


def naive_tops(frame: pd.DataFrame, weeks: list[dt.date]) -> dict[dt.date, str | None]:
    """The rule as written before: a filter per week."""
    reasoned = frame[frame["reason"] != NO_REASON]
    tops: dict[dt.date, str | None] = {}
    for week in weeks:
        counts = reasoned.loc[reasoned["week"] == week].set_index("reason")["rejections"]
        leaders = counts[counts == counts.max()] if not counts.empty else counts
        tops[week] = str(leaders.index[0]) if len(leaders) == 1 else None
    return tops


@pytest.mark.parametrize("seed", range(20))
def test_the_grouped_week_tops_match_the_rule(seed: int) -> None:
    generator = random.Random(seed)
    weeks = [dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(12)]
    rows = [
        (week, reason, generator.randint(1, 4))
        for week in generator.sample(weeks, 9)
        for reason in generator.sample(["Budget", "Timing", "Wrong size", NO_REASON], generator.randint(1, 4))
    ]
    frame = pd.DataFrame(rows, columns=["week", "reason", "rejections"])
    assert week_tops(frame, weeks) == naive_tops(frame, weeks)


def test_a_link_to_ten_thousand_years_opens_the_datas_years(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    for page, key in (("rejections.py", "rj_range"), ("scoreboard.py", "sb_range")):
        app = signed_in_as_existing(database, "erin", page_file(page))
        app.query_params["period"] = "custom"
        app.query_params["from"] = "0001-01-01"
        app.query_params["to"] = "9999-12-31"
        run(app)
        first, last = (dt.date.fromisoformat(app.query_params[name]) for name in ("from", "to"))
        assert dt.date(2023, 1, 1) <= first <= dt.date(2024, 12, 31), page
        assert dt.date(2026, 12, 7) <= last <= dt.date(2028, 1, 1), page
        assert app.date_input(key=key).value is not None
