"""Fuzzed imports: malformed and hostile CSVs are imported correctly or refused with a report, never a crash.

Hypothesis builds valid files of each kind (core.formats; for leads at least the fixture's columns), writes them
with any delimiter, quoting, line ending and encoding, and then often spoils them: broken quoting, NUL and
invalid bytes, huge fields, mixed delimiters, duplicate and blank headers, dates and numbers out of range,
formula cells, 10,000 columns, truncation. Every file is imported for real into a database that already holds
the fixture company, and then:

- a refusal must be an ImportRefused whose report says where (row, column) and what was expected, and every
  table must be as it was: the row count of each, and the rows of those an import writes (so no import run and
  no audit entry either; the importer records both only in the transaction it commits);
- an import must have stored what the file said (each row and each generated field of an unspoilt file), one
  import run and one audit entry, rows that read back, and an export without a live formula;
- any other exception fails the test.

A module counter shows that one run tries at least MIN_FILES files on each database.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import os
import re
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import Engine, select, text

from core.admin.settings import save
from core.config import ConfigError
from core.db import session_scope
from core.exports import FORMULA_PREFIXES, to_safe_csv
from core.formats import KINDS, FieldSpec
from core.funnel.attribution import refresh_credits
from core.funnel.rollups import refresh_rollups
from core.funnel.segments import refresh_filter_values
from core.imports import parsing, reading, validation
from core.imports.mapping import Mapping, load_preset, parse_mapping
from core.imports.preview import preview
from core.imports.reading import max_upload_bytes, read_header
from core.imports.runs import ImportRefused, ImportResult, import_csv
from core.models import Base, Lead
from core.rejections.catalogue import install_default_catalogue
from core.sandbox.trials import SandboxError, delete_trial, upload_trial
from tests.conftest import DATA_TABLES, TESTER
from tests.fixtures import CRM_MAPPING_YAML, LEADS, load_fixture

# Hypothesis keeps caches (constants, Unicode tables) in ./.hypothesis even without its example database; a
# clone must stay clean, so they go to the temporary directory unless HYPOTHESIS_STORAGE_DIRECTORY says otherwise.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "onefunnel-hypothesis")

MIN_FILES = 1_000
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
FILES_TRIED: Counter[str] = Counter()  # per database: the generated files this run imported or had refused

# The tables an import writes; every other table is compared by its row count.
WRITTEN = ("leads", "opportunities", "touches", "spend", "targets", "import_runs", "audit_log")
ALL_TABLES = sorted(Base.metadata.tables)
KEPT_COUNTS = ("mql_day_facts", "created_day_facts", "deal_day_facts", "maturity_lags", "period_medians")
FIXTURE_LEAD_COLUMNS = LEADS.splitlines()[0].split(",")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,  # a 10,000-column file takes a second; the module's total time is what is bounded
        database=None,  # CI clones are clean, and a .hypothesis/ directory must not land in the repository
        # `db` restores the fixture company once a test; each file then leaves the database as it found it.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        print_blob=True,
    )


# ---------------------------------------------------------------------------------------------------------------
# The database: the fixture company, a fingerprint of every table, and undoing a good import


class FuzzDatabase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self.reseed()

    def reseed(self) -> None:
        with self.engine.begin() as connection:
            for table in DATA_TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
            install_default_catalogue(connection)
        load_fixture(self.engine)
        self.baseline = self.state()

    def ensure_baseline(self) -> None:
        """Other modules' tests may have emptied the shared database between ours."""
        if self.state() != self.baseline:
            self.reseed()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            row = connection.execute(
                text("SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in ALL_TABLES))
            ).one()
        return dict(zip(ALL_TABLES, row, strict=True))

    def state(self) -> tuple[dict[str, int], dict[str, str]]:
        """Row counts of every table, and a hash of the sorted rows of those an import writes."""
        hashes = {}
        with self.engine.connect() as connection:
            for table in WRITTEN:
                rows = sorted(repr(tuple(row)) for row in connection.execute(text(f"SELECT * FROM {table}")))
                hashes[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return self.counts(), hashes

    def undo(self, kind: str, result: ImportResult) -> None:
        """Removes what one good import wrote, so that the next file meets the fixture company again."""
        table = KINDS[kind].table.name
        with self.engine.begin() as connection:
            connection.execute(text(f"DELETE FROM {table} WHERE import_id = :id"), {"id": result.import_id})
            connection.execute(text("DELETE FROM import_runs WHERE id = :id"), {"id": result.import_id})
            connection.execute(
                text("DELETE FROM audit_log WHERE action = 'import' AND entity_key = :key"),
                {"key": str(result.import_id)},
            )
            # What imports keep beside the rows (the pickers' values, the attribution credits, the KPI counts
            # per day) follows them.
            refresh_filter_values(connection, kind)
            refresh_credits(connection)
            refresh_rollups(connection)
        if self.state() != self.baseline:  # the file rewrote a fixture row: start from scratch
            self.reseed()


@pytest.fixture(scope="module")
def fuzz_db(migrated_engine: Engine) -> Iterator[FuzzDatabase]:
    database = FuzzDatabase(migrated_engine)
    yield database
    with migrated_engine.begin() as connection:  # as the migration leaves a database, for whoever comes next
        for table in DATA_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
        install_default_catalogue(connection)


@pytest.fixture
def db(fuzz_db: FuzzDatabase) -> FuzzDatabase:
    fuzz_db.ensure_baseline()
    return fuzz_db


# ---------------------------------------------------------------------------------------------------------------
# A generated file, and what importing it must do


@dataclass
class Csv:
    kind: str
    data: bytes
    expect: str  # "import" (a good file), "refuse" (a known-bad value or shape) or "either" (spoilt at random)
    rows: list[dict[str, Any]] = field(default_factory=list)  # what a good file must store, field by field
    mapping: Mapping | None = None
    steps: list[str] = field(default_factory=list)  # how it was made, for the failure message
    name: str = "fuzz.csv"

    def __repr__(self) -> str:  # a 5 MB file must not fill the failure report
        shown = self.data if len(self.data) <= 2000 else self.data[:2000] + b"..."
        return f"Csv({self.kind}, {self.expect}, steps={self.steps}, {len(self.data):,} bytes: {shown!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis prints dataclasses field by field
        printer.text(repr(self))

    def handle(self) -> io.BytesIO:
        handle = io.BytesIO(self.data)
        handle.name = self.name
        return handle


def check_report(refused: ImportRefused, name: str) -> None:
    """The report names the file, and for each problem where it is and what was expected."""
    report = refused.report()
    assert report.startswith(f"{name} was not imported"), report
    assert refused.problems and refused.total >= len(refused.problems), report
    for problem in refused.problems:
        assert problem.expected.strip(), report
        if problem.value is not None:  # a bad value: its cell
            assert problem.row is not None and problem.row >= 2 and problem.column, report
        assert problem.row is None or problem.row >= 1, report
        assert str(problem) in report


def attempt(db: FuzzDatabase, doc: Csv) -> ImportResult | ImportRefused:
    """Previews and imports `doc` and checks the outcome (a good import is undone afterwards)."""
    FILES_TRIED[db.backend] += 1
    # What the Data page shows before an import; it reads only the settings from the database, so once will do.
    looks = (lambda: read_header(doc.handle()), lambda: preview(db.engine, doc.kind, doc.handle(), doc.mapping))
    for look in looks if db.backend == "sqlite" else ():
        try:
            look()
        except ImportRefused as refused:
            check_report(refused, doc.name)
    before = db.state()
    try:
        result = import_csv(db.engine, doc.kind, doc.handle(), actor=TESTER, mapping=doc.mapping)
    except ImportRefused as refused:
        check_report(refused, doc.name)
        assert db.state() == before, f"a refused import changed the database:\n{refused.report()}"
        assert doc.expect != "import", f"a good file was refused:\n{refused.report()}"
        return refused
    try:
        check_import(db, doc, result, before[0])
    finally:
        db.undo(doc.kind, result)  # also after a failed check, so that the next file is not misjudged
    return result


def check_import(db: FuzzDatabase, doc: Csv, result: ImportResult, before: dict[str, int]) -> None:
    assert doc.expect != "refuse", f"a bad file was imported: {result.summary()}"
    counts, table = db.counts(), KINDS[doc.kind].table.name
    # What each import keeps up to date beside its rows: the pickers' values, the attribution credits, the KPI
    # counts per day.
    written = {table, "import_runs", "audit_log", "filter_values", "attribution_credits", *KEPT_COUNTS}
    assert {name for name in ALL_TABLES if counts[name] != before[name]} <= written
    assert (counts["import_runs"], counts["audit_log"]) == (before["import_runs"] + 1, before["audit_log"] + 1)
    assert result.inserted + result.updated + result.unchanged + result.rows_skipped == result.rows_read
    stored = stored_rows(db.engine, doc.kind, result.import_id)  # must read back (a year 0 would not)
    assert len(stored) == result.inserted
    if doc.expect == "import" and doc.rows:
        assert (result.rows_read - result.rows_skipped, result.inserted) == (len(doc.rows), len(doc.rows))
        compare(doc.kind, doc.rows, stored)
    exported = to_safe_csv(pd.DataFrame(stored)).decode("utf-8-sig")
    for record in csv.reader(io.StringIO(exported, newline="")):
        for value in record:
            assert not value.startswith(FORMULA_PREFIXES) or _number(value), f"a live formula: {value!r}"


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def stored_rows(engine: Engine, kind: str, import_id: int | None) -> list[dict[str, Any]]:
    table = KINDS[kind].table
    query = table.select().where(table.c.import_id == import_id)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def compare(kind: str, expected: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """Each generated field of each row, as the database returns it."""
    names = sorted({name for row in expected for name in row})

    def key(row: dict[str, Any]) -> str:
        return repr([row.get(name) for name in KINDS[kind].key])

    got = sorted(({name: row[name] for name in names} for row in stored), key=key)
    for want, have in zip(sorted(expected, key=key), got, strict=True):
        assert want == have


# ---------------------------------------------------------------------------------------------------------------
# Values: what a field holds, how a file may spell it, and spellings that must be refused

# Any text a spreadsheet might hold (quotes, delimiters and line breaks included), but no control characters.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), st.sampled_from(list(",;\t\"\n\r' "))
    ),
    max_size=24,
)
FORMULAS = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1:A9)", "\t=1+1", '=HYPERLINK("http://evil")', "-2+3", "\r=1"]
BAD_NUMBERS = ["1e309", "-1e309", "NaN", "inf", "-Infinity", "1e18", "9223372036854775808", "2147483648", "=1+1"]
BAD_NUMBERS += ["@SUM(A1)", "12abc", "-5", "1.5e400"]
BAD_DATES = ["0000-01-01", "9999-12-31", "10000-01-01", "1677-09-21", "2262-04-12", "2026-02-30", "1899-12-30"]
BAD_DATES += ["2025-13-01", "1e309", "=NOW()", "31/02/2025", "2025-01-01\x00", "2025-01-01T25:00:00"]
BAD_MONTHS = ["0000-01", "10000-01", "2025-13", "9999-12", "1677-01", "=1", "2026-02-30"]
TRUE_WORDS, FALSE_WORDS = ["true", "TRUE", "yes", "Y", "1", "won", "Closed Won"], ["false", "No", "n", "0", "LOST"]
FIRST, LAST = dt.datetime(1900, 1, 2), dt.datetime(2199, 12, 30)


@dataclass
class Cell:
    text: str  # as the file spells it
    value: Any  # as the database must return it


def good_cell(draw: st.DrawFn, spec: FieldSpec, decimal: str, row: int) -> Cell:
    """A valid value of the field and one of its spellings; numbers with the file's one decimal separator."""
    if spec.name in ("lead_id", "opportunity_id"):
        suffix = draw(st.text(alphabet=st.characters(categories=("L", "N")), max_size=6))
        value = f"F{row}-{suffix}"  # the row number keeps keys unique; the F keeps them off the fixture's
        return Cell(value, value)
    if not spec.nonblank and spec.blank_default is None and draw(st.integers(0, 4)) == 0:
        return Cell(draw(st.sampled_from(["", " "])), None)
    if spec.type == "text":
        raw = draw(st.one_of(TEXT, st.sampled_from(FORMULAS)))
        if spec.nonblank and not raw.strip():
            raw += "v"
        return Cell(raw, lf(raw).strip() or spec.blank_default)
    if spec.type == "int":
        number = draw(st.integers(int(spec.minimum or 0), int(spec.maximum or 2**31 - 1)))
        return Cell(draw(st.sampled_from([str(number), f"{number}{decimal}0", f" {number} ", f"+{number}"])), number)
    if spec.type == "float":
        amount = round(draw(st.floats(spec.minimum or 0, 1e12)), 2)
        if decimal == ".":
            spellings = [f"{amount:.2f}", repr(amount), f"${amount:,.2f}", f"USD {amount:.2f}", f"{amount:.2f} EUR"]
        else:  # as a German or French export writes it
            grouped = f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
            spellings = [f"{amount:.2f}".replace(".", ","), grouped, f"{grouped} €", f"EUR {grouped}"]
            spellings.append(f"{amount:,.2f}".replace(",", "\u00a0").replace(".", ","))  # 1 234,56
        return Cell(draw(st.sampled_from(spellings)), amount)
    if spec.type == "bool":
        truth = draw(st.booleans())
        return Cell(draw(st.sampled_from(TRUE_WORDS if truth else FALSE_WORDS)), truth)
    if spec.type == "choice":
        choice = draw(st.sampled_from(spec.choices))
        return Cell(draw(st.sampled_from([choice, choice.upper(), f" {choice.title()} "])), choice)
    if spec.type == "month":
        day = draw(st.dates(dt.date(1950, 1, 1), dt.date(2000, 12, 28)))
        return Cell(day.strftime(draw(st.sampled_from(["%Y-%m", "%Y-%m-01", "%Y-%m-%d"]))), day.replace(day=1))
    return Cell(*spell_moment(draw, draw(st.datetimes(FIRST, LAST)).replace(microsecond=0)))


def lf(value: str) -> str:
    """A line break inside a value as the importer stores it."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def spell_moment(draw: st.DrawFn, moment: dt.datetime) -> tuple[str, dt.datetime]:
    """A UTC moment as a date, a naive date-time (the organisation's timezone is UTC), or with an offset."""
    style = draw(st.sampled_from(["date", " ", "T", "Z", "+hh:mm", "+hhmm", "+hh"]))
    if style == "date":
        return moment.strftime("%Y-%m-%d"), moment.replace(hour=0, minute=0, second=0)
    if style in (" ", "T"):
        return moment.strftime(f"%Y-%m-%d{style}%H:%M:%S"), moment
    if style == "Z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment
    minutes = draw(st.integers(-14, 14)) * 60 if style == "+hh" else draw(st.integers(-14 * 4, 14 * 4)) * 15
    local = moment + dt.timedelta(minutes=minutes)
    sign, hours, rest = "+" if minutes >= 0 else "-", abs(minutes) // 60, abs(minutes) % 60
    offset = {"+hh:mm": f"{sign}{hours:02d}:{rest:02d}", "+hhmm": f"{sign}{hours:02d}{rest:02d}"}.get(style)
    offset = offset or f"{sign}{hours:02d}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + offset, moment


def bad_cell(draw: st.DrawFn, spec: FieldSpec) -> str:
    """A spelling the field must refuse."""
    if spec.type in ("int", "float"):
        valid_floats = ("1e18", "2147483648", "9223372036854775808") if spec.type == "float" else ()
        return draw(st.sampled_from([value for value in BAD_NUMBERS if value not in valid_floats]))
    if spec.type in ("datetime", "month"):
        return draw(st.sampled_from(BAD_DATES if spec.type == "datetime" else BAD_MONTHS))
    if spec.type == "bool":
        return draw(st.sampled_from(["maybe", "=TRUE()", "2"]))
    if spec.type == "choice":
        return draw(st.sampled_from(["boss", "=cmd", "@x"]))
    size = draw(st.sampled_from([spec.max_length + 1, spec.max_length + 700, 300_000]))
    return draw(st.sampled_from(["x" * size, "Acme\x00Corp", "\x00"]))


# ---------------------------------------------------------------------------------------------------------------
# Files: a table of cells, written with a delimiter, quoting, line ending and encoding, then maybe spoilt


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


def write(table: Table, delimiter: str, quote_all: bool, newline: str) -> str:
    """RFC 4180, whatever the line ending: Python's writer leaves a CR unquoted in a file of LF lines."""

    def field(value: str) -> str:
        if quote_all or any(char in value for char in (delimiter, '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(delimiter.join(map(field, line)) + newline for line in [table.header, *table.rows])


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "utf-16-le", "utf-16-be", "cp1252", "latin-1"]


def encode(draw: st.DrawFn, content: str) -> tuple[bytes, str]:
    """The content in an encoding the importer can tell from the bytes alone (else in UTF-8)."""
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding == "utf-16":
        return content.encode("utf-16"), encoding
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + content.encode("utf-16-be"), encoding
    # Without a byte-order mark UTF-16 is told by the zero high byte of characters below U+0100.
    if encoding in ("utf-16-le", "utf-16-be") and all(ord(char) < 0x100 for char in content):
        return content.encode(encoding), encoding
    if encoding in ("cp1252", "latin-1"):
        try:
            data = content.encode(encoding)
        except UnicodeEncodeError:
            return content.encode(), "utf-8"
        if data.isascii() or not _utf8(data):  # bytes that also read as UTF-8 are taken for it
            return data, encoding
    encoding = encoding if encoding.startswith("utf-8") else "utf-8"
    return content.encode(encoding), encoding


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


JUNK = [b'"', b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\r", b"\n", b",", b";", b"\t", codecs.BOM_UTF8]
JUNK += [codecs.BOM_UTF16_LE, b"=cmd|' /C calc'!A0", b'""', b'"\n"', b"\x1a", b"\\", b"\xff\xfe\x00"]


def spoil_bytes(draw: st.DrawFn, data: bytes, steps: list[str]) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["insert", "delete", "truncate", "overwrite", "repeat", "newlines"]))
        steps.append(f"{how} at byte {where}")
        if how == "insert":
            junk = draw(st.one_of(st.sampled_from(JUNK), st.binary(min_size=1, max_size=8)))
            data = data[:where] + junk + data[where:]
        elif how == "delete":
            data = data[:where] + data[where + draw(st.integers(1, 16)) :]
        elif how == "truncate":
            data = data[:where]
        elif how == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=4))
            data = data[:where] + junk + data[where + len(junk) :]
        elif how == "repeat":
            data = data[:where] + data[where : where + 40] * draw(st.integers(2, 5)) + data[where + 40 :]
        else:
            old, new = draw(st.sampled_from([(b"\n", b"\r"), (b"\r\n", b"\n\r"), (b"\n", b"\n\n"), (b"\n", b"")]))
            data = data.replace(old, new)
    return data


def spoil_table(draw: st.DrawFn, table: Table, delimiter: str, steps: list[str]) -> str | None:
    """Breaks the table's shape; returns a raw line to splice into the written file, if that is the damage."""
    how = draw(st.sampled_from(["blank name", "no header", "long row", "short row", "swap", "quote", "mixed", "open"]))
    steps.append(how)
    column = draw(st.integers(0, len(table.header) - 1))
    row = draw(st.integers(0, len(table.rows) - 1))
    cells = table.rows[row]
    if how == "blank name":
        table.header[column] = draw(st.sampled_from(["", " ", '"']))
    elif how == "no header":
        table.header = table.rows.pop(0) if len(table.rows) > 1 else []
    elif how == "long row":
        table.rows[row] = [*cells, *draw(st.lists(TEXT, min_size=1, max_size=3))]
    elif how == "short row":
        table.rows[row] = cells[: draw(st.integers(0, len(table.header) - 1))]
    elif how == "swap":
        other = draw(st.integers(0, len(cells) - 1))
        cells[column], cells[other] = cells[other], cells[column]
    elif how == "quote":  # a raw quote in the middle of an unquoted value
        value = cells[column]
        at = draw(st.integers(0, len(value)))
        return delimiter.join([*cells[:column], value[:at] + '"' + value[at:], *cells[column + 1 :]])
    elif how == "mixed":
        other = draw(st.sampled_from([d for d in (",", ";", "\t", "|") if d != delimiter]))
        return other.join(cells) if draw(st.booleans()) else other.join(table.header)
    else:
        return '"' + delimiter.join(cells)
    return None


def splice(draw: st.DrawFn, content: str, newline: str, line: str) -> str:
    lines = content.split(newline)
    lines.insert(draw(st.integers(0, len(lines))), line)
    return newline.join(lines)


WHOLE_FILES = [
    b"",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    b"\xef\xbb\xbf\n\n",
    b"   \n\t\n",
    b"\r\r\r",
    b"\x00\x00\x00\x00",
    b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
    b'"',
    b",,,,\n,,,,\n",
    b";;;\n",
]


def whole_file(draw: st.DrawFn, kind: str) -> Csv:
    """Nothing like a CSV file, or a header without rows."""
    if draw(st.booleans()):
        data = draw(st.one_of(st.sampled_from(WHOLE_FILES), st.binary(max_size=300)))
        expect = "refuse" if not data.strip(b"\r\n\t ") or data == codecs.BOM_UTF8 else "either"
        return Csv(kind, data, expect, steps=["not a CSV file"])
    names = ",".join(KINDS[kind].field_names)
    data = draw(st.sampled_from([names, names + "\n", names + "\r\n\r\n", "\ufeff" + names])).encode()
    return Csv(kind, data, "refuse", steps=["a header without rows"])


@st.composite
def csv_files(draw: st.DrawFn, kind: str, max_rows: int = 6, wide: bool = False) -> Csv:
    """A file of `kind`: good, with a known-bad value or shape, spoilt, or nothing like a CSV file; `wide` adds
    10,000 columns."""
    spec = KINDS[kind]
    mode = draw(st.sampled_from(["good", "good", "bad", "spoilt table", "spoilt bytes", "whole file"]))
    if mode == "whole file" and not wide:
        return whole_file(draw, kind)
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    decimal = draw(st.sampled_from([".", ","]))
    fields = [f for f in spec.fields if f.required or (kind == "leads" and f.name in FIXTURE_LEAD_COLUMNS)]
    if kind == "touches":  # a touch needs a lead or an opportunity; a lead per row keeps the keys apart
        fields.append(spec.field("lead_id"))
    others = [f for f in spec.fields if f not in fields]
    fields += draw(st.lists(st.sampled_from(others), unique=True)) if others else []
    fields = draw(st.permutations(fields))
    names = [f.name for f in fields]
    count = draw(st.integers(1, max_rows))
    cells = [[good_cell(draw, f, decimal, row) for f in fields] for row in range(count)]
    if "month" in names:  # spend and targets are keyed by month: one month a row
        for row, line in enumerate(cells):
            month = dt.date(1950 + row // 12, row % 12 + 1, 1)
            line[names.index("month")] = Cell(month.strftime("%Y-%m"), month)
    expected = [{name: c.value for name, c in zip(names, line, strict=True)} for line in cells]
    table = Table(
        [draw(st.sampled_from([name, name.upper(), f" {name} ", name.title()])) for name in names],
        [[c.text for c in line] for line in cells],
    )
    steps = [f"{count} rows, {delimiter!r}-separated, decimal {decimal!r}, columns {names}"]
    # Columns the importer ignores: blank or unknown names (a trailing delimiter is one), a huge cell, 10,000.
    extra = draw(st.lists(st.sampled_from(["", "notes", "Unnamed: 0", "x.1", " "]), max_size=3))
    if draw(st.integers(0, 4)) == 0:
        extra.append("long notes")
    if wide:
        extra += [f"extra_{number}" for number in range(10_000)]
        steps.append("10,000 more columns")
    table.header += extra
    for line in table.rows:
        line += ["y" * draw(st.sampled_from([1, 70_000, 400_000])) if name == "long notes" else "z" for name in extra]
    expect = "import"
    if mode == "bad":
        how = draw(st.sampled_from(["value", "value", "repeated key", "repeated column"]))
        if how == "value" or len(table.rows) == 1:
            at, row = draw(st.integers(0, len(fields) - 1)), draw(st.integers(0, count - 1))
            table.rows[row][at] = bad_cell(draw, fields[at])
            steps.append(f"row {row + 2}, {names[at]}: {table.rows[row][at][:40]!r}")
        elif how == "repeated key":
            for name in spec.key:
                if name in names:
                    table.rows[-1][names.index(name)] = table.rows[0][names.index(name)]
            steps.append("a repeated key")
        else:
            name = draw(st.sampled_from([f.name for f in fields if f.required]))
            table.header.append(name.upper())
            for line in table.rows:
                line.append(line[names.index(name)])
            steps.append(f"the column {name} twice")
        expect = "refuse"
    raw_line = spoil_table(draw, table, delimiter, steps) if mode == "spoilt table" else None
    quote_all = draw(st.booleans())
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    content = write(table, delimiter, quote_all, newline)
    if raw_line is not None:
        content = splice(draw, content, newline, raw_line)
    if draw(st.integers(0, 4)) == 0:
        content = content.replace(newline, newline * 2, 1)  # a blank line after the header is skipped
    data, encoding = encode(draw, content)
    steps.append(f"{encoding}, {'all' if quote_all else 'minimal'} quotes, {newline!r}")
    if mode == "spoilt bytes":
        data = spoil_bytes(draw, data, steps)
    if mode.startswith("spoilt"):
        expect = "either"
    return Csv(kind, data, expect, expected if expect == "import" else [], steps=steps)


# ---------------------------------------------------------------------------------------------------------------
# Mapped files: a CRM export through a saved-style mapping, and the heads of the shipped sample exports

CRM_MAPPING = parse_mapping(CRM_MAPPING_YAML)
CHANNELS = {"Google": "paid_search", "google ads": "paid_search", "GOOGLE  ADS": "paid_search", "Bing": "other"}
CHANNELS |= {"": "unknown", "=cmd": "other"}


@st.composite
def crm_files(draw: st.DrawFn) -> Csv:
    """Renamed columns, a date format, a value map, null markers, a default, a constant, conditions, skips."""
    rows, expected = [], []
    for row in range(draw(st.integers(1, 6))):
        created, changed = (draw(st.datetimes(FIRST, LAST)).replace(second=0, microsecond=0) for _ in range(2))
        channel = draw(st.sampled_from(sorted(CHANNELS)))
        firm = draw(st.one_of(st.sampled_from(["N/A", "select", " n/a ", "", "Acme", "=SUM(A1)"]), TEXT))
        status = draw(st.sampled_from(["Open", "Disqualified", "disqualified ", "Test", "TEST"]))
        reason = draw(st.sampled_from(["too small", "", "@budget", "no fit"]))
        spelled = [created.strftime("%d.%m.%Y %H:%M"), changed.strftime("%d.%m.%Y %H:%M")]
        rows.append([str(row), spelled[0], channel, firm, status, spelled[1], reason, "x"])
        if status.strip().casefold() == "test":
            continue
        rejected = status.strip().casefold() == "disqualified"
        company = lf(firm).strip()
        expected.append(
            {
                "lead_id": str(row),
                "created_at": created,
                "source": CHANNELS[channel],
                "company": "unknown company" if company.casefold() in ("", "n/a", "select") else company,
                "rejected_at": changed if rejected else None,
                "rejection_reason": (reason or None) if rejected else None,
                "country": "DE",
            }
        )
    table = Table(["Lead Id", "Created", "Channel", "Firm", "Status", "Changed", "Reason", "Unused"], rows)
    steps = ["crm mapping"]
    mode = draw(st.sampled_from(["good", "spoilt table", "spoilt bytes"]))
    raw_line = spoil_table(draw, table, ",", steps) if mode == "spoilt table" else None
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    content = write(table, ",", False, newline)
    if raw_line is not None:
        content = splice(draw, content, newline, raw_line)
    data, encoding = encode(draw, content)
    steps.append(encoding)
    if mode == "spoilt bytes":
        data = spoil_bytes(draw, data, steps)
    if mode != "good":
        return Csv("leads", data, "either", mapping=CRM_MAPPING, steps=steps)
    return Csv("leads", data, "import", expected, mapping=CRM_MAPPING, steps=steps)


PRESET_FILES = {
    "hubspot_contacts": ("leads", "hubspot_contacts_export.csv"),
    "salesforce_leads": ("leads", "salesforce_leads_report.csv"),
    "salesforce_opportunities": ("opportunities", "salesforce_opportunities_report.csv"),
}


@st.composite
def preset_files(draw: st.DrawFn) -> Csv:
    """The head of a shipped sample export, read with its preset, and maybe spoilt."""
    preset = draw(st.sampled_from(sorted(PRESET_FILES)))
    kind, file_name = PRESET_FILES[preset]
    lines = (ROOT / "sample_data" / file_name).read_bytes().splitlines(keepends=True)
    count = draw(st.integers(2, 12))
    data, steps = b"".join(lines[:count]), [f"{preset}: {count - 1} rows"]
    spoilt = draw(st.booleans())
    if spoilt:
        data = spoil_bytes(draw, data, steps)
    return Csv(kind, data, "either" if spoilt else "import", mapping=load_preset(preset), steps=steps)


# ---------------------------------------------------------------------------------------------------------------
# The fuzz tests: 420 + 340 + 170 + 50 + 3 files a run on each database, and the regression files below


@fuzz_settings(420)
@given(doc=csv_files("leads"))
def test_hostile_lead_files(db: FuzzDatabase, doc: Csv) -> None:
    attempt(db, doc)


@fuzz_settings(340)
@given(doc=st.sampled_from(["opportunities", "touches", "spend", "targets"]).flatmap(csv_files))
def test_hostile_files_of_the_other_kinds(db: FuzzDatabase, doc: Csv) -> None:
    attempt(db, doc)


# A second or so each (pandas pays per column), hence a few on their own rather than a share of the others.
@fuzz_settings(3)
@given(doc=st.sampled_from(sorted(KINDS)).flatmap(lambda kind: csv_files(kind, max_rows=2, wide=True)))
def test_hostile_files_of_10_000_columns(db: FuzzDatabase, doc: Csv) -> None:
    attempt(db, doc)


@fuzz_settings(170)
@given(doc=st.one_of(crm_files(), preset_files()))
def test_hostile_files_through_a_mapping(db: FuzzDatabase, doc: Csv) -> None:
    attempt(db, doc)


@fuzz_settings(50)
@given(doc=csv_files("leads", max_rows=4))
def test_hostile_uploads_to_the_sandbox(db: FuzzDatabase, doc: Csv) -> None:
    """The sandbox reads an upload with the same importer into a private trial; a SandboxError (no rows to try)
    is its documented refusal."""
    FILES_TRIED[db.backend] += 1
    before = db.state()
    try:
        trial = upload_trial(db.engine, TESTER, "fuzz", doc.handle(), file_name=doc.name)
    except ImportRefused as refused:
        check_report(refused, doc.name)
        problem: Exception = refused
    except SandboxError as refused:
        problem = refused
    else:
        assert doc.expect != "refuse", doc
        assert doc.expect != "import" or trial.rows == len(doc.rows)
        delete_trial(db.engine, TESTER, trial.id)
        return
    assert doc.expect != "import", f"a good file was refused: {problem}"
    assert db.state() == before


# ---------------------------------------------------------------------------------------------------------------
# What the fuzzing found, as plain regression tests: the file, and a phrase of its refusal (None: it imports)

HEADER = "lead_id,created_at,source,company,company_size,score,mql_at\n"
GOOD = "A1,2025-01-01,web,Acme,10,5,"
WIDE = ",".join(f"column_{number:06d}" for number in range(8_000))
FOUND: list[tuple[str, str, str | bytes, str | None]] = [
    ("unclosed quote", "leads", HEADER + 'A1,2025-01-01,web,"Acme,10,5,\n', "row 2: a quote opened in this row"),
    ("unclosed quote in the header", "leads", 'lead_id,created_at,source,"notes\nA1,2025-01-01,web,x\n', "row 1: "),
    ("NUL in a text", "leads", HEADER + "A1,2025-01-01,web,Ac\x00me,10,5,\n", "expected text without NUL"),
    ("NUL in a key", "touches", "lead_id,touched_at,channel\nL\x001,2025-01-01,web\n", "expected text without NUL"),
    ("year 0", "leads", HEADER + "A1,0000-01-01,web,Acme,10,5,\n", "'0000-01-01' is not valid, expected a date"),
    ("year 1", "leads", HEADER + "A1,0001-01-01,web,Acme,10,5,\n", "from 1900 to 2199"),
    ("year 1677", "leads", HEADER + "A1,1677-01-01,web,Acme,10,5,\n", "from 1900 to 2199"),
    ("year 2262", "leads", HEADER + "A1,2262-12-31,web,Acme,10,5,\n", "from 1900 to 2199"),
    ("an SLA past year 9999", "leads", HEADER + GOOD + "9999-12-31T23:59:59Z\n", "from 1900 to 2199"),
    ("an offset back to year 0", "leads", HEADER + GOOD + "0001-01-01T00:00:00+05:00\n", "from 1900 to 2199"),
    ("month 0", "spend", "month,channel,amount\n0000-01,web,1\n", "expected a month from 1900 to 2199"),
    ("1e10 employees", "leads", HEADER + "A1,2025-01-01,web,Acme,1e10,5,\n", "from 0 to 2,147,483,647"),
    ("2**63 employees", "leads", HEADER + "A1,2025-01-01,web,Acme,9223372036854775808,5,\n", "to 2,147,483,647"),
    ("1e19 employees", "leads", HEADER + "A1,2025-01-01,web,Acme,1e19,5,\n", "from 0 to 2,147,483,647"),
    ("an amount of 1e309", "opportunities", "opportunity_id,created_at,amount\nO1,2025-01-01,1e309\n", "'1e309'"),
    ("a target of inf", "targets", "month,metric,value\n2025-01,mqls,inf\n", "'inf' is not valid"),
    ("a column twice", "leads", "lead_id,created_at,Source,source\nA1,2025-01-01,web,x\n", "2 columns named"),
    ("CR line ends", "leads", (HEADER + GOOD + "\n").replace("\n", "\r"), None),
    ("spaces around names", "leads", " lead_id , created_at ,source\nA1,2025-01-01,web\n", None),
    ("UTF-16 with a BOM", "leads", (HEADER + GOOD + "\n").encode("utf-16"), None),
    ("UTF-16 without a BOM", "leads", (HEADER + GOOD + "\n").encode("utf-16-le"), None),
    ("UTF-16 cut short", "leads", (HEADER + GOOD + "\n").encode("utf-16") + b"\x00", "are not utf-16"),
    ("a header past 64 KB", "leads", f"{WIDE},lead_id,created_at,source\n{'x,' * 8_000}A1,2025-01-01,web\n", None),
    ("only a header", "leads", HEADER.strip(), "header but no data rows"),
    ("a 200 KB name", "leads", f"lead_id,{'y' * 200_000},created_at\nA1,x,2025-01-01\n", "row 1: the header row could"),
]


@pytest.mark.parametrize(("kind", "content", "phrase"), [case[1:] for case in FOUND], ids=[case[0] for case in FOUND])
def test_what_the_fuzzing_found(db: FuzzDatabase, kind: str, content: str | bytes, phrase: str | None) -> None:
    data = content if isinstance(content, bytes) else content.encode()
    outcome = attempt(db, Csv(kind, data, "import" if phrase is None else "refuse"))
    if phrase is not None:
        assert isinstance(outcome, ImportRefused)
        assert phrase in outcome.report()


def test_a_mac_file_keeps_its_columns(db: FuzzDatabase) -> None:
    """Lines ending in a lone CR, a blank line, then a row whose first value is empty: pandas read it one column
    to the left (company A1, lead_id 2025-01-02, ...)."""
    content = b"company,lead_id,created_at,source\r\r,A1,2025-01-02,web\rAcme,A2,2025-01-03,\r"
    rows = [
        {"lead_id": "A1", "company": None, "created_at": dt.datetime(2025, 1, 2), "source": "web"},
        {"lead_id": "A2", "company": "Acme", "created_at": dt.datetime(2025, 1, 3), "source": "unknown"},
    ]
    assert isinstance(attempt(db, Csv("leads", content, "import", rows)), ImportResult)


def test_offsets_the_pattern_missed_are_exact(db: FuzzDatabase) -> None:
    """ISO 8601 allows +hh alone; pandas read such a value as aware where the importer expected a naive one, and
    crashed (TypeError alone, ValueError "Mixed timezones" beside naive values)."""
    content = (
        b"lead_id,created_at,source\nA1,2025-01-01T10:00:00-01,web\nA2,2025-01-02,web\n"
        b"A3,1994-03-19T09:54:2-23,web\nA4,2025-01-01T10+01,web\nA5,2025-01-01 10:00:00.5Z,web\n"
    )
    moments = [
        (2025, 1, 1, 11),
        (2025, 1, 2, 0),
        (1994, 3, 20, 8, 54, 2),
        (2025, 1, 1, 9),
        (2025, 1, 1, 10, 0, 0, 500_000),
    ]
    rows = [
        {"lead_id": f"A{number}", "created_at": dt.datetime(*moment)} for number, moment in enumerate(moments, start=1)
    ]
    assert isinstance(attempt(db, Csv("leads", content, "import", rows)), ImportResult)
    # What the pattern still misses is not a date (reported), never an exception.
    values = pd.Series(["2025-01-01", "2025-01-01T10:00:00+0100", "junk"], dtype="str")
    assert parsing._without_offset(values, "ISO8601").isna().tolist() == [False, True, True]


def test_a_time_the_clock_change_repeats_is_a_time(db: FuzzDatabase) -> None:
    """02:30 on 26 October 2025 happens twice in Berlin (read as the first, summer time); it was refused as not
    a date. 02:30 on 30 March never happens and is read as 03:00."""
    with session_scope(db.engine) as session:
        save(session, {"timezone": "Europe/Berlin"}, actor=TESTER)
    try:
        content = b"lead_id,created_at,source\nA1,2025-10-26 02:30,web\nA2,2025-03-30 02:30,web\n"
        result = import_csv(db.engine, "leads", Csv("leads", content, "import").handle(), actor=TESTER)
        assert result.inserted == 2
        with db.engine.connect() as connection:
            query = select(Lead.lead_id, Lead.created_at).where(Lead.lead_id.like("A%"))
            stamps = {row.lead_id: row.created_at for row in connection.execute(query)}
        assert stamps == {"A1": dt.datetime(2025, 10, 26, 0, 30), "A2": dt.datetime(2025, 3, 30, 1, 0)}
    finally:
        db.reseed()


# ---------------------------------------------------------------------------------------------------------------
# Size and memory: a cap before anything is read, the file read in pieces, rows parsed in bounded chunks


class SpyUpload(io.BytesIO):
    """An upload that records how it is read; copying it whole (getvalue) fails."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.name = "spy.csv"
        self.reads: list[int] = []

    def read(self, size: int | None = -1, /) -> bytes:
        block = super().read(size)
        self.reads.append(len(block))
        return block

    def getvalue(self) -> bytes:
        raise AssertionError("the importer copied the whole upload")


def test_the_cap_is_streamlits_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONEFUNNEL_MAX_UPLOAD_MB", raising=False)
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == reading.MAX_UPLOAD_MB
    assert max_upload_bytes() == reading.MAX_UPLOAD_MB * MIB
    monkeypatch.setenv("ONEFUNNEL_MAX_UPLOAD_MB", "1.5")
    assert max_upload_bytes() == int(1.5 * MIB)
    for wrong in ("lots", "0", "-1", "nan"):
        monkeypatch.setenv("ONEFUNNEL_MAX_UPLOAD_MB", wrong)
        with pytest.raises(ConfigError, match="ONEFUNNEL_MAX_UPLOAD_MB"):
            max_upload_bytes()


def test_a_file_over_the_cap_is_refused_before_it_is_read(db: FuzzDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEFUNNEL_MAX_UPLOAD_MB", "1")
    rows = "".join(f"B{number:05d},2025-01-02,web,Acme,10,5,\n" for number in range(50_000))
    upload = SpyUpload((HEADER + rows).encode())
    size = len(upload.getbuffer())
    assert 1.5 * MIB < size < 1.6 * MIB
    before = db.state()
    for call in (
        lambda: import_csv(db.engine, "leads", upload, actor=TESTER),
        lambda: import_csv(db.engine, "leads", upload, actor=TESTER, dry_run=True),
        lambda: upload_trial(db.engine, TESTER, "too big", upload),
        lambda: read_header(upload),
        lambda: preview(db.engine, "leads", upload),
    ):
        with pytest.raises(ImportRefused) as caught:
            call()
        assert str(caught.value.problems[0]) == "file: the file is 1.6 MB; the limit is 1 MB"
        assert "spy.csv was not imported (1 problem; nothing was changed)" in caught.value.report()
    assert upload.reads == [], "the size is known without reading the file"
    assert db.state() == before
    monkeypatch.setenv("ONEFUNNEL_MAX_UPLOAD_MB", "2")
    result = import_csv(db.engine, "leads", upload, actor=TESTER)
    assert result.inserted == 50_000
    db.undo("leads", result)


def test_an_upload_is_read_in_pieces_and_parsed_in_bounded_chunks(
    db: FuzzDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 columns: the bytes are read at most a megabyte at a time, the rows a few hundred at a time."""
    shapes: list[tuple[int, int]] = []
    validate = validation.ChunkValidator.validate

    def spy(self: Any, chunk: pd.DataFrame, first_row: int) -> pd.DataFrame | None:
        shapes.append(chunk.shape)
        return validate(self, chunk, first_row)

    monkeypatch.setattr(validation.ChunkValidator, "validate", spy)
    header = "lead_id,created_at,source," + ",".join(f"c{number}" for number in range(10_000)) + "\n"
    row = ",2025-01-02,web," + ",".join(["v"] * 10_000) + "\n"
    upload = SpyUpload((header + "".join(f"W{number}{row}" for number in range(250))).encode())
    result = import_csv(db.engine, "leads", upload, actor=TESTER)
    assert (result.inserted, sum(rows for rows, _ in shapes)) == (250, 250)
    assert max(upload.reads) <= MIB
    assert len(shapes) > 1 and all(rows * columns <= reading.MAX_CHUNK_CELLS for rows, columns in shapes)
    db.undo("leads", result)


@pytest.mark.parametrize("megabytes", [1, 5])
def test_a_huge_cell(db: FuzzDatabase, megabytes: int) -> None:
    huge, header = "x" * (megabytes * MIB), "lead_id,created_at,source,company,notes\n"
    unused = Csv("leads", f"{header}A1,2025-01-02,web,Acme,{huge}\n".encode(), "import")
    assert isinstance(attempt(db, unused), ImportResult)
    for line, column in ((f"A1,2025-01-02,web,{huge},n", "company"), (f"{huge},2025-01-02,web,Acme,n", "lead_id")):
        refused = attempt(db, Csv("leads", f"{header}{line}\n".encode(), "refuse"))
        assert isinstance(refused, ImportRefused)
        shown = rf"row 2, column '{column}': 'x{{57}}\.\.\.' is not valid, expected text of at most"
        assert re.search(shown, refused.report())


def test_an_export_quotes_a_carriage_return() -> None:
    exported = to_safe_csv(pd.DataFrame({"note": ["ok\r=1+1"], "n": [1]})).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(exported, newline=""))) == [["note", "n"], ["ok\r=1+1", "1"]]


def test_at_least_a_thousand_files_a_run(fuzz_db: FuzzDatabase) -> None:
    """Last in the module, so after the tests above on the same database: they tried MIN_FILES files or more."""
    if not FILES_TRIED[fuzz_db.backend]:
        pytest.skip("the fuzz tests did not run in this session")
    assert FILES_TRIED[fuzz_db.backend] >= MIN_FILES
