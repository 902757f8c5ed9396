"""One rule for how a number reads, wherever it is shown: pages, the CLI, Markdown exports, digests.

A missing value (no data, a rate over nothing, a number the imports cannot support) is always MISSING, never
"None", "nan", "no data" or 0. Percentages are whole percents ("33%"), with one decimal only under 10% where a
whole number would hide the difference ("4.5%"); a gate reads like the number it gates. Money is compact
enough for six metrics in a row. Machine values (CSV columns, JSON) keep their raw form; this is for people.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "—"


def known(value: Any) -> bool:
    """A number that can be shown: not None, not NaN (pandas' NA and NaT included)."""
    if value is None:
        return False
    try:
        return not math.isnan(value)
    except TypeError:
        return value == value  # pd.NA and NaT are not equal to themselves


def percent(value: Any) -> str:
    """0.3333 -> "33%", 0.045 -> "4.5%", 1.0782 -> "108%"."""
    if not known(value):
        return MISSING
    if value != 0 and abs(value) < 0.1:
        return f"{value:.1%}"
    return f"{value:.0%}"


def points(value: Any) -> str:
    """A change of a percentage, in percentage points: 0.031 -> "+3.1 pts"."""
    if not known(value):
        return MISSING
    return f"{value * 100:+.1f} pts"


def money(value: Any) -> str:
    """$4.57M, $35k, $900."""
    if not known(value):
        return MISSING
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.2f}M"
    if abs(value) >= 10_000:
        return f"${value / 1_000:,.0f}k"
    return f"${value:,.0f}"


def count(value: Any) -> str:
    """A whole number with thousands separators: 12345 -> "12,345"."""
    return f"{value:,.0f}" if known(value) else MISSING


def decimal(value: Any, places: int = 1) -> str:
    """A measured quantity that is not a count: reps needed, a score."""
    return f"{value:,.{places}f}" if known(value) else MISSING


def hours(value: Any) -> str:
    """Response times: "3.5 h"."""
    return f"{value:.1f} h" if known(value) else MISSING


def days(value: Any) -> str:
    """Cycle lengths and ages: "42 days", "1 day"."""
    if not known(value):
        return MISSING
    return "1 day" if round(value) == 1 else f"{value:,.0f} days"


def text(value: Any) -> str:
    """Any cell for a person: a missing value is MISSING, never "None" or "nan"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, str) and not value.strip():
        return MISSING
    return str(value)
