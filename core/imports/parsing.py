"""A field's text read as its type: text, numbers by the file's one rule, yes/no, choices, months, and dates in the
organisation's timezone. A value that does not fit is a problem in the log and null, never a guess."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from core.formats import FieldSpec
from core.imports import numbers
from core.imports.problems import ProblemLog
from core.text import casefold

# What the database columns hold: PostgreSQL's integer, and dates any driver reads back as a Python date.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_FIRST_YEAR, _LAST_YEAR = 1900, 2199
_DECIMAL_NAMES = {".": "point", ",": "comma"}
# A UTC offset ending a timestamp: Z, +hh:mm or +hhmm, or after a time +hh alone (ISO 8601 allows it).
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2}|(?:[T ]\d{2,6}|:\d{1,2})(?:[.,]\d+)?\s*[+-]\d{1,2})$", re.IGNORECASE)
# How far from a value's end _OFFSET's sign or Z can stand: "+hh:mm" and a line break $ allows after it.
_OFFSET_REACH = 8
_TRUE = {"true", "t", "yes", "y", "1", "won", "closed won"}
_FALSE = {"false", "f", "no", "n", "0", "lost", "closed lost"}


class FieldParser:
    """Reads the values of one field at a time, by the file's number rule and in the organisation's timezone."""

    def __init__(self, timezone: str, number_format: numbers.NumberFormat) -> None:
        self.timezone = timezone
        self.number_format = number_format
        self.read_numbers = False  # whether any number needed the rule (had a separator)

    def parse(
        self,
        spec: FieldSpec,
        raw: pd.Series,
        rows: np.ndarray,
        column: str,
        date_format: str | list[str] | None,
        log: ProblemLog,
    ) -> pd.Series:
        """`raw` (the text after the mapping, "" for blank) as the field's type; each bad value is in `log`."""
        blank = (raw == "").to_numpy()
        if spec.blank_default is not None:
            raw = raw.where(~blank, spec.blank_default)
            blank = np.zeros(len(raw), dtype=bool)
        if spec.nonblank:
            log.add_where(blank, rows, column, raw, f"a value ({spec.name} is required)")
        if spec.type == "text":
            values = raw.where(~blank, None)
            too_long = (raw.str.len() > spec.max_length).to_numpy()
            log.add_where(too_long, rows, column, raw, spec.expected())
            # PostgreSQL's text cannot hold NUL; SQLite refuses it too, so that a file imports alike on both.
            nul = raw.str.contains("\x00", regex=False).to_numpy() & ~too_long
            log.add_where(nul, rows, column, raw, "text without NUL (\\x00) characters")
            return values
        if spec.type in ("int", "float"):
            reading = numbers.read(raw.astype("str"), self.number_format, whole=spec.type == "int")
            self.read_numbers = self.read_numbers or reading.used_rule
            self._number_problems(reading, raw, rows, column, log)
            floats = reading.numbers.to_numpy(dtype=float, na_value=np.nan)
            # 1e309 reads as infinity and "NaN" as not-a-number: neither is an amount or a count.
            finite = np.isfinite(floats)
            bad = reading.unreadable | (~finite & ~blank & ~reading.other_rule & ~reading.ambiguous)
            if spec.type == "int":
                whole = np.zeros(len(floats), dtype=bool)
                whole[finite] = floats[finite] % 1 == 0
                # The columns are PostgreSQL integers; SQLite would take more, and the backends would differ.
                bad |= finite & (~whole | (floats < _INT_MIN) | (floats > _INT_MAX))
            if spec.minimum is not None:
                bad |= finite & (floats < spec.minimum)
            if spec.maximum is not None:
                bad |= finite & (floats > spec.maximum)
            log.add_where(bad, rows, column, raw, _expected(spec))
            return reading.numbers.where(~blank & ~bad & finite)
        if spec.type == "bool":
            folded = casefold(raw)
            values = pd.Series(None, index=raw.index, dtype=object)
            values[folded.isin(_TRUE)] = True
            values[folded.isin(_FALSE)] = False
            bad = values.isna().to_numpy() & ~blank
            log.add_where(bad, rows, column, raw, spec.expected())
            return values.where(~blank, None)
        if spec.type == "choice":
            folded = casefold(raw).str.strip()
            bad = ~folded.isin(spec.choices).to_numpy() & ~blank
            log.add_where(bad, rows, column, raw, spec.expected())
            return folded.where(~blank, None)
        formats = [date_format] if isinstance(date_format, str) else list(date_format or ["ISO8601"])
        if spec.type == "month":
            parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
            for fmt in [*formats, "%Y-%m"]:
                todo = parsed.isna().to_numpy() & ~blank
                if todo.any():
                    parsed[todo] = pd.to_datetime(raw[todo], format=fmt, errors="coerce").astype("datetime64[us]")
            bad = parsed.isna().to_numpy() & ~blank
            log.add_where(bad, rows, column, raw, spec.expected())
            outside = _outside_years(parsed)
            log.add_where(outside, rows, column, raw, f"a month from {_FIRST_YEAR} to {_LAST_YEAR}")
            return parsed.where(~outside).dt.to_period("M").dt.start_time
        return self._parse_datetime(spec, raw, blank, rows, column, formats, log)

    def _parse_datetime(
        self,
        spec: FieldSpec,
        raw: pd.Series,
        blank: np.ndarray,
        rows: np.ndarray,
        column: str,
        formats: list[str],
        log: ProblemLog,
    ) -> pd.Series:
        """Naive values are local to the organisation's timezone; values with an offset are exact."""
        result = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
        has_offset = _ends_in_offset(raw) & ~blank
        for fmt in formats:
            todo = result.isna().to_numpy() & ~blank
            if not todo.any():
                break
            aware = todo & (has_offset if fmt == "ISO8601" else np.full(len(raw), "%z" in fmt))
            naive = todo & ~aware
            if naive.any():
                parsed = _without_offset(raw[naive], fmt)
                if self.timezone != "UTC":
                    # A time the autumn clock change repeats is read as its first (summer-time) occurrence.
                    first = np.ones(len(parsed), dtype=bool)
                    parsed = (
                        parsed.dt.tz_localize(self.timezone, ambiguous=first, nonexistent="shift_forward")
                        .dt.tz_convert("UTC")
                        .dt.tz_localize(None)
                    )
                result[naive] = parsed.astype("datetime64[us]")
            if aware.any():
                parsed = pd.to_datetime(raw[aware], format=fmt, errors="coerce", utc=True)
                result[aware] = parsed.dt.tz_localize(None).astype("datetime64[us]")
        bad = result.isna().to_numpy() & ~blank
        log.add_where(bad, rows, column, raw, spec.expected())
        outside = _outside_years(result)
        log.add_where(outside, rows, column, raw, f"a date or date-time from {_FIRST_YEAR} to {_LAST_YEAR}")
        return result.where(~outside)

    def _number_problems(
        self, reading: numbers.Reading, raw: pd.Series, rows: np.ndarray, column: str, log: ProblemLog
    ) -> None:
        """Numbers the file's rule cannot read, each with both readings (rare: reported one by one)."""
        rule = self.number_format
        other = "comma" if rule.decimal == numbers.DECIMAL_POINT else "point"
        for position in np.flatnonzero(reading.other_rule | reading.ambiguous):
            theirs = numbers.shown(float(reading.other.iloc[position]))
            if reading.ambiguous[position]:
                mine = numbers.shown(float(_plain_reading(str(raw.iloc[position]), rule)))
                expected = (
                    f"a number that reads one way: it is {mine} with a decimal {_DECIMAL_NAMES[rule.decimal]} and "
                    f"{theirs} with a decimal {other}, and nothing else in the file decides; set decimal_separator "
                    "in the mapping"
                )
            else:
                expected = (
                    f"a number written as the file's others are ({rule.describe()}): with a decimal {other} it "
                    f"would read {theirs}: if that is meant, set decimal_separator in the mapping"
                )
            log.add(int(rows[position]), column, str(raw.iloc[position]), expected)


def _plain_reading(value: str, rule: numbers.NumberFormat) -> float:
    """One value read by `rule` as if the rule were decided (for the report of an ambiguous value)."""
    decided = dataclasses.replace(rule, declared=True)
    return float(numbers.read(pd.Series([value], dtype="str"), decided, whole=False).numbers.iloc[0])


def _ends_in_offset(raw: pd.Series) -> np.ndarray:
    """Which values end in a UTC offset (_OFFSET). The regex is slow over a million values, and an offset puts
    a Z, + or - among the last characters: only values with one there are matched."""
    maybe = raw.str.slice(-_OFFSET_REACH).str.contains("[zZ+-]", na=False).to_numpy(dtype=bool)
    found = np.zeros(len(raw), dtype=bool)
    if maybe.any():
        found[maybe] = raw[maybe].str.contains(_OFFSET, na=False).to_numpy(dtype=bool)
    return found


def _without_offset(values: pd.Series, fmt: str) -> pd.Series:
    """`values` parsed as naive timestamps. One with an offset that _OFFSET did not see is NaT, so reported as
    not a date, rather than a crash: pandas refuses to mix offsets with naive values, or to make them naive."""
    try:
        parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    except ValueError:  # "Mixed timezones detected"
        parsed = None
    if parsed is not None and not isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed
    stamps = (pd.to_datetime(value, format=fmt, errors="coerce") for value in values)  # slow, but only for these
    naive = [stamp if stamp is not pd.NaT and stamp.tzinfo is None else pd.NaT for stamp in stamps]
    return pd.Series(naive, index=values.index, dtype="datetime64[us]")


def _expected(spec: FieldSpec) -> str:
    """What a valid value looks like, with the limit of the database column where the schema sets none."""
    if spec.type == "int" and spec.maximum is None:
        lowest = f"{spec.minimum:g}" if spec.minimum is not None else f"{_INT_MIN:,}"
        return f"a whole number from {lowest} to {_INT_MAX:,}"
    return spec.expected()


def _outside_years(stamps: pd.Series) -> np.ndarray:
    """Timestamps outside _FIRST_YEAR.._LAST_YEAR (year 0 or 10,000 cannot even be read back as a Python date).

    A day's margin either side, so that a local midnight at either end moved to UTC is still inside.
    """
    earliest = pd.Timestamp(_FIRST_YEAR - 1, 12, 31)
    latest = pd.Timestamp(_LAST_YEAR + 1, 1, 2)
    return ((stamps < earliest) | (stamps >= latest)).to_numpy(dtype=bool, na_value=False)
