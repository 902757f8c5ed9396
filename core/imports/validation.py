"""Checking a file's rows against its kind and its mapping: the mapping resolved against the header, each row
mapped (null markers, conditions, value maps, defaults, skip rules), typed, and checked for repeated keys. Every
bad value is a problem with its row, column, value and what was expected."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from core.formats import KindSpec
from core.imports.import_warnings import WarningCollector
from core.imports.mapping import Condition, FieldMapping, Mapping
from core.imports.numbers import NumberFormat
from core.imports.parsing import FieldParser
from core.imports.problems import MAX_PROBLEMS, ImportRefused, Problem, ProblemLog, refuse
from core.settings import OrgSettings
from core.text import casefold, fold_spaces


def resolve_column(candidates: list[str], header_index: dict[str, str]) -> str | None:
    """The first of a field's spellings the header has (`header_index`: folded name -> the header's own)."""
    for candidate in candidates:
        found = header_index.get(fold_spaces(candidate))
        if found is not None:
            return found
    return None


def import_day(settings: OrgSettings) -> str:
    """Today in the organisation's timezone: the date an `import_day` field gets."""
    return pd.Timestamp.now(tz=settings.timezone).strftime("%Y-%m-%d")


class ChunkValidator:
    """Maps and validates one chunk at a time; collects problems across the file."""

    def __init__(
        self,
        spec: KindSpec,
        mapping: Mapping,
        columns: dict[str, str | None],
        settings: OrgSettings,
        number_format: NumberFormat,
    ) -> None:
        self.spec = spec
        self.mapping = mapping
        self.columns = columns  # field -> resolved source column (None for constants)
        self.parser = FieldParser(settings.timezone, number_format)
        self.import_day = import_day(settings)
        self.warnings = WarningCollector(spec, mapping, columns)
        self.log = ProblemLog()
        self.key_hashes: list[np.ndarray] = []
        self.key_rows: list[np.ndarray] = []
        self.skipped: Counter[str] = Counter()
        self.null_markers = {fold_spaces(value) for value in mapping.null_values}
        self.header_index: dict[str, str] = {}
        self._unreadable_columns: set[str] = set()

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
                wrong = ProblemLog()
                self.parser.parse(
                    spec,
                    pd.Series([value], dtype="str"),
                    np.array([0]),
                    field_name,
                    source.date_format or self.mapping.date_format,
                    wrong,
                )
                found += [
                    Problem(None, f"{field_name} ({what} in the mapping)", value, problem.expected)
                    for problem in wrong.problems
                ]
        if found:
            raise ImportRefused(name, found, len(found))

    def _blank(self, values: pd.Series) -> pd.Series:
        stripped = values.str.strip()
        blank = stripped == ""
        if self.null_markers:
            blank |= casefold(stripped).isin(self.null_markers)
        return blank

    def _unreadable(self, column: str) -> None:
        """The header names `column` but the CSV parser found none: the two read a quote in the header differently."""
        if column not in self._unreadable_columns:
            self._unreadable_columns.add(column)
            self.log.add(1, column, None, "a column the CSV parser can find in the header (a stray quote there?)")

    def _condition(self, chunk: pd.DataFrame, condition: Condition) -> pd.Series:
        if condition.is_group:
            tests = [self._condition(chunk, member) for member in condition.members]
            combined = tests[0]
            for test in tests[1:]:
                combined = (combined & test) if condition.all_ is not None else (combined | test)
            return combined
        column = resolve_column(condition.candidates, self.header_index)
        if column is not None and column not in chunk.columns:
            self._unreadable(column)
            column = None
        if column is None:
            return pd.Series(False, index=chunk.index)
        folded = casefold(chunk[column].str.strip()).str.replace(r"\s+", " ", regex=True)
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
            folded = casefold(values).str.replace(r"\s+", " ", regex=True)
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

    def validate(self, chunk: pd.DataFrame, first_row: int) -> pd.DataFrame | None:
        """The typed, mapped rows of a chunk (skipped rows dropped), or None if it had problems."""
        before = self.log.total
        frame = self.map_rows(chunk, first_row)
        return frame if self.log.total == before else None

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
            date_format = mapping.date_format or self.mapping.date_format
            typed[name] = self.parser.parse(spec, raw, rows, column, date_format, self.log)
            self.warnings.observe(name, source, typed[name])
        frame = pd.DataFrame(typed, index=chunk.index)
        self.warnings.observe_rows(frame)
        if self.spec.kind == "touches":
            for name in ("lead_id", "opportunity_id"):
                frame[name] = frame[name].fillna("") if name in frame else ""
            orphan = ((frame["lead_id"] == "") & (frame["opportunity_id"] == "")).to_numpy()
            self.log.add_where(
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
        self.log.total += count
        room = max(MAX_PROBLEMS - len(self.log.problems), 0)
        return [
            (int(row), int(earlier))
            for row, earlier in zip(rows[repeated][:room], first_rows[repeated][:room], strict=True)
        ]

    def report_duplicates(self, pairs: list[tuple[int, int]], key_texts: dict[int, str]) -> None:
        key_columns = list(self.spec.key)
        column = self.columns.get(key_columns[0]) or key_columns[0]
        for row, earlier in pairs:
            self.log.problems.append(
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


def resolve_columns(
    spec: KindSpec, mapping: Mapping, header: list[str], name: str
) -> tuple[dict[str, str | None], list[str]]:
    """The file column behind each mapped field (None for constants) and notes on what is left out.

    Raises ImportRefused naming every required field whose column the file lacks.
    """
    if mapping.kind != spec.kind:
        raise refuse(name, f"the mapping {mapping.name!r} is for {mapping.kind}, not {spec.kind}")
    header_index = {fold_spaces(column): column for column in header}
    columns: dict[str, str | None] = {}
    notes: list[str] = []
    missing: list[str] = []
    for field_name, field_mapping in mapping.fields.items():
        if not field_mapping.from_column:
            columns[field_name] = None
            continue
        resolved = resolve_column(field_mapping.candidates, header_index)
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
        found_column = resolve_column(leaf.candidates, header_index)
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
