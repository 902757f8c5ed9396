"""What an export arrives as: CSV, gzip-compressed CSV, or an Excel workbook; anything else is refused.

The importer reads CSV. A gzip file is unpacked and an Excel sheet written out as CSV first (into a spooled
temporary file: in memory while small, on disk beyond), so that both are held to the same rules, limits and
reports as the CSV they stand for. A workbook's numbers and dates are written the way the importer reads them
best: numbers with a decimal point and no grouping, dates in ISO 8601.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import tempfile
import zipfile
import zlib
from typing import IO, Any, BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97–2003 (.xls), old Word and others
# Other files people upload by mistake, by their first bytes.
OTHER_BINARY = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"SQLite format 3": "an SQLite database",
}
SPOOL_BYTES = 64 * 1024 * 1024


class NotATable(ValueError):
    """The file is not CSV, gzip-compressed CSV or an Excel workbook, with what it seems to be instead."""


def _start(handle: BinaryIO, size: int = 16) -> bytes:
    handle.seek(0)
    start = handle.read(size)
    handle.seek(0)
    return start


def is_workbook(handle: BinaryIO) -> bool:
    """True for an .xlsx (or .xlsm) workbook."""
    if not _start(handle).startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(handle) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False
    finally:
        handle.seek(0)


def sheet_names(handle: BinaryIO) -> list[str]:
    """The sheets of a workbook, in order; [] for any other file."""
    if not is_workbook(handle):
        return []
    workbook = _open_workbook(handle)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()
        handle.seek(0)


def _open_workbook(handle: BinaryIO) -> Any:
    import openpyxl  # imported here: only workbooks need it

    handle.seek(0)
    try:
        return openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise NotATable(f"the workbook could not be read ({exc}); save it again from Excel or as CSV") from exc


def as_csv(handle: BinaryIO, *, sheet: str | None = None, limit: int) -> BinaryIO:
    """The file as CSV bytes: itself when it is text, else unpacked or converted (at most `limit` bytes).

    Raises NotATable for a file that is none of the three, or a sheet that is not in the workbook.
    """
    start = _start(handle)
    if start.startswith(GZIP_MAGIC):
        unpacked = _gunzip(handle, limit)
        if _start(unpacked).startswith(GZIP_MAGIC):
            raise NotATable("the file is compressed twice; unpack it once and upload the CSV inside")
        return as_csv(unpacked, sheet=sheet, limit=limit)
    if start.startswith(ZIP_MAGIC):
        if not is_workbook(handle):
            raise NotATable("the file is a ZIP archive, not a CSV or Excel file; upload the CSV inside it")
        return _sheet_as_csv(handle, sheet, limit)
    if start.startswith(OLE_MAGIC):
        raise NotATable("the file is an Excel 97–2003 workbook (.xls); save it as .xlsx or CSV and upload that")
    for magic, what in OTHER_BINARY.items():
        if start.startswith(magic):
            raise NotATable(f"the file is {what}, not a CSV or Excel file")
    if sheet:
        raise NotATable(f"a sheet ({sheet!r}) was chosen, but the file is not an Excel workbook")
    handle.seek(0)
    return handle


def _spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def _too_big(limit: int) -> NotATable:
    return NotATable(f"the file unpacks to more than {limit // (1024 * 1024):,} MB, the limit for an import")


def _gunzip(handle: BinaryIO, limit: int) -> BinaryIO:
    out = _spool()
    handle.seek(0)
    written = 0
    try:
        with gzip.GzipFile(fileobj=handle) as packed:
            while block := packed.read(1 << 20):
                written += len(block)
                if written > limit:
                    raise _too_big(limit)
                out.write(block)
    except (OSError, EOFError, zlib.error) as exc:
        raise NotATable(f"the file looks gzip-compressed but could not be unpacked ({exc})") from exc
    out.seek(0)
    return out  # type: ignore[return-value]


def cell_text(value: Any) -> str:
    """A workbook cell as the CSV text the importer reads without doubt."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds" if not value.microsecond else "microseconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _sheet_as_csv(handle: BinaryIO, sheet: str | None, limit: int) -> BinaryIO:
    workbook = _open_workbook(handle)
    try:
        names = list(workbook.sheetnames)
        if sheet is not None and sheet not in names:
            raise NotATable(f"the workbook has no sheet {sheet!r}; its sheets are {', '.join(map(repr, names))}")
        worksheet = workbook[sheet or names[0]]
        out = _spool()
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        width = 0
        for row in worksheet.iter_rows(values_only=True):
            cells = [cell_text(value) for value in row]
            while cells and cells[-1] == "":
                cells.pop()
            if not cells:
                continue  # an empty row: a spreadsheet's spacing, not a record
            width = width or len(cells)  # the header's
            writer.writerow(cells + [""] * (width - len(cells)))
            if out.tell() > limit:
                raise _too_big(limit)
        text.flush()
        text.detach()
    finally:
        workbook.close()
        handle.seek(0)
    out.seek(0)
    return out  # type: ignore[return-value]
