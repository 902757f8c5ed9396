"""CSV imports: sniff, decode, map, validate every row, then upsert in one transaction.

A file is refused whole when any row is bad: the report names row, column,
value and what was expected (the first MAX_PROBLEMS problems and the total), and
the database is left exactly as it was. A good file is staged into a temporary
table and merged with one INSERT … ON CONFLICT DO UPDATE that rewrites only rows
whose values differ, so importing the same file twice changes nothing.

The file is streamed in chunks; memory holds one chunk of parsed rows plus the
set of keys seen (to catch duplicates inside the file).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, RootTransaction, insert, select, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from core import audit, coverage
from core.config import ConfigError, secret
from core.db import RETRY_ATTEMPTS, must_retry, retry_pause, write_from_here
from core.formats import KINDS, FieldSpec, KindSpec, kind_spec
from core.funnel.derived import (
    LEAD_INPUTS,
    lead_columns,
    opportunity_columns,
    recompute_lead_derived,
    recompute_opportunity_derived,
)
from core.imports import file_formats, numbers
from core.imports.import_warnings import PLACEHOLDERS, ImportWarning, WarningCollector
from core.imports.mapping import Condition, FieldMapping, Mapping, identity_mapping
from core.models import ImportRun, utcnow
from core.permissions import Actor, require
from core.settings import OrgSettings, load
from core.text import fold_spaces

MAX_PROBLEMS = 50
CHUNK_ROWS = 100_000
# Streamlit's own limit (server.maxUploadSize in .streamlit/config.toml), so that a file the CLI reads and one the
# pages hand over are held to the same size. ONEFUNNEL_MAX_UPLOAD_MB overrides it (e.g. for a big CLI import).
MAX_UPLOAD_MB = 400
_MIB = 1024 * 1024
# A chunk of a 10,000-column file would otherwise hold CHUNK_ROWS × 10,000 cells, several GB of strings.
MAX_CHUNK_CELLS = 2_000_000
# A header line longer than this is not a CSV header (a binary file, or a file without line breaks).
MAX_HEADER_BYTES = 16 * _MIB
# What the database columns hold: PostgreSQL's integer, and dates any driver reads back as a Python date.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_FIRST_YEAR, _LAST_YEAR = 1900, 2199
DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_DECIMAL_NAMES = {".": "point", ",": "comma"}
# Bytes that cp1252 leaves undefined; a file using them can only be latin-1.
_CP1252_HOLES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
# A UTC offset ending a timestamp: Z, +hh:mm or +hhmm, or after a time +hh alone (ISO 8601 allows it).
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2}|(?:[T ]\d{2,6}|:\d{1,2})(?:[.,]\d+)?\s*[+-]\d{1,2})$", re.IGNORECASE)
_TRUE = {"true", "t", "yes", "y", "1", "won", "closed won"}
_FALSE = {"false", "f", "no", "n", "0", "lost", "closed lost"}

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class Problem:
    row: int | None  # as a spreadsheet shows it: the header is row 1
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        if self.column is not None:
            where += f", column {self.column!r}"
        if self.value is None:
            return f"{where}: {self.expected}"
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"{where}: {shown!r} is not valid, expected {self.expected}"


class ImportRefused(Exception):
    """The file was refused whole; nothing was written."""

    def __init__(self, file_name: str, problems: list[Problem], total: int) -> None:
        self.file_name = file_name
        self.problems = problems[:MAX_PROBLEMS]
        self.total = total
        super().__init__(self.report())

    def report(self) -> str:
        noun = "problem" if self.total == 1 else "problems"
        lines = [f"{self.file_name} was not imported ({self.total} {noun}; nothing was changed):"]
        lines += [f"  - {problem}" for problem in self.problems]
        if self.total > len(self.problems):
            lines.append(f"  ... and {self.total - len(self.problems)} more")
        return "\n".join(lines)


@dataclass
class ImportResult:
    kind: str
    file_name: str
    sha256: str
    encoding: str
    delimiter: str
    rows_read: int
    rows_skipped: int
    skipped_reasons: dict[str, int]
    inserted: int
    updated: int
    unchanged: int
    dry_run: bool
    import_id: int | None = None
    notes: list[str] = field(default_factory=list)
    number_format: str = ""  # how numbers were read, when the file has numeric columns
    warnings: list[ImportWarning] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would insert" if self.dry_run else "inserted"
        lines = [
            f"{self.file_name}: {self.rows_read} rows read "
            f"({self.encoding}, {_DELIMITER_NAMES[self.delimiter]}-separated); "
            f"{verb} {self.inserted}, {'would update' if self.dry_run else 'updated'} {self.updated}, "
            f"unchanged {self.unchanged}, skipped {self.rows_skipped}"
        ]
        lines += [f"  skipped {count}: {reason}" for reason, count in self.skipped_reasons.items()]
        if self.number_format:
            lines.append(f"  numbers: {self.number_format}")
        lines += [f"  warning: {warning}" for warning in self.warnings]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


class _CountingReader(io.RawIOBase):
    """Passes bytes through while counting them, for the progress bar."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


def _scan(handle: BinaryIO) -> tuple[str, str, int]:
    """(sha256, encoding, size) in one pass over the bytes."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8, has_holes, size, first = True, False, 0, b""
    while block := handle.read(1 << 20):
        if not first:
            first = block[:4096]
        digest.update(block)
        size += len(block)
        if is_utf8:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                is_utf8 = False
        if not is_utf8 and not has_holes:
            has_holes = any(hole in block for hole in _CP1252_HOLES)
    if is_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    utf16 = _utf16(first)
    if utf16 is not None:
        encoding = utf16
    elif first.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif is_utf8:
        encoding = "utf-8"
    else:
        encoding = "latin-1" if has_holes else "cp1252"
    return digest.hexdigest(), encoding, size


def _utf16(start: bytes) -> str | None:
    """The UTF-16 codec for a file that starts with `start`, or None if it is not UTF-16.

    Excel's "Unicode text" is UTF-16 with a byte-order mark; without one, the header's mostly-ASCII characters
    give it away by a zero byte in every other position (which is also valid UTF-8, hence this comes first).
    """
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    pairs = start[: len(start) // 2 * 2]
    if len(pairs) < 8:
        return None
    even, odd = pairs[0::2].count(0), pairs[1::2].count(0)
    if odd >= 0.9 * len(pairs) / 2 and even == 0:
        return "utf-16-le"
    if even >= 0.9 * len(pairs) / 2 and odd == 0:
        return "utf-16-be"
    return None


def _whole_characters(block: bytes) -> bytes:
    """`block` without a UTF-8 sequence cut off at its end, so that a cut is not taken for a bad encoding."""
    for back in range(1, min(4, len(block)) + 1):
        byte = block[-back]
        if byte < 0x80:
            return block
        if byte >= 0xC0:  # a lead byte: keep it only if its sequence is complete
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return block if back >= length else block[:-back]
    return block


def _header_line(sample: str) -> str:
    # Universal newlines: a file from an old Mac ends its lines with a lone CR.
    reader = io.StringIO(sample, newline=None)
    line = reader.readline()
    while line and not line.strip():
        line = reader.readline()
    return line


def sniff_delimiter(sample: str) -> str:
    """The delimiter of the header line: the most frequent of , ; and tab outside quotes."""
    header = _header_line(sample)
    counts = {delimiter: 0 for delimiter in DELIMITERS}
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _text_stream(handle: BinaryIO, encoding: str) -> tuple[IO[str], _CountingReader]:
    handle.seek(0)
    counter = _CountingReader(handle)
    # Universal newlines: with lines ending in a lone CR (an old Mac export), pandas' tokenizer drops the empty
    # first field of a row that follows a blank line, and the row's values slide one column left. Every line
    # break becomes LF, a line break inside a quoted value too.
    stream = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding=encoding, newline=None)
    return stream, counter


def _resolve(candidates: list[str], header_index: dict[str, str]) -> str | None:
    for candidate in candidates:
        found = header_index.get(fold_spaces(candidate))
        if found is not None:
            return found
    return None


IMPORT_CACHE_KIB = 128 * 1024


def _plain_reading(value: str, rule: numbers.NumberFormat) -> float:
    """One value read by `rule` as if the rule were decided (for the report of an ambiguous value)."""
    decided = dataclasses.replace(rule, declared=True)
    return float(numbers.read(pd.Series([value], dtype="str"), decided, whole=False).numbers.iloc[0])


def import_day(settings: OrgSettings) -> str:
    """Today in the organisation's timezone: the date an `import_day` field gets."""
    return pd.Timestamp.now(tz=settings.timezone).strftime("%Y-%m-%d")


class _ChunkValidator:
    """Maps and validates one chunk at a time; collects problems across the file."""

    def __init__(
        self,
        spec: KindSpec,
        mapping: Mapping,
        columns: dict[str, str | None],
        settings: OrgSettings,
        number_format: numbers.NumberFormat,
    ) -> None:
        self.spec = spec
        self.mapping = mapping
        self.columns = columns  # field -> resolved source column (None for constants)
        self.settings = settings
        self.number_format = number_format
        self.import_day = import_day(settings)
        self.warnings = WarningCollector(spec, mapping, columns)
        self.read_numbers = False  # whether any number needed the rule (had a separator)
        self.problems: list[Problem] = []
        self.total_problems = 0
        self.key_hashes: list[np.ndarray] = []
        self.key_rows: list[np.ndarray] = []
        self.skipped: Counter[str] = Counter()
        self.null_markers = {fold_spaces(value) for value in mapping.null_values}
        self.header_index: dict[str, str] = {}
        self._unreadable_columns: set[str] = set()

    def problem(self, row: int | None, column: str | None, value: str | None, expected: str) -> None:
        self.total_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(row, column, value, expected))

    def _problems_in(self, mask: np.ndarray, rows: np.ndarray, column: str, values: pd.Series, expected: str) -> None:
        count = int(mask.sum())
        if not count:
            return
        room = MAX_PROBLEMS - len(self.problems)
        positions = np.flatnonzero(mask)
        for position in positions[: max(room, 0)]:
            self.problems.append(Problem(int(rows[position]), column, str(values.iloc[position]), expected))
        self.total_problems += count

    def check_mapping(self, name: str) -> None:
        """Values the mapping itself writes (constants, defaults, map targets) that their field cannot take:
        refused once, as a mapping error, before any row is read (not once per row)."""
        found: list[Problem] = []
        for field_name, source in self.mapping.fields.items():
            if field_name not in self.columns:
                continue
            spec = self.spec.field(field_name)
            written = {"constant": source.constant, "default": source.default, "map_other": source.map_other}
            written |= {f"map: {key!r} →": value for key, value in source.map.items()}
            for what, value in written.items():
                if value is None or (value == "" and what.startswith("map")):
                    continue
                saved = self.problems, self.total_problems
                self.problems, self.total_problems = [], 0
                self.parse(
                    spec,
                    pd.Series([value], dtype="str"),
                    np.array([0]),
                    field_name,
                    source.date_format or self.mapping.date_format,
                )
                wrong = self.problems
                self.problems, self.total_problems = saved
                found += [
                    Problem(None, f"{field_name} ({what} in the mapping)", value, problem.expected) for problem in wrong
                ]
        if found:
            raise ImportRefused(name, found, len(found))

    def _number_problems(self, reading: numbers.Reading, raw: pd.Series, rows: np.ndarray, column: str) -> None:
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
            self.problem(int(rows[position]), column, str(raw.iloc[position]), expected)

    def _blank(self, values: pd.Series) -> pd.Series:
        stripped = values.str.strip()
        blank = stripped == ""
        if self.null_markers:
            blank |= stripped.str.casefold().isin(self.null_markers)
        return blank

    def _unreadable(self, column: str) -> None:
        """The header names `column` but the CSV parser found none: the two read a quote in the header differently."""
        if column not in self._unreadable_columns:
            self._unreadable_columns.add(column)
            self.problem(1, column, None, "a column the CSV parser can find in the header (a stray quote there?)")

    def _condition(self, chunk: pd.DataFrame, condition: Condition) -> pd.Series:
        if condition.is_group:
            tests = [self._condition(chunk, member) for member in condition.members]
            combined = tests[0]
            for test in tests[1:]:
                combined = (combined & test) if condition.all_ is not None else (combined | test)
            return combined
        column = _resolve(condition.candidates, self.header_index)
        if column is not None and column not in chunk.columns:
            self._unreadable(column)
            column = None
        if column is None:
            return pd.Series(False, index=chunk.index)
        folded = chunk[column].str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)
        if condition.in_ is not None:
            return folded.isin([fold_spaces(value) for value in condition.in_])
        return ~folded.isin([fold_spaces(value) for value in condition.not_in or []])

    def source_values(self, chunk: pd.DataFrame, name: str, mapping: FieldMapping) -> pd.Series:
        """The text a field is read from, stripped, null markers blank: the file's cell, or the constant."""
        if mapping.import_day:
            return pd.Series(self.import_day, index=chunk.index, dtype="str")
        if mapping.constant is not None:
            return pd.Series(mapping.constant, index=chunk.index, dtype="str")
        column = self.columns[name]
        assert column is not None
        if column not in chunk.columns:
            self._unreadable(column)
            return pd.Series("", index=chunk.index, dtype="str")
        # Kept in pandas' Arrow-backed string dtype: its vectorised string functions are ~10x object's.
        values = chunk[column].astype("str").str.strip()
        return values.where(~self._blank(values), "")

    def raw_values(
        self, chunk: pd.DataFrame, name: str, mapping: FieldMapping, source: pd.Series | None = None
    ) -> pd.Series:
        """The source text of a field after null markers, condition, value map and default ('' = blank)."""
        values = self.source_values(chunk, name, mapping) if source is None else source
        if mapping.map or mapping.fold_case:
            folded = values.str.casefold().str.replace(r"\s+", " ", regex=True)
            if mapping.fold_case:
                values = folded if mapping.map_other is None else values
            mapped = folded.map(mapping.folded_map()).astype("str")
            fallback = values if mapping.map_other is None else values.where(values == "", mapping.map_other)
            values = mapped.where(mapped.notna(), fallback)
        if mapping.default is not None:
            values = values.where(values != "", mapping.default)
        if mapping.when is not None:
            values = values.where(self._condition(chunk, mapping.when), "")
        return values.fillna("").astype("str")

    def parse(
        self, spec: FieldSpec, raw: pd.Series, rows: np.ndarray, column: str, date_format: str | list[str] | None
    ) -> pd.Series:
        blank = (raw == "").to_numpy()
        if spec.blank_default is not None:
            raw = raw.where(~blank, spec.blank_default)
            blank = np.zeros(len(raw), dtype=bool)
        if spec.nonblank:
            self._problems_in(blank, rows, column, raw, f"a value ({spec.name} is required)")
        if spec.type == "text":
            values = raw.where(~blank, None)
            too_long = (raw.str.len() > spec.max_length).to_numpy()
            self._problems_in(too_long, rows, column, raw, spec.expected())
            # PostgreSQL's text cannot hold NUL; SQLite refuses it too, so that a file imports alike on both.
            nul = raw.str.contains("\x00", regex=False).to_numpy() & ~too_long
            self._problems_in(nul, rows, column, raw, "text without NUL (\\x00) characters")
            return values
        if spec.type in ("int", "float"):
            reading = numbers.read(raw.astype("str"), self.number_format, whole=spec.type == "int")
            self.read_numbers = self.read_numbers or reading.used_rule
            self._number_problems(reading, raw, rows, column)
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
            self._problems_in(bad, rows, column, raw, _expected(spec))
            return reading.numbers.where(~blank & ~bad & finite)
        if spec.type == "bool":
            folded = raw.str.casefold()
            values = pd.Series(None, index=raw.index, dtype=object)
            values[folded.isin(_TRUE)] = True
            values[folded.isin(_FALSE)] = False
            bad = values.isna().to_numpy() & ~blank
            self._problems_in(bad, rows, column, raw, spec.expected())
            return values.where(~blank, None)
        if spec.type == "choice":
            folded = raw.str.casefold().str.strip()
            bad = ~folded.isin(spec.choices).to_numpy() & ~blank
            self._problems_in(bad, rows, column, raw, spec.expected())
            return folded.where(~blank, None)
        formats = [date_format] if isinstance(date_format, str) else list(date_format or ["ISO8601"])
        if spec.type == "month":
            parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
            for fmt in [*formats, "%Y-%m"]:
                todo = parsed.isna().to_numpy() & ~blank
                if todo.any():
                    parsed[todo] = pd.to_datetime(raw[todo], format=fmt, errors="coerce").astype("datetime64[us]")
            bad = parsed.isna().to_numpy() & ~blank
            self._problems_in(bad, rows, column, raw, spec.expected())
            outside = _outside_years(parsed)
            self._problems_in(outside, rows, column, raw, f"a month from {_FIRST_YEAR} to {_LAST_YEAR}")
            return parsed.where(~outside).dt.to_period("M").dt.start_time
        return self._parse_datetime(spec, raw, blank, rows, column, formats)

    def _parse_datetime(
        self, spec: FieldSpec, raw: pd.Series, blank: np.ndarray, rows: np.ndarray, column: str, formats: list[str]
    ) -> pd.Series:
        """Naive values are local to the organisation's timezone; values with an offset are exact."""
        result = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
        has_offset = raw.str.contains(_OFFSET, na=False).to_numpy() & ~blank
        for fmt in formats:
            todo = result.isna().to_numpy() & ~blank
            if not todo.any():
                break
            aware = todo & (has_offset if fmt == "ISO8601" else np.full(len(raw), "%z" in fmt))
            naive = todo & ~aware
            if naive.any():
                parsed = _without_offset(raw[naive], fmt)
                if self.settings.timezone != "UTC":
                    # A time the autumn clock change repeats is read as its first (summer-time) occurrence.
                    first = np.ones(len(parsed), dtype=bool)
                    parsed = (
                        parsed.dt.tz_localize(self.settings.timezone, ambiguous=first, nonexistent="shift_forward")
                        .dt.tz_convert("UTC")
                        .dt.tz_localize(None)
                    )
                result[naive] = parsed.astype("datetime64[us]")
            if aware.any():
                parsed = pd.to_datetime(raw[aware], format=fmt, errors="coerce", utc=True)
                result[aware] = parsed.dt.tz_localize(None).astype("datetime64[us]")
        bad = result.isna().to_numpy() & ~blank
        self._problems_in(bad, rows, column, raw, spec.expected())
        outside = _outside_years(result)
        self._problems_in(outside, rows, column, raw, f"a date or date-time from {_FIRST_YEAR} to {_LAST_YEAR}")
        return result.where(~outside)

    def validate(self, chunk: pd.DataFrame, first_row: int) -> pd.DataFrame | None:
        """The typed, mapped rows of a chunk (skipped rows dropped), or None if it had problems."""
        before = self.total_problems
        frame = self.map_rows(chunk, first_row)
        return frame if self.total_problems == before else None

    def map_rows(self, chunk: pd.DataFrame, first_row: int) -> pd.DataFrame:
        """The typed, mapped rows of a chunk, skipped rows dropped; a value that fails is a problem and null."""
        rows = np.arange(first_row, first_row + len(chunk))
        keep = np.ones(len(chunk), dtype=bool)
        for rule in self.mapping.skip_rows:
            matched = self._condition(chunk, rule).to_numpy() & keep
            if matched.any():
                self.skipped[rule.reason or rule.describe()] += int(matched.sum())
                keep &= ~matched
        chunk, rows = chunk[keep], rows[keep]
        typed: dict[str, pd.Series] = {}
        for name, mapping in self.mapping.fields.items():
            if name not in self.columns:
                continue
            spec = self.spec.field(name)
            column = self.columns[name] or f"({name} constant)"
            source = self.source_values(chunk, name, mapping)
            raw = self.raw_values(chunk, name, mapping, source)
            typed[name] = self.parse(spec, raw, rows, column, mapping.date_format or self.mapping.date_format)
            self.warnings.observe(name, source, typed[name])
        frame = pd.DataFrame(typed, index=chunk.index)
        self.warnings.observe_rows(frame)
        if self.spec.kind == "touches":
            for name in ("lead_id", "opportunity_id"):
                frame[name] = frame[name].fillna("") if name in frame else ""
            orphan = ((frame["lead_id"] == "") & (frame["opportunity_id"] == "")).to_numpy()
            self._problems_in(
                orphan, rows, "lead_id", frame["lead_id"], "a lead_id or an opportunity_id for each touch"
            )
        self._check_duplicates(frame, rows)
        return frame

    def _check_duplicates(self, frame: pd.DataFrame, rows: np.ndarray) -> None:
        """Remembers a 64-bit hash of each row's key: 16 bytes a row instead of the key's text.

        Duplicates are found once the whole file has been read (`duplicate_rows`); a dict of
        key tuples cost 1.5 GB on a 5,000,000-row touches file.
        """
        key_columns = list(self.spec.key)
        if any(name not in frame for name in key_columns):
            return
        keys = frame[key_columns].astype(str)
        self.key_hashes.append(pd.util.hash_pandas_object(keys, index=False).to_numpy())
        self.key_rows.append(rows.astype(np.int64))

    def duplicate_rows(self) -> list[tuple[int, int]]:
        """(row, earlier row with the same key) for every repeated key, counted as problems; the
        first MAX_PROBLEMS pairs are returned for the report."""
        if not self.key_hashes:
            return []
        hashes = np.concatenate(self.key_hashes)
        rows = np.concatenate(self.key_rows)
        repeated = pd.Series(hashes).duplicated(keep="first").to_numpy()
        count = int(repeated.sum())
        if not count:
            return []
        first_rows = pd.Series(rows).groupby(hashes).transform("first").to_numpy()
        self.total_problems += count
        room = max(MAX_PROBLEMS - len(self.problems), 0)
        return [
            (int(row), int(earlier))
            for row, earlier in zip(rows[repeated][:room], first_rows[repeated][:room], strict=True)
        ]

    def report_duplicates(self, pairs: list[tuple[int, int]], key_texts: dict[int, str]) -> None:
        key_columns = list(self.spec.key)
        column = self.columns.get(key_columns[0]) or key_columns[0]
        for row, earlier in pairs:
            self.problems.append(
                Problem(
                    row,
                    column,
                    key_texts.get(row),
                    f"a unique key; row {earlier} has the same {', '.join(key_columns)}",
                )
            )

    def key_texts(self, chunk: pd.DataFrame, rows: np.ndarray, wanted: set[int]) -> dict[int, str]:
        """The key as the file spells it, for the rows of `chunk` in `wanted`."""
        hit = np.isin(rows, list(wanted))
        if not hit.any():
            return {}
        part = chunk[hit]
        texts = [
            self.raw_values(part, name, self.mapping.fields[name]).to_numpy()
            for name in self.spec.key
            if name in self.columns
        ]
        return {int(row): "|".join(str(text[i]) for text in texts) for i, row in enumerate(rows[hit])}


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


def _column_kind(spec: KindSpec, name: str) -> str:
    if name in spec.field_names:
        field_type = spec.field(name).type
        return {"datetime": "datetime", "month": "date", "int": "int", "float": "float"}.get(field_type, "object")
    if name.endswith("_day"):
        return "date"
    if name.endswith("_at"):
        return "datetime"
    if name.endswith("_key"):
        return "object"
    return "float"


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


class RowSink(Protocol):
    """Where an import's validated rows go instead of the shared table (the sandbox's trials)."""

    def write(self, connection: Connection, frame: pd.DataFrame) -> None:
        """One chunk of validated, typed rows (the file's canonical fields), in the import's transaction."""

    def finish(self, connection: Connection, result: ImportResult) -> None:
        """The whole file was good: last writes before the transaction commits."""


class _Stage:
    """The temporary table an import is written to before the merge."""

    def __init__(self, connection: Connection, spec: KindSpec, columns: list[str]) -> None:
        self.connection = connection
        self.spec = spec
        self.columns = columns
        self.postgres = connection.dialect.name == "postgresql"
        names = ", ".join(columns)
        table = spec.table.name
        connection.execute(text("DROP TABLE IF EXISTS import_stage"))
        suffix = " ON COMMIT DROP" if self.postgres else ""
        connection.execute(
            text(f"CREATE TEMPORARY TABLE import_stage{suffix} AS SELECT {names} FROM {table} WHERE 1 = 0")
        )
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        values = [format_column(frame[name], _column_kind(self.spec, name)) for name in self.columns]
        records = list(zip(*values, strict=True))
        self.rows += len(records)
        bulk_insert(self.connection, "import_stage", self.columns, records)

    def merge(self, import_id: int | None, carried: int | None = None) -> tuple[int, int]:
        """Counts (inserted, updated), then the upsert itself unless import_id is None (dry run).

        `carried`: the fields this file carried (core.coverage), added to each row's mask; a row whose mask
        grows counts as updated even when its values do not change (what is known about it did).
        """
        table = self.spec.table.name
        key = list(self.spec.key)
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        if self.postgres:
            # Temporary tables are never auto-analysed; without statistics the planner guesses a few rows
            # and picks nested loops for a million.
            self.connection.execute(text("ANALYZE import_stage"))
            self.connection.execute(text("SET LOCAL work_mem = '64MB'"))
        on_key = " AND ".join(f"t.{name} = s.{name}" for name in key)
        compared = [name for name in self.columns if name not in key]
        changes = [f"t.{name} {distinct} s.{name}" for name in compared]
        if carried is not None:
            changes.append(f"(t.carried | {int(carried)}) <> t.carried")
        changed = " OR ".join(changes) or "1 = 0"
        inserted = self.connection.execute(
            text(f"SELECT count(*) FROM import_stage s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on_key})")
        ).scalar_one()
        updated = self.connection.execute(
            text(f"SELECT count(*) FROM import_stage s JOIN {table} t ON {on_key} WHERE {changed}")
        ).scalar_one()
        if import_id is not None and (inserted or updated):
            extra = ["import_id"] + (["carried"] if carried is not None else [])
            names = ", ".join([*self.columns, *extra])
            values = ", ".join([*self.columns, ":import_id"] + ([":carried"] if carried is not None else []))
            assignments = [f"{name} = excluded.{name}" for name in [*compared, "import_id"]]
            differs = [f"{table}.{name} {distinct} excluded.{name}" for name in compared]
            if carried is not None:
                assignments.append(f"carried = {table}.carried | excluded.carried")
                differs.append(f"({table}.carried | excluded.carried) <> {table}.carried")
            conflict = (
                f"DO UPDATE SET {', '.join(assignments)} WHERE {' OR '.join(differs)}" if differs else "DO NOTHING"
            )
            self.connection.execute(
                text(
                    f"INSERT INTO {table} ({names}) "
                    f"SELECT {values} FROM import_stage WHERE 1 = 1 "
                    f"ON CONFLICT ({', '.join(key)}) {conflict}"
                ),
                {"import_id": import_id, "carried": carried},
            )
        return int(inserted), int(updated)

    def drop(self) -> None:
        if not self.postgres:
            self.connection.execute(text("DROP TABLE IF EXISTS import_stage"))


@contextmanager
def _bulk_cache(connection: Connection) -> Iterator[None]:
    """A larger SQLite page cache while importing: index maintenance on a million rows is mostly cache misses."""
    if connection.dialect.name != "sqlite":
        yield
        return
    # On the driver connection: a SQLAlchemy execute would open the transaction the import begins itself.
    raw: Any = connection.connection.dbapi_connection
    previous = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        if not connection.invalidated:  # a failed import closed the connection (see `_abandon`)
            raw.execute(f"PRAGMA cache_size={int(previous)}")


def _open(source: str | Path | BinaryIO) -> tuple[BinaryIO, str, bool]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        return path.open("rb"), path.name, True
    return source, getattr(source, "name", "upload.csv"), False


def import_csv(
    engine: Engine,
    kind: str,
    source: str | Path | BinaryIO,
    *,
    actor: Actor,
    mapping: Mapping | None = None,
    file_name: str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    chunk_rows: int = CHUNK_ROWS,
    sink: RowSink | None = None,
    sheet: str | None = None,
) -> ImportResult:
    """Import one CSV file of `kind` (or gzip-compressed CSV, or a `sheet` of an Excel workbook, by default its
    first), all or nothing. Raises ImportRefused with the report.

    A dry run only reads, so anyone may validate a file; writing needs the import permission. With a `sink`,
    the validated rows go to it instead of the shared table (no import history, no merge), all or nothing
    too; the sink's owner checks permissions and audits.
    """
    if not dry_run and sink is None:
        require(actor, "import_data")
    spec = kind_spec(kind)
    handle, default_name, owned = _open(source)
    name = file_name or Path(str(default_name)).name
    try:
        handle = as_table(handle, name, sheet)
        for tries in range(1, RETRY_ATTEMPTS + 1):
            try:
                return _import(
                    engine,
                    spec,
                    handle,
                    name,
                    actor=actor,
                    mapping=mapping,
                    dry_run=dry_run,
                    progress=progress,
                    chunk_rows=chunk_rows,
                    sink=sink,
                )
            except DBAPIError as error:
                # A deadlock or serialization failure rolled the whole import back: read the file again and
                # retry, as every other write does. Any other database error is a refusal with its report.
                if not (must_retry(error) and tries < RETRY_ATTEMPTS and handle.seekable()):
                    raise _refuse(name, f"the database stopped the import ({_first_line(error)})") from error
                handle.seek(0)
                retry_pause(tries)
        raise AssertionError("unreachable")
    finally:
        if owned:
            handle.close()


def _first_line(error: DBAPIError) -> str:
    return (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]


def as_table(handle: BinaryIO, name: str, sheet: str | None = None) -> BinaryIO:
    """The file as CSV bytes (gzip unpacked, an Excel sheet written out), or ImportRefused saying what it is."""
    size, limit = _size(handle), max_upload_bytes()
    if size > limit:
        raise _refuse(name, f"the file is {_megabytes(size)} MB; the limit is {_megabytes(limit)} MB")
    try:
        return file_formats.as_csv(handle, sheet=sheet, limit=limit)
    except file_formats.NotATable as exc:
        raise _refuse(name, str(exc)) from exc


def _refuse(name: str, message: str, column: str | None = None, row: int | None = None) -> ImportRefused:
    return ImportRefused(name, [Problem(row, column, None, message)], 1)


@dataclass(frozen=True)
class _FileShape:
    sha256: str
    encoding: str
    size: int
    delimiter: str
    header: list[str]


def _shape(handle: BinaryIO, name: str, *, whole_file: bool = True) -> _FileShape:
    """Encoding, delimiter and header of a file, or ImportRefused if it has no header.

    Without `whole_file` only the first megabyte is looked at (no checksum): enough for a preview, and
    a page re-runs it on every click.
    """
    size, limit = _size(handle), max_upload_bytes()
    if size > limit:
        raise _refuse(name, f"the file is {_megabytes(size)} MB; the limit is {_megabytes(limit)} MB")
    if whole_file:
        sha256, encoding, size = _scan(handle)
    else:
        sha256, encoding, size = "", *_scan(io.BytesIO(_whole_characters(handle.read(1 << 20))))[1:]
    handle.seek(0)
    sample = _header_sample(handle, encoding, name)
    if not sample.strip():
        raise _refuse(name, "the file is empty; expected a header row and at least one data row")
    delimiter = sniff_delimiter(sample)
    try:
        header = next(csv.reader(io.StringIO(_header_line(sample)), delimiter=delimiter))
    except csv.Error as exc:  # e.g. a name over the csv module's 128 KB field limit: a data row, not a header
        raise _refuse(name, f"the header row could not be read as column names ({exc})", row=1) from exc
    return _FileShape(sha256, encoding, size, delimiter, [column.strip() for column in header])


def _header_sample(handle: BinaryIO, encoding: str, name: str) -> str:
    """The start of the file as text, at least up to the end of its header line."""
    raw = handle.read(1 << 16)
    sample = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    # The header of a file with thousands of columns is longer than the first block.
    while not _header_line(sample).endswith("\n") and (more := handle.read(1 << 20)):
        raw += more
        if len(raw) > MAX_HEADER_BYTES:
            raise _refuse(
                name,
                f"no header row in the first {MAX_HEADER_BYTES // _MIB} MB; expected a CSV file with one row a line",
                row=1,
            )
        sample = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    return sample


def _size(handle: BinaryIO) -> int:
    """The size of the file without reading it (an upload is in memory, a path is on disk)."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    return size


def max_upload_bytes() -> int:
    """The largest file an import reads: ONEFUNNEL_MAX_UPLOAD_MB (environment or secrets) or MAX_UPLOAD_MB."""
    configured = secret("ONEFUNNEL_MAX_UPLOAD_MB")
    if configured is None:
        return MAX_UPLOAD_MB * _MIB
    try:
        megabytes = float(configured)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise ConfigError(f"ONEFUNNEL_MAX_UPLOAD_MB is {configured!r}; expected a number of megabytes above 0")
    return int(megabytes * _MIB)


def _megabytes(size: int) -> str:
    """Megabytes as Streamlit counts them (MiB), rounded up: a file just over the limit must not read as at it."""
    return f"{math.ceil(size / _MIB * 10) / 10:,.1f}".removesuffix(".0")


def _resolve_columns(
    spec: KindSpec, mapping: Mapping, header: list[str], name: str
) -> tuple[dict[str, str | None], list[str]]:
    """The file column behind each mapped field (None for constants) and notes on what is left out.

    Raises ImportRefused naming every required field whose column the file lacks.
    """
    if mapping.kind != spec.kind:
        raise _refuse(name, f"the mapping {mapping.name!r} is for {mapping.kind}, not {spec.kind}")
    header_index = {fold_spaces(column): column for column in header}
    columns: dict[str, str | None] = {}
    notes: list[str] = []
    missing: list[str] = []
    for field_name, field_mapping in mapping.fields.items():
        if not field_mapping.from_column:
            columns[field_name] = None
            continue
        resolved = _resolve(field_mapping.candidates, header_index)
        if resolved is not None:
            columns[field_name] = resolved
        elif field_name in spec.required:
            missing.append(" or ".join(repr(c) for c in field_mapping.candidates) + f" (for {field_name})")
        else:
            notes.append(
                f"no column {' or '.join(repr(c) for c in field_mapping.candidates)}; {field_name} left as it was"
            )
    if missing:
        found = ", ".join(repr(column) for column in header[:12]) + (" ..." if len(header) > 12 else "")
        hint = ""
        if len(header) == 1:
            hint = " The header has a single column: expected columns separated by comma, semicolon or tab."
        raise ImportRefused(
            name,
            [
                Problem(1, None, None, f"missing required column {column}; the header has {found}.{hint}")
                for column in missing
            ],
            len(missing),
        )
    used = {column for column in columns.values() if column}
    tested: list[tuple[str, Condition]] = [
        (f"the condition of {field_name}", leaf)
        for field_name, field_mapping in mapping.fields.items()
        if field_mapping.when is not None and field_name in columns
        for leaf in field_mapping.when.leaves()
    ]
    tested += [
        (f"the skip rule {rule.reason or rule.describe()!r}", leaf)
        for rule in mapping.skip_rows
        for leaf in rule.leaves()
    ]
    absent: list[Problem] = []
    for what, leaf in tested:
        found_column = _resolve(leaf.candidates, header_index)
        if found_column is None:
            absent.append(
                Problem(
                    None,
                    None,
                    None,
                    f"the mapping is not usable with this file: {what} tests the column "
                    f"{' or '.join(repr(c) for c in leaf.candidates)}, which the file does not have",
                )
            )
        else:
            used.add(found_column)
    if absent:
        raise ImportRefused(name, absent, len(absent))
    # Two columns of one name (or names that differ only in case and spacing): which one was meant is a guess.
    counts = Counter(fold_spaces(column) for column in header)
    repeated = sorted(column for column in used if counts[fold_spaces(column)] > 1)
    if repeated:
        problems = []
        for column in repeated:
            where = [
                str(position + 1) for position, other in enumerate(header) if fold_spaces(other) == fold_spaces(column)
            ]
            problems.append(
                Problem(
                    1,
                    column,
                    None,
                    f"the header has {len(where)} columns named {column!r} (columns {', '.join(where)}); "
                    "expected one: delete or rename the others",
                )
            )
        raise ImportRefused(name, problems, len(problems))
    ignored = [
        c
        for c in header
        if c not in used and fold_spaces(c) not in {fold_spaces(i) for i in mapping.ignore_columns} and c
    ]
    if ignored:
        notes.append(
            f"{len(ignored)} {'column' if len(ignored) == 1 else 'columns'} not imported: " + ", ".join(ignored)
        )
    return columns, notes


def _number_format(
    spec: KindSpec,
    mapping: Mapping,
    columns: dict[str, str | None],
    handle: BinaryIO,
    shape: _FileShape,
    name: str,
    *,
    max_rows: int | None = None,
) -> numbers.NumberFormat:
    """The rule the file's numbers are read by: the mapping's, else the one its numbers vote for (every row's,
    or the first `max_rows` for a preview)."""
    declared = mapping.number_format()
    if declared is not None:
        return declared
    numeric = {
        column: spec.field(field).type == "int"
        for field, column in columns.items()
        if column is not None and spec.field(field).type in ("int", "float")
    }
    point_votes = comma_votes = 0
    if numeric:
        stream, _ = _text_stream(handle, shape.encoding)
        null_markers = {fold_spaces(value) for value in mapping.null_values}
        read = 0
        for chunk in _chunks(stream, shape.delimiter, CHUNK_ROWS, name, shape.header, set(numeric), handle):
            for column, whole in numeric.items():
                if column in chunk.columns:
                    values = chunk[column].astype("str").str.strip()
                    if null_markers:
                        values = values.where(~values.str.casefold().isin(null_markers), "")
                    point, comma = numbers.votes(values, whole=whole)
                    point_votes, comma_votes = point_votes + point, comma_votes + comma
            read += len(chunk)
            if max_rows is not None and read >= max_rows:
                break
    return numbers.guessed(point_votes, comma_votes, shape.delimiter)


def _chunks(
    stream: IO[str],
    delimiter: str,
    chunk_rows: int,
    name: str,
    header: list[str],
    only: set[str] | None = None,
    handle: BinaryIO | None = None,
) -> Iterator[pd.DataFrame]:
    """The rows as text, at most `chunk_rows` (and MAX_CHUNK_CELLS cells) at a time, the column names stripped
    as `_shape` strips the header's (with `only`, just those columns). ImportRefused if the file is not CSV, or at
    once for a row with more fields than the header: pandas would take the first row's extra fields for an index,
    which shifts every value one column (a stray comma) or builds an index of 100,000 levels (minutes and
    gigabytes), and it reports later rows itself."""
    if handle is not None:
        saw = _first_row_width(handle, delimiter)
        if saw is not None and saw > len(header):
            raise ImportRefused(name, [Problem(2, None, None, _too_many_fields(saw, len(header), delimiter))], 1)
    yield from _read_chunks(stream, delimiter, chunk_rows, name, header, only)


def _first_row_width(handle: BinaryIO, delimiter: str) -> int | None:
    """The number of fields in the first data row (None if the csv module cannot read it); the handle is left
    at its start, where the reader that follows begins."""
    try:
        handle.seek(0)
        encoding = _scan(io.BytesIO(_whole_characters(handle.read(1 << 20))))[1]
        handle.seek(0)
        text = io.TextIOWrapper(io.BufferedReader(_CountingReader(handle)), encoding=encoding, newline=None)
        rows = (row for row in csv.reader(text, delimiter=delimiter) if any(cell.strip() for cell in row))
        next(rows)  # the header
        return len(next(rows))
    except (StopIteration, csv.Error, UnicodeError, ValueError):
        return None
    finally:
        handle.seek(0)


def _read_chunks(
    stream: IO[str],
    delimiter: str,
    chunk_rows: int,
    name: str,
    header: list[str],
    only: set[str] | None,
) -> Iterator[pd.DataFrame]:
    try:
        # In the try: the reader parses the header as it is made, and an open quote there is a parser error too.
        reader = pd.read_csv(
            stream,
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            chunksize=chunk_rows,
            engine="c",
            skip_blank_lines=True,
            # Never an index from extra fields (see _chunks): at worst pandas drops them with a warning.
            index_col=False,
            usecols=None if only is None else (lambda column: str(column).strip() in only),
        )
        with reader:
            width = reader.get_chunk(0).shape[1]  # the header alone, no row read yet
            rows = max(1, min(chunk_rows, MAX_CHUNK_CELLS // max(width, 1)))
            while True:
                try:
                    chunk = reader.get_chunk(rows)
                except StopIteration:
                    return
                chunk.columns = [str(column).strip() for column in chunk.columns]
                yield chunk
    except UnicodeDecodeError as exc:
        raise _refuse(
            name, f"bytes {exc.object[exc.start : exc.start + 4]!r} are not {exc.encoding} text; save the file as UTF-8"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise _refuse(name, "the file has no header row", row=1) from exc
    except pd.errors.ParserError as exc:
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if unclosed:
            # The parser counts rows from 0 at the header; a spreadsheet counts from 1.
            raise _refuse(
                name, 'a quote opened in this row is never closed (a stray " in a value?)', row=int(unclosed[1]) + 1
            ) from exc
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            line, saw = int(match[2]), int(match[3])
            problem = Problem(line, None, None, _too_many_fields(saw, len(header), delimiter))
            raise ImportRefused(name, [problem], 1) from exc
        raise _refuse(name, f"the file could not be read as CSV: {exc}") from exc


def _too_many_fields(saw: int, header: int, delimiter: str) -> str:
    return f"{saw:,} fields where the header has {header:,} (a stray {_DELIMITER_NAMES[delimiter]} or quote?)"


def _import(
    engine: Engine,
    spec: KindSpec,
    handle: BinaryIO,
    name: str,
    *,
    actor: Actor,
    mapping: Mapping | None,
    dry_run: bool,
    progress: ProgressCallback | None,
    chunk_rows: int,
    sink: RowSink | None = None,
) -> ImportResult:
    started = utcnow()
    report = progress or (lambda _fraction, _message: None)
    shape = _shape(handle, name)
    sha256, encoding, size, delimiter, header = shape.sha256, shape.encoding, shape.size, shape.delimiter, shape.header
    header_index = {fold_spaces(column): column for column in header}
    mapping = mapping or identity_mapping(spec.kind, header)
    columns, notes = _resolve_columns(spec, mapping, header, name)
    number_format = _number_format(spec, mapping, columns, handle, shape, name)
    first_day_fields = [field for field, source in mapping.fields.items() if source.import_day]

    with engine.connect() as connection, _bulk_cache(connection):
        transaction = connection.begin()
        stage: _Stage | None = None
        try:
            settings = load(connection)
            validator = _ChunkValidator(spec, mapping, columns, settings, number_format)
            validator.header_index = header_index
            validator.check_mapping(name)
            stream, counter = _text_stream(handle, encoding)
            rows_read, first_row, sink_rows = 0, 2, 0
            for chunk in _chunks(stream, delimiter, chunk_rows, name, header, handle=handle):
                rows_read += len(chunk)
                frame = validator.validate(chunk, first_row)
                first_row += len(chunk)
                if frame is not None and validator.total_problems == 0 and sink is not None:
                    sink.write(connection, frame)
                    sink_rows += len(frame)
                elif frame is not None and validator.total_problems == 0:
                    if first_day_fields:
                        frame = _keep_stored(connection, spec, frame, first_day_fields)
                    frame = _with_derived(spec, frame, settings)
                    if stage is None:
                        stage = _Stage(connection, spec, list(frame.columns))
                    stage.write(frame)
                report(0.85 * min(counter.count / max(size, 1), 1.0), f"validated {rows_read:,} rows")
            if rows_read == 0:
                raise _refuse(name, "the file has a header but no data rows")
            duplicates = validator.duplicate_rows()
            if duplicates:
                # A refused file only: read it again for the reported rows' keys as the file spells them.
                wanted, texts, row = {pair[0] for pair in duplicates}, {}, 2
                stream, _ = _text_stream(handle, encoding)
                for chunk in _chunks(stream, delimiter, chunk_rows, name, header, handle=handle):
                    texts.update(validator.key_texts(chunk, np.arange(row, row + len(chunk)), wanted))
                    row += len(chunk)
                validator.report_duplicates(duplicates, texts)
            if validator.total_problems:
                raise ImportRefused(name, validator.problems, validator.total_problems)

            def outcome(inserted: int, updated: int, unchanged: int, import_id: int | None) -> ImportResult:
                return ImportResult(
                    kind=spec.kind,
                    file_name=name,
                    sha256=sha256,
                    encoding=encoding,
                    delimiter=delimiter,
                    rows_read=rows_read,
                    rows_skipped=sum(validator.skipped.values()),
                    skipped_reasons=dict(validator.skipped),
                    inserted=inserted,
                    updated=updated,
                    unchanged=unchanged,
                    dry_run=dry_run,
                    import_id=import_id,
                    notes=notes,
                    number_format=number_format.describe() if number_format.declared or validator.read_numbers else "",
                    warnings=validator.warnings.warnings(),
                )

            if connection.dialect.name == "sqlite" and not dry_run:
                transaction = _take_write_lock(connection, transaction, settings, name)
            elif not dry_run and sink is None:
                _take_turns(connection, spec, settings, name)
            if sink is not None:
                result = outcome(sink_rows, 0, 0, None)
                sink.finish(connection, result)
                transaction.commit()
                report(1.0, "done")
                return result
            report(0.9, "merging into the database")
            import_id = None
            if not dry_run:
                import_id = connection.execute(
                    insert(ImportRun).values(
                        kind=spec.kind,
                        file_name=name,
                        file_sha256=sha256,
                        mapping_name=mapping.name,
                        actor=actor.username,
                        started_at=started,
                        finished_at=started,
                        rows_read=rows_read,
                        rows_skipped=sum(validator.skipped.values()),
                        inserted=0,
                        updated=0,
                        unchanged=0,
                        notes={},
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            inserted, updated = stage.merge(import_id, _carried(spec, columns, validator)) if stage else (0, 0)
            staged = stage.rows if stage else 0
            if stage and not dry_run:
                _recompute_if_partial(connection, spec, stage.columns, settings)
            result = outcome(inserted, updated, staged - inserted - updated, import_id)
            if stage:
                stage.drop()
            if dry_run:
                transaction.rollback()
                return result
            connection.execute(
                ImportRun.__table__.update()  # type: ignore[attr-defined]
                .where(ImportRun.__table__.c.id == import_id)
                .values(
                    finished_at=utcnow(),
                    inserted=inserted,
                    updated=updated,
                    unchanged=result.unchanged,
                    notes={
                        "skipped": result.skipped_reasons,
                        "notes": notes,
                        "encoding": encoding,
                        "numbers": result.number_format,
                        "warnings": [warning.as_dict() for warning in result.warnings],
                    },
                )
            )
            audit.record(
                connection,
                actor=actor.username,
                action="import",
                entity=spec.kind,
                entity_key=str(import_id),
                detail={
                    "file": name,
                    "sha256": sha256,
                    "inserted": inserted,
                    "updated": updated,
                    "unchanged": result.unchanged,
                },
            )
            transaction.commit()
            report(1.0, "done")
            return result
        except (IntegrityError, DataError) as exc:
            _abandon(connection, transaction)
            detail = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            raise _refuse(name, f"the database refused the rows ({detail}); nothing was changed") from exc
        except BaseException:
            _abandon(connection, transaction)
            raise


KEY_BATCH = 5_000


def _carried(spec: KindSpec, columns: dict[str, str | None], validator: _ChunkValidator) -> int | None:
    """The coverage bits of this file's rows: the fields it carried, and for deals whether it held a loss."""
    if spec.kind not in coverage.TRACKED:
        return None
    bits = coverage.mask(spec.kind, columns)
    if spec.kind == "opportunities" and validator.warnings.closed > validator.warnings.won:
        bits |= coverage.LOSSES_BIT
    return bits


def _keep_stored(connection: Connection, spec: KindSpec, frame: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Rows already stored keep the date an `import_day` field gave them when they first came, so that importing
    the same file again on another day changes nothing."""
    table = spec.table
    (key,) = spec.key
    keys = frame[key].dropna().astype(str).tolist()
    stored: list[Any] = []
    for start in range(0, len(keys), KEY_BATCH):
        batch = keys[start : start + KEY_BATCH]
        stored += connection.execute(
            select(table.c[key], *(table.c[field] for field in fields)).where(table.c[key].in_(batch))
        ).all()
    if not stored:
        return frame
    kept = pd.DataFrame(stored, columns=[key, *fields]).set_index(key)
    frame = frame.copy()
    for field_name in fields:
        earlier = frame[key].map(kept[field_name].dropna())
        earlier = pd.to_datetime(earlier).astype("datetime64[us]")
        frame[field_name] = earlier.where(earlier.notna(), frame[field_name])
    return frame


def _abandon(connection: Connection, transaction: RootTransaction) -> None:
    """Nothing of a failed import stays: its transaction is rolled back and, on SQLite, where the staged rows
    may have been committed to a temporary table before the merge, the connection is closed with them. (After
    SQLite's staged rows were committed, the transaction in hand may be the earlier one: the connection's own
    is rolled back.)"""
    current = connection.get_transaction()
    (current or transaction).rollback()
    if connection.dialect.name == "sqlite":
        connection.invalidate()


def _take_write_lock(
    connection: Connection, transaction: RootTransaction, settings: OrgSettings, name: str
) -> RootTransaction:
    """SQLite: the parse wrote only this connection's temporary tables, without the database's write lock;
    the merge takes it now, in a transaction of its own, so that nobody waits on a file being read and a
    write committed meanwhile cannot make the merge fail. The settings the rows were derived with must
    still be the ones in force."""
    transaction = write_from_here(connection, transaction)
    if load(connection) != settings:
        raise _refuse(name, "the organisation's settings changed while the file was read; import it again")
    return transaction


# pg_advisory_xact_lock(this, kind's index): the merges of one kind of file take turns on PostgreSQL.
_MERGE_LOCK_ID = 4_242_017


def _take_turns(connection: Connection, spec: KindSpec, settings: OrgSettings, name: str) -> None:
    """PostgreSQL: imports of one kind merge one at a time (the lock is held to the commit), so that each counts
    exactly what it inserts and updates against what the one before committed, and two imports sharing keys in
    opposite orders cannot deadlock. Then, as on SQLite, the settings the rows were derived with must still be
    the ones in force."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(CAST(:lock AS integer), CAST(:kind AS integer))"),
        {"lock": _MERGE_LOCK_ID, "kind": list(KINDS).index(spec.kind)},
    )
    if load(connection) != settings:
        raise _refuse(name, "the organisation's settings changed while the file was read; import it again")


def _with_derived(spec: KindSpec, frame: pd.DataFrame, settings: OrgSettings) -> pd.DataFrame:
    if spec.kind == "leads":
        inputs = [c for c in LEAD_INPUTS if c in frame]
        if not {"mql_at", "first_response_at"} <= set(frame):
            # The response columns need both; _recompute_if_partial takes the missing one from the stored row.
            inputs = [c for c in inputs if c not in ("mql_at", "first_response_at")]
        return frame.assign(**lead_columns(frame[inputs], settings))
    if spec.kind == "opportunities":
        inputs = frame[[c for c in ("created_at", "closed_at") if c in frame]]
        return frame.assign(**opportunity_columns(inputs, settings))
    return frame


def _recompute_if_partial(connection: Connection, spec: KindSpec, written: list[str], settings: OrgSettings) -> None:
    """Derived columns that need fields this file did not carry are recomputed from the stored rows."""
    if spec.kind == "leads" and not {"mql_at", "first_response_at"} <= set(written):
        recompute_lead_derived(connection, settings, keys_from="import_stage")
    if spec.kind == "opportunities" and "closed_at" not in written:
        recompute_opportunity_derived(connection, settings, keys_from="import_stage")


@dataclass(frozen=True)
class MappedPreview:
    """The first rows of a file as they are and as the mapping would import them."""

    header: list[str]
    columns: dict[str, str | None]  # canonical field -> the file column it is read from (None: a constant)
    raw: pd.DataFrame  # the rows as text, as in the file
    mapped: pd.DataFrame  # the same rows typed and mapped; a value that does not fit is empty and in problems
    problems: list[Problem]
    notes: list[str]
    number_format: numbers.NumberFormat | None = None  # how the file's numbers are read (None: not read yet)
    reads_numbers: bool = False  # whether the mapping reads any number from a column of the file


# A preview guesses the number rule from the file's first rows (an import, from all of them).
PREVIEW_VOTE_ROWS = 20_000


def read_header(source: BinaryIO, file_name: str | None = None, sheet: str | None = None) -> list[str]:
    """The column names of a file (ImportRefused if it has none), for building a mapping."""
    name = file_name or Path(str(getattr(source, "name", "upload.csv"))).name
    return _shape(as_table(source, name, sheet), name, whole_file=False).header


def mapped_columns(mapping: Mapping, header: list[str]) -> dict[str, str | None]:
    """The file column each field of `mapping` would be read from (None: the file has none of its spellings)."""
    header_index = {fold_spaces(column): column for column in header}
    return {name: _resolve(field.candidates, header_index) for name, field in mapping.fields.items() if field.column}


def preview(
    engine: Engine,
    kind: str,
    source: BinaryIO,
    mapping: Mapping | None = None,
    *,
    rows: int = 10,
    sheet: str | None = None,
) -> MappedPreview:
    """Maps and validates the first `rows` data rows without writing anything; problems are returned, not raised
    (a file that is not a table at all raises ImportRefused).

    Dates are read in the organisation's timezone, as an import would, hence the engine.
    """
    spec = kind_spec(kind)
    name = Path(str(getattr(source, "name", "upload.csv"))).name
    source = as_table(source, name, sheet)
    shape = _shape(source, name, whole_file=False)
    mapping = mapping or identity_mapping(spec.kind, shape.header)
    empty = pd.DataFrame()
    try:
        columns, notes = _resolve_columns(spec, mapping, shape.header, name)
    except ImportRefused as refused:
        return MappedPreview(shape.header, {}, empty, empty, refused.problems, [])
    stream, _ = _text_stream(source, shape.encoding)
    parts: list[pd.DataFrame] = []
    try:
        # A wide file's rows come a few at a time.
        for part in _chunks(stream, shape.delimiter, rows, name, shape.header, handle=source):
            parts.append(part)
            if sum(map(len, parts)) >= rows:
                break
    except ImportRefused as refused:
        return MappedPreview(shape.header, columns, empty, empty, refused.problems, notes)
    chunk = pd.concat(parts)[:rows] if parts else None
    if chunk is None or chunk.empty:
        return MappedPreview(shape.header, columns, empty, empty, [], [*notes, "the file has no data rows"])
    with engine.connect() as connection:
        settings = load(connection)
    number_format = _number_format(spec, mapping, columns, source, shape, name, max_rows=PREVIEW_VOTE_ROWS)
    validator = _ChunkValidator(spec, mapping, columns, settings, number_format)
    validator.header_index = {fold_spaces(column): column for column in shape.header}
    try:
        validator.check_mapping(name)
    except ImportRefused as refused:
        return MappedPreview(shape.header, columns, chunk, empty, refused.problems, notes, number_format)
    mapped = validator.map_rows(chunk, 2)
    reads_numbers = any(spec.field(field).type in ("int", "float") and column for field, column in columns.items())
    return MappedPreview(shape.header, columns, chunk, mapped, validator.problems, notes, number_format, reads_numbers)


MAX_PROFILE_VALUES = 200


@dataclass(frozen=True)
class FileProfile:
    """What a file's columns hold: the values a mapping is built from (value maps, conditions, null markers)."""

    rows: int
    values: dict[str, list[tuple[str, int]]]  # column -> its most frequent values (stripped) and their rows
    distinct: dict[str, int]  # column -> distinct values, counted up to a cap

    def placeholders(self) -> list[tuple[str, int]]:
        """Values that look like a form's blank (Select, N/A, -, #N/A, null …) and the rows holding them."""
        found: Counter[str] = Counter()
        for counts in self.values.values():
            for value, count in counts:
                if value.casefold() in PLACEHOLDERS:
                    found[value] += count
        return found.most_common()


def profile(source: BinaryIO, file_name: str | None = None, sheet: str | None = None) -> FileProfile:
    """Every column's most frequent values over the whole file (read once per upload)."""
    name = file_name or Path(str(getattr(source, "name", "upload.csv"))).name
    handle = as_table(source, name, sheet)
    shape = _shape(handle, name, whole_file=False)
    stream, _ = _text_stream(handle, shape.encoding)
    counters: dict[str, Counter[str]] = {}
    rows = 0
    for chunk in _chunks(stream, shape.delimiter, CHUNK_ROWS, name, shape.header, handle=handle):
        rows += len(chunk)
        for column in chunk.columns:
            counter = counters.setdefault(column, Counter())
            if len(counter) <= 50 * MAX_PROFILE_VALUES:  # an id column: its values say nothing to a mapping
                counter.update(chunk[column].astype("str").str.strip().value_counts().to_dict())
    return FileProfile(
        rows=rows,
        values={column: counter.most_common(MAX_PROFILE_VALUES) for column, counter in counters.items()},
        distinct={column: len(counter) for column, counter in counters.items()},
    )


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table (row, column, value, expected), for the Data page."""
    return pd.DataFrame(
        [(p.row, p.column, p.value, p.expected) for p in problems], columns=["row", "column", "value", "expected"]
    )


def import_history(engine: Engine, limit: int = 100) -> pd.DataFrame:
    """The most recent imports, newest first: who, when, which file and what changed."""
    statement = (
        select(
            ImportRun.finished_at.label("when"),
            ImportRun.actor.label("who"),
            ImportRun.kind,
            ImportRun.file_name.label("file"),
            ImportRun.mapping_name.label("mapping"),
            ImportRun.rows_read.label("rows"),
            ImportRun.inserted,
            ImportRun.updated,
            ImportRun.unchanged,
            ImportRun.rows_skipped.label("skipped"),
            ImportRun.file_sha256.label("sha256"),
        )
        .order_by(ImportRun.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        result = connection.execute(statement)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
