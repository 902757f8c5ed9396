"""Numbers as spreadsheets export them: one rule per file for the decimal and thousands separators.

`2.500,75` is 2500.75 in a German export and nonsense in an American one; `1.234` is a thousand and more in
one and a little over one in the other. Guessing value by value stores some of them wrong, silently. So a
file is read by one rule: declared in its mapping, or guessed from every number in the file (a value that
only one convention can read votes for it). A value the rule cannot read, or one that both conventions read
differently when nothing in the file decided the rule, is refused with both readings, never stored as a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

DECIMAL_POINT = "."
DECIMAL_COMMA = ","
THOUSANDS_CHOICES = (",", ".", " ", "'", "")
_NAMES = {".": "point", ",": "comma", " ": "space", "'": "apostrophe", "": "none"}

# What is never part of a number's digits: a currency sign or code before or after, and the spaces and
# apostrophes that group thousands in French and Swiss exports (always thousands, under either rule).
_CURRENCY = re.compile(r"^\s*(?:[A-Z]{3}\s+)?[$€£¥]?\s*|\s*[$€£¥]?\s*(?:[A-Z]{3})?\s*$")
_GROUPING = re.compile(r"[\s\u00a0\u202f'’]")
_PLAIN_INTEGER = r"[+-]?[0-9]+"
# Scientific notation only ever uses a point.
_PLAIN_POINT = r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"


def _grammar(decimal: str, thousands: str) -> re.Pattern[str]:
    grouped = ""
    if thousands:
        # A group separator needs a first group of 1–3 digits that does not start with 0: 0.125 is no thousands.
        grouped = rf"[1-9][0-9]{{0,2}}(?:{re.escape(thousands)}[0-9]{{3}})+|"
    return re.compile(rf"[+-]?(?:{grouped}[0-9]+)(?:{re.escape(decimal)}[0-9]+)?")


_POINT_READING = _grammar(".", ",")
_COMMA_READING = _grammar(",", ".")


@dataclass(frozen=True)
class NumberFormat:
    """How the numbers of one file are written."""

    decimal: str = DECIMAL_POINT
    thousands: str = ","
    declared: bool = False  # set in the mapping, not guessed
    votes: int = 0  # values that only this rule can read (when guessed)
    against: int = 0  # values that only the other rule can read (when guessed)

    @property
    def decided(self) -> bool:
        """True when the mapping or the file itself says which rule holds."""
        return self.declared or self.votes > 0

    def describe(self) -> str:
        rule = f"decimal {_NAMES[self.decimal]}, thousands {_NAMES[self.thousands]}"
        if self.declared:
            return f"{rule}; set in the mapping"
        if self.votes:
            noun = "value" if self.votes == 1 else "values"
            return f"{rule}; guessed from {self.votes:,} {noun} only this rule reads"
        return f"{rule}; nothing in the file decides, so the usual rule for its delimiter"


def declared(decimal: str, thousands: str | None = None) -> NumberFormat:
    """The rule a mapping sets; thousands default to the other of point and comma."""
    if decimal not in (DECIMAL_POINT, DECIMAL_COMMA):
        raise ValueError(f"decimal_separator is {decimal!r}; expected '.' or ','")
    if thousands is None:
        thousands = "," if decimal == DECIMAL_POINT else "."
    if thousands not in THOUSANDS_CHOICES or thousands == decimal:
        raise ValueError(
            f"thousands_separator is {thousands!r}; expected one of ',', '.', ' ', \"'\" or '' (none), "
            "not the decimal separator"
        )
    return NumberFormat(decimal, thousands, declared=True)


def _clean(values: pd.Series) -> pd.Series:
    return values.str.replace(_CURRENCY, "", regex=True).str.replace(_GROUPING, "", regex=True)


def _readings(cleaned: pd.Series, whole: bool) -> tuple[pd.Series, pd.Series]:
    """Each value read with a decimal point and with a decimal comma (NaN where that rule cannot read it)."""
    point_ok = cleaned.str.fullmatch(_POINT_READING) | cleaned.str.fullmatch(_PLAIN_POINT)
    comma_ok = cleaned.str.fullmatch(_COMMA_READING)
    point = pd.to_numeric(cleaned.where(point_ok).str.replace(",", "", regex=False), errors="coerce")
    comma_text = cleaned.where(comma_ok).str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    comma = pd.to_numeric(comma_text, errors="coerce")
    point, comma = point.astype(float), comma.astype(float)
    if whole:  # a count cannot be 1.2: that reading does not exist for it
        point = point.where(point % 1 == 0)
        comma = comma.where(comma % 1 == 0)
    return point, comma


def _needs_reading(values: pd.Series) -> pd.Series:
    """Values that are not plain integers: the only ones the rule matters for."""
    return ~(values.str.fullmatch(_PLAIN_INTEGER) | (values == ""))


def votes(values: pd.Series, *, whole: bool) -> tuple[int, int]:
    """(values only a decimal point reads, values only a decimal comma reads) among stripped texts."""
    values = values[_needs_reading(values)]
    if values.empty:
        return 0, 0
    point, comma = _readings(_clean(values), whole)
    point_only = int((point.notna() & comma.isna()).sum())
    comma_only = int((comma.notna() & point.isna()).sum())
    return point_only, comma_only


def guessed(point_votes: int, comma_votes: int, delimiter: str) -> NumberFormat:
    """The rule most of the file's numbers agree on; with no vote, the usual one for the delimiter
    (semicolon files come from locales that write a decimal comma)."""
    if comma_votes > point_votes or (comma_votes == point_votes and delimiter == ";"):
        return NumberFormat(DECIMAL_COMMA, ".", votes=comma_votes, against=point_votes)
    return NumberFormat(DECIMAL_POINT, ",", votes=point_votes, against=comma_votes)


@dataclass(frozen=True)
class Reading:
    """Numbers read from texts by a rule: `numbers` (NaN where unreadable) and why each failure failed."""

    numbers: pd.Series
    unreadable: np.ndarray  # neither rule reads it: not a number at all
    other_rule: np.ndarray  # only the other rule reads it
    ambiguous: np.ndarray  # both rules read it, differently, and nothing decided the rule
    other: pd.Series  # the other rule's reading, for the report
    used_rule: bool = False  # some value had a separator, so the rule decided how it reads


def read(values: pd.Series, rule: NumberFormat, *, whole: bool) -> Reading:
    """`values` (stripped text, '' for blank) as numbers under `rule`."""
    blank = (values == "").to_numpy()
    count = len(values)
    plain = values.str.fullmatch(_PLAIN_INTEGER).to_numpy(dtype=bool, na_value=False)
    if rule.decimal == DECIMAL_POINT and not rule.thousands:
        plain = plain | values.str.fullmatch(_PLAIN_POINT).to_numpy(dtype=bool, na_value=False)
    numbers = pd.Series(np.nan, index=values.index, dtype=float)
    other = pd.Series(np.nan, index=values.index, dtype=float)
    none = np.zeros(count, dtype=bool)
    if plain.any():
        numbers[plain] = pd.to_numeric(values[plain], errors="coerce").astype(float)
    todo = ~plain & ~blank
    if not todo.any():
        return Reading(numbers, none, none.copy(), none.copy(), other)
    cleaned = _clean(values[todo])
    point, comma = _readings(cleaned, whole)
    mine, theirs = (point, comma) if rule.decimal == DECIMAL_POINT else (comma, point)
    if rule.thousands != ("," if rule.decimal == DECIMAL_POINT else "."):
        # A declared unusual grouping (none, space, apostrophe): point or comma groups are not numbers then.
        grouped_by_other = cleaned.str.contains("." if rule.decimal == DECIMAL_COMMA else ",", regex=False)
        mine = mine.where(~grouped_by_other)
    differ = mine.notna() & theirs.notna() & (mine != theirs)
    ambiguous = differ & (not rule.decided)
    numbers[todo] = mine.where(~ambiguous).to_numpy()
    other[todo] = theirs.to_numpy()
    unreadable, other_rule, ambiguous_all = none.copy(), none.copy(), none.copy()
    unreadable[todo] = (mine.isna() & theirs.isna()).to_numpy()
    other_rule[todo] = (mine.isna() & theirs.notna()).to_numpy()
    ambiguous_all[todo] = ambiguous.to_numpy()
    return Reading(numbers, unreadable, other_rule, ambiguous_all, other, used_rule=True)


def shown(number: float) -> str:
    """A reading without grouping, which could itself be misread: 2500.75, 1234, 1.234."""
    return f"{number:.10f}".rstrip("0").rstrip(".") if np.isfinite(number) else str(number)
