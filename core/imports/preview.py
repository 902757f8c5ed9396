"""What a file would import as, before importing: the first rows as they are and as the mapping reads them,
and the values each column holds (what a mapping's value maps and conditions are built from). Nothing is
written; problems are returned to show, not raised."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd
from sqlalchemy import Engine

from core.formats import kind_spec
from core.formatting import MISSING
from core.imports import numbers
from core.imports.import_warnings import PLACEHOLDERS
from core.imports.mapping import Mapping, identity_mapping
from core.imports.problems import ImportRefused, Problem
from core.imports.reading import CHUNK_ROWS, as_table, chunks, file_shape, number_format_of, text_stream
from core.imports.validation import ChunkValidator, resolve_columns
from core.settings import load
from core.text import fold_spaces


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
    shape = file_shape(source, name, whole_file=False)
    mapping = mapping or identity_mapping(spec.kind, shape.header)
    empty = pd.DataFrame()
    try:
        columns, notes = resolve_columns(spec, mapping, shape.header, name)
    except ImportRefused as refused:
        return MappedPreview(shape.header, {}, empty, empty, refused.problems, [])
    stream, _ = text_stream(source, shape.encoding)
    parts: list[pd.DataFrame] = []
    try:
        # A wide file's rows come a few at a time.
        for part in chunks(stream, shape.delimiter, rows, name, shape.header, handle=source):
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
    number_format = number_format_of(spec, mapping, columns, source, shape, name, max_rows=PREVIEW_VOTE_ROWS)
    validator = ChunkValidator(spec, mapping, columns, settings, number_format)
    validator.header_index = {fold_spaces(column): column for column in shape.header}
    try:
        validator.check_mapping(name)
    except ImportRefused as refused:
        return MappedPreview(shape.header, columns, chunk, empty, refused.problems, notes, number_format)
    mapped = validator.map_rows(chunk, 2)
    reads_numbers = any(spec.field(field).type in ("int", "float") and column for field, column in columns.items())
    return MappedPreview(
        shape.header, columns, chunk, mapped, validator.log.problems, notes, number_format, reads_numbers
    )


def preview_table(shown: MappedPreview, kind: str) -> pd.DataFrame:
    """The mapped rows as the page shows them: the kind's fields in its order, under their names, each value as
    it will read (a date without a midnight time, a number without trailing zeros, yes or no), a blank as —."""
    spec = kind_spec(kind)
    ordered = [name for name in spec.field_names if name in shown.mapped.columns]
    table = shown.mapped[ordered].astype(object).map(_cell)
    return table.rename(columns=lambda name: spec.field(name).label)


def _cell(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return numbers.shown(value)
    return str(value)


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
    shape = file_shape(handle, name, whole_file=False)
    stream, _ = text_stream(handle, shape.encoding)
    counters: dict[str, Counter[str]] = {}
    rows = 0
    for chunk in chunks(stream, shape.delimiter, CHUNK_ROWS, name, shape.header, handle=handle):
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
