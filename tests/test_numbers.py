"""Numbers as exported: one rule per file, guessed from the whole file or set in the mapping; a value the rule
cannot read, or that two conventions read differently with nothing to decide, is refused naming both readings."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from core.imports import numbers
from core.imports.mapping import parse_mapping
from core.imports.preview import preview
from core.imports.runs import ImportRefused, import_csv
from core.models import Opportunity, Spend
from tests.conftest import TESTER, csv_file, snapshot


def texts(*values: str) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def test_votes_count_values_only_one_convention_reads() -> None:
    point_only, comma_only = numbers.votes(texts("2.500,75", "12.345,67", "1234,50", "1.234", "7", ""), whole=False)
    assert (point_only, comma_only) == (0, 3)  # 1.234 reads both ways, 7 either way: no vote
    assert numbers.votes(texts("1,234.5", "0.125", "1.5", "1.234"), whole=False) == (3, 0)
    # A count cannot be 1.2, so "1,200" employees can only be twelve hundred with a thousands comma.
    assert numbers.votes(texts("1,200"), whole=True) == (1, 0)
    assert numbers.votes(texts("1.200"), whole=True) == (0, 1)


def test_guess_follows_the_votes_and_falls_back_on_the_delimiter() -> None:
    assert numbers.guessed(0, 5, ",").decimal == ","
    assert numbers.guessed(5, 1, ";").decimal == "."
    assert numbers.guessed(0, 0, ";").decimal == ","
    assert numbers.guessed(0, 0, ",").decimal == "."
    assert not numbers.guessed(0, 0, ",").decided


def read(values: list[str], rule: numbers.NumberFormat, whole: bool = False) -> numbers.Reading:
    return numbers.read(pd.Series(values, dtype="str"), rule, whole=whole)


def test_a_decided_comma_rule_reads_european_amounts() -> None:
    rule = numbers.guessed(0, 3, ";")
    reading = read(["2.500,75", "12.345,67", "1.234", "1234,50", "€ 10 000,00", "1 234,5", "1.234.567,89", ""], rule)
    assert reading.numbers.tolist()[:7] == [2500.75, 12345.67, 1234.0, 1234.5, 10000.0, 1234.5, 1234567.89]
    assert pd.isna(reading.numbers.iloc[7])
    assert not reading.ambiguous.any() and not reading.other_rule.any() and not reading.unreadable.any()


def test_a_value_only_the_other_rule_reads_is_not_stored() -> None:
    reading = read(["1,5", "10.50"], numbers.guessed(1, 0, ","))
    assert pd.isna(reading.numbers.iloc[0]) and reading.other_rule[0]
    assert reading.other.iloc[0] == 1.5
    assert reading.numbers.iloc[1] == 10.5


def test_an_undecided_rule_refuses_what_reads_two_ways() -> None:
    reading = read(["1.234", "1,234", "42", "12.5"], numbers.guessed(0, 0, ","))
    assert reading.ambiguous.tolist() == [True, True, False, False]
    assert reading.other.iloc[0] == 1234.0 and reading.other.iloc[1] == 1.234
    declared = read(["1.234", "1,234"], numbers.declared(","))
    assert declared.numbers.tolist() == [1234.0, 1.234]
    assert not declared.ambiguous.any()


def test_a_declared_rule_without_grouping() -> None:
    reading = read(["1.234", "1,234"], numbers.declared(".", ""))
    assert reading.numbers.iloc[0] == 1.234
    assert pd.isna(reading.numbers.iloc[1]) and reading.other_rule[1]


OPPORTUNITIES = "opportunity_id;created_at;amount\n"


def amounts(engine: Engine) -> dict[str, float]:
    with engine.connect() as connection:
        return dict(connection.execute(select(Opportunity.opportunity_id, Opportunity.amount)).all())


def test_semicolon_file_with_european_amounts_is_stored_right(engine: Engine) -> None:
    rows = ["O1;2026-01-05;2.500,75", "O2;2026-01-06;12.345,67", "O3;2026-01-07;1.234", "O4;2026-01-08;1234,50"]
    result = import_csv(engine, "opportunities", csv_file(OPPORTUNITIES + "\n".join(rows) + "\n"), actor=TESTER)
    assert amounts(engine) == {"O1": 2500.75, "O2": 12345.67, "O3": 1234.0, "O4": 1234.5}
    assert "decimal comma, thousands point; guessed from 3 values" in result.summary()


def test_comma_file_with_a_quoted_decimal_comma(engine: Engine) -> None:
    body = 'opportunity_id,created_at,amount\nO1,2026-01-05,"1,5"\nO2,2026-01-06,"2,25"\n'
    import_csv(engine, "opportunities", csv_file(body), actor=TESTER)
    assert amounts(engine) == {"O1": 1.5, "O2": 2.25}


def test_mixed_conventions_are_refused_with_both_readings(engine: Engine) -> None:
    body = 'opportunity_id,created_at,amount\nO1,2026-01-05,10.50\nO2,2026-01-06,99.99\nO3,2026-01-07,"1,5"\n'
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, "opportunities", csv_file(body), actor=TESTER)
    [problem] = caught.value.problems
    assert (problem.row, problem.column, problem.value) == (4, "amount", "1,5")
    assert "decimal point" in problem.expected and "would read 1.5" in problem.expected
    assert snapshot(engine) == before


def test_spend_overwrite_in_european_format_is_not_a_hundredth(engine: Engine) -> None:
    import_csv(engine, "spend", csv_file("month,channel,amount\n2026-01,webinar,12345.67\n"), actor=TESTER)
    import_csv(engine, "spend", csv_file("month;channel;amount\n2026-01;webinar;12.345,67\n"), actor=TESTER)
    with engine.connect() as connection:
        assert connection.execute(select(Spend.amount)).scalar_one() == 12345.67


def test_nothing_decides_so_an_ambiguous_amount_is_refused_until_the_mapping_says(engine: Engine) -> None:
    body = "opportunity_id;created_at;amount\nO1;2026-01-05;1.234\nO2;2026-01-06;500\n"
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, "opportunities", csv_file(body), actor=TESTER)
    [problem] = caught.value.problems
    assert problem.row == 2 and "it is 1234 with a decimal comma and 1.234 with a decimal point" in problem.expected
    assert "decimal_separator" in problem.expected
    mapping = parse_mapping(
        {
            "name": "euro",
            "kind": "opportunities",
            "decimal_separator": ",",
            "fields": {name: {"column": name} for name in ("opportunity_id", "created_at", "amount")},
        }
    )
    import_csv(engine, "opportunities", csv_file(body), actor=TESTER, mapping=mapping)
    assert amounts(engine) == {"O1": 1234.0, "O2": 500.0}


def test_preview_shows_the_rule(engine: Engine) -> None:
    shown = preview(engine, "opportunities", csv_file(OPPORTUNITIES + "O1;2026-01-05;2.500,75\n"))
    assert shown.number_format is not None and shown.number_format.decimal == ","
    assert shown.mapped["amount"].tolist() == [2500.75]


def workbook_bytes(rows: list[list[object]], sheets: tuple[str, ...] = ("Deals",)) -> io.BytesIO:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["exported by the CRM"])
    for name in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    handle = io.BytesIO()
    book.save(handle)
    handle.seek(0)
    handle.name = "deals.xlsx"
    return handle


def test_an_xlsx_export_imports_like_its_csv(engine: Engine) -> None:
    rows: list[list[object]] = [
        ["opportunity_id", "created_at", "amount", "is_won"],
        ["O1", dt.datetime(2026, 1, 5, 9, 30), 2500.75, True],
        ["O2", dt.date(2026, 1, 6), 1234, False],
        [None, None, None, None],
        ["O3", "2026-01-07", "12.345,67", None],
    ]
    # The workbook's number cells vote for a decimal point, so a text cell in the other convention is refused.
    with pytest.raises(ImportRefused, match=re.escape("would read 12345.67")):
        import_csv(engine, "opportunities", workbook_bytes(rows), actor=TESTER, sheet="Deals")
    rows[4][2] = 12345.67
    result = import_csv(engine, "opportunities", workbook_bytes(rows), actor=TESTER, sheet="Deals")
    assert result.inserted == 3
    assert amounts(engine) == {"O1": 2500.75, "O2": 1234.0, "O3": 12345.67}
    csv_text = "opportunity_id,created_at,amount,is_won\nO1,2026-01-05 09:30:00,2500.75,true\n"
    csv_text += "O2,2026-01-06,1234,false\nO3,2026-01-07,12345.67,\n"
    again = import_csv(engine, "opportunities", csv_file(csv_text), actor=TESTER)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)  # the CSV of the same sheet


def test_a_missing_sheet_and_other_binary_files_are_refused(engine: Engine) -> None:
    with pytest.raises(ImportRefused, match="no sheet 'Leads'; its sheets are 'Notes', 'Deals'"):
        import_csv(engine, "opportunities", workbook_bytes([["x"]]), actor=TESTER, sheet="Leads")
    for data, said in [
        (b"%PDF-1.7\n...", "a PDF document, not a CSV or Excel file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel 97–2003 workbook (.xls)"),
        (b"PK\x03\x04" + b"\x00" * 100, "ZIP archive, not a CSV or Excel file"),
        (b"\x1f\x8b\x08\x00broken", "could not be unpacked"),
    ]:
        handle = io.BytesIO(data)
        handle.name = "export.bin"
        with pytest.raises(ImportRefused, match=re.escape(said)):
            import_csv(engine, "leads", handle, actor=TESTER)


def test_a_gzip_compressed_csv_imports_like_the_csv(engine: Engine) -> None:
    body = "opportunity_id,created_at,amount\nO1,2026-01-05,100.5\n"
    handle = io.BytesIO(gzip.compress(body.encode()))
    handle.name = "deals.csv.gz"
    result = import_csv(engine, "opportunities", handle, actor=TESTER)
    assert result.inserted == 1 and amounts(engine) == {"O1": 100.5}
