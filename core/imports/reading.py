"""Reading a file into the rows an import checks: its size and kind (CSV, gzip, an Excel sheet), its encoding
and delimiter from the bytes, its header, the rule its numbers are written by, and its rows as text, streamed a
chunk at a time so that memory holds one chunk however large the file. What cannot be read is refused whole."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import pandas as pd

from core.config import ConfigError, secret
from core.formats import KindSpec
from core.imports import file_formats, numbers
from core.imports.mapping import Mapping
from core.imports.problems import ImportRefused, Problem, refuse
from core.text import casefold, fold_spaces

CHUNK_ROWS = 100_000
# Streamlit's own limit (server.maxUploadSize in .streamlit/config.toml), so that a file the CLI reads and one the
# pages hand over are held to the same size. ONEFUNNEL_MAX_UPLOAD_MB overrides it (e.g. for a big CLI import).
MAX_UPLOAD_MB = 400
_MIB = 1024 * 1024
# A chunk of a 10,000-column file would otherwise hold CHUNK_ROWS × 10,000 cells, several GB of strings.
MAX_CHUNK_CELLS = 2_000_000
# A header line longer than this is not a CSV header (a binary file, or a file without line breaks).
MAX_HEADER_BYTES = 16 * _MIB
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# Bytes that cp1252 leaves undefined; a file using them can only be latin-1.
_CP1252_HOLES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


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


def text_stream(handle: BinaryIO, encoding: str) -> tuple[IO[str], _CountingReader]:
    handle.seek(0)
    counter = _CountingReader(handle)
    # Universal newlines: with lines ending in a lone CR (an old Mac export), pandas' tokenizer drops the empty
    # first field of a row that follows a blank line, and the row's values slide one column left. Every line
    # break becomes LF, a line break inside a quoted value too.
    stream = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding=encoding, newline=None)
    return stream, counter


def open_source(source: str | Path | BinaryIO) -> tuple[BinaryIO, str, bool]:
    """(handle, file name, whether the caller must close it): a path is opened here, an upload is handed over."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        return path.open("rb"), path.name, True
    return source, getattr(source, "name", "upload.csv"), False


def as_table(handle: BinaryIO, name: str, sheet: str | None = None) -> BinaryIO:
    """The file as CSV bytes (gzip unpacked, an Excel sheet written out), or ImportRefused saying what it is."""
    size, limit = _size(handle), max_upload_bytes()
    if size > limit:
        raise refuse(name, f"the file is {_megabytes(size)} MB; the limit is {_megabytes(limit)} MB")
    try:
        return file_formats.as_csv(handle, sheet=sheet, limit=limit)
    except file_formats.NotATable as exc:
        raise refuse(name, str(exc)) from exc


@dataclass(frozen=True)
class FileShape:
    """What a file is before its rows are read: checksum, encoding, size, delimiter and column names."""

    sha256: str
    encoding: str
    size: int
    delimiter: str
    header: list[str]


def file_shape(handle: BinaryIO, name: str, *, whole_file: bool = True) -> FileShape:
    """Encoding, delimiter and header of a file, or ImportRefused if it has no header.

    Without `whole_file` only the first megabyte is looked at (no checksum): enough for a preview, and
    a page re-runs it on every click.
    """
    size, limit = _size(handle), max_upload_bytes()
    if size > limit:
        raise refuse(name, f"the file is {_megabytes(size)} MB; the limit is {_megabytes(limit)} MB")
    if whole_file:
        sha256, encoding, size = _scan(handle)
    else:
        sha256, encoding, size = "", *_scan(io.BytesIO(_whole_characters(handle.read(1 << 20))))[1:]
    handle.seek(0)
    sample = _header_sample(handle, encoding, name)
    if not sample.strip():
        raise refuse(name, "the file is empty; expected a header row and at least one data row")
    delimiter = sniff_delimiter(sample)
    try:
        header = next(csv.reader(io.StringIO(_header_line(sample)), delimiter=delimiter))
    except csv.Error as exc:  # e.g. a name over the csv module's 128 KB field limit: a data row, not a header
        raise refuse(name, f"the header row could not be read as column names ({exc})", row=1) from exc
    return FileShape(sha256, encoding, size, delimiter, [column.strip() for column in header])


def _header_sample(handle: BinaryIO, encoding: str, name: str) -> str:
    """The start of the file as text, at least up to the end of its header line."""
    raw = handle.read(1 << 16)
    sample = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    # The header of a file with thousands of columns is longer than the first block.
    while not _header_line(sample).endswith("\n") and (more := handle.read(1 << 20)):
        raw += more
        if len(raw) > MAX_HEADER_BYTES:
            raise refuse(
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


def number_format_of(
    spec: KindSpec,
    mapping: Mapping,
    columns: dict[str, str | None],
    handle: BinaryIO,
    shape: FileShape,
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
        stream, _ = text_stream(handle, shape.encoding)
        null_markers = {fold_spaces(value) for value in mapping.null_values}
        read = 0
        for chunk in chunks(stream, shape.delimiter, CHUNK_ROWS, name, shape.header, set(numeric), handle):
            for column, whole in numeric.items():
                if column in chunk.columns:
                    values = chunk[column].astype("str").str.strip()
                    if null_markers:
                        values = values.where(~casefold(values).isin(null_markers), "")
                    point, comma = numbers.votes(values, whole=whole)
                    point_votes, comma_votes = point_votes + point, comma_votes + comma
            read += len(chunk)
            if max_rows is not None and read >= max_rows:
                break
    return numbers.guessed(point_votes, comma_votes, shape.delimiter)


def chunks(
    stream: IO[str],
    delimiter: str,
    chunk_rows: int,
    name: str,
    header: list[str],
    only: set[str] | None = None,
    handle: BinaryIO | None = None,
) -> Iterator[pd.DataFrame]:
    """The rows as text, at most `chunk_rows` (and MAX_CHUNK_CELLS cells) at a time, the column names stripped
    as `file_shape` strips the header's (with `only`, just those columns). ImportRefused if the file is not CSV, or at
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
            # Never an index from extra fields (see chunks): at worst pandas drops them with a warning.
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
        raise refuse(
            name, f"bytes {exc.object[exc.start : exc.start + 4]!r} are not {exc.encoding} text; save the file as UTF-8"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise refuse(name, "the file has no header row", row=1) from exc
    except pd.errors.ParserError as exc:
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if unclosed:
            # The parser counts rows from 0 at the header; a spreadsheet counts from 1.
            raise refuse(
                name, 'a quote opened in this row is never closed (a stray " in a value?)', row=int(unclosed[1]) + 1
            ) from exc
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            line, saw = int(match[2]), int(match[3])
            problem = Problem(line, None, None, _too_many_fields(saw, len(header), delimiter))
            raise ImportRefused(name, [problem], 1) from exc
        raise refuse(name, f"the file could not be read as CSV: {exc}") from exc


def _too_many_fields(saw: int, header: int, delimiter: str) -> str:
    return f"{saw:,} fields where the header has {header:,} (a stray {DELIMITER_NAMES[delimiter]} or quote?)"


def read_header(source: BinaryIO, file_name: str | None = None, sheet: str | None = None) -> list[str]:
    """The column names of a file (ImportRefused if it has none), for building a mapping."""
    name = file_name or Path(str(getattr(source, "name", "upload.csv"))).name
    return file_shape(as_table(source, name, sheet), name, whole_file=False).header
