"""Imports: every kind of bad file is refused whole with a clear report; good files upsert."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, text

from core.exports import to_safe_csv
from core.imports.mapping import parse_mapping
from core.imports.preview import preview
from core.imports.problems import MAX_PROBLEMS
from core.imports.runs import ImportRefused, import_csv
from core.models import AuditEntry, ImportRun, Lead, Opportunity
from core.permissions import Actor, PermissionDenied
from tests.conftest import TESTER, csv_file, snapshot
from tests.fixtures import CRM_MAPPING_YAML, LEADS

HEADER = "lead_id,created_at,source,company,score,mql_at\n"


def leads_file(rows: list[str], header: str = HEADER, **kwargs: str) -> io.BytesIO:
    return csv_file(header + "\n".join(rows) + "\n", **kwargs)


def refused(engine: Engine, handle: io.BytesIO, kind: str = "leads", **kwargs: object) -> ImportRefused:
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, kind, handle, actor=TESTER, **kwargs)  # type: ignore[arg-type]
    assert snapshot(engine) == before, "a refused import must change nothing"
    return caught.value


def lead_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [
            tuple(r) for r in connection.execute(select(Lead.lead_id, Lead.company, Lead.score).order_by(Lead.lead_id))
        ]


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """Refusals must leave existing data alone, so start from some."""
    import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    return engine


def test_missing_required_column(seeded: Engine) -> None:
    error = refused(seeded, csv_file("lead_id,source\nX1,web\n", "no_dates.csv"))
    assert "missing required column 'created_at'" in error.report()
    assert "no_dates.csv was not imported" in error.report()
    assert error.problems[0].row == 1


def test_bad_date_names_row_column_value_and_expectation(seeded: Engine) -> None:
    error = refused(seeded, leads_file(["X1,2025-01-02,web,Acme,10,", "X2,31/02/2025,web,Beta,20,"]))
    [problem] = error.problems
    assert (problem.row, problem.column, problem.value) == (3, "created_at", "31/02/2025")
    assert "expected a date or date-time" in str(problem)


def test_duplicate_key_inside_the_file(seeded: Engine) -> None:
    error = refused(
        seeded, leads_file(["X1,2025-01-02,web,Acme,10,", "X2,2025-01-02,web,B,1,", "X1,2025-01-03,web,C,2,"])
    )
    [problem] = error.problems
    assert (problem.row, problem.value) == (4, "X1")
    assert "row 2 has the same lead_id" in problem.expected


def test_duplicate_keys_across_chunks_are_counted_with_other_problems(seeded: Engine) -> None:
    rows = ["X1,2025-01-02,web,A,1,", "X2,not a date,web,B,1,", "X3,2025-01-02,web,C,1,", "X1,2025-01-03,web,D,1,"]
    rows += ["X3,2025-01-04,web,E,1,", "X1,2025-01-05,web,F,1,"]
    error = refused(seeded, leads_file(rows), chunk_rows=2)
    assert error.total == 4  # one bad date, three repeated keys
    duplicates = sorted((p.row, p.value, p.expected.split(";")[1].strip()) for p in error.problems if p.row != 3)
    assert duplicates == [
        (5, "X1", "row 2 has the same lead_id"),
        (6, "X3", "row 4 has the same lead_id"),
        (7, "X1", "row 2 has the same lead_id"),
    ]


def test_wrong_delimiter_is_explained(seeded: Engine) -> None:
    error = refused(seeded, csv_file("lead_id|created_at|source\nX1|2025-01-02|web\n"))
    assert "single column" in error.report()
    assert "comma, semicolon or tab" in error.report()


def test_semicolon_and_tab_files_are_sniffed(engine: Engine) -> None:
    semicolon = 'lead_id;created_at;source;company;score\nX1;2025-01-02;web;"Acme; Inc";10\n'
    result = import_csv(engine, "leads", csv_file(semicolon), actor=TESTER)
    assert (result.delimiter, result.inserted) == (";", 1)
    tab = "lead_id\tcreated_at\tsource\tcompany\tscore\nX2\t2025-01-02\tweb\tBeta\t20\n"
    assert import_csv(engine, "leads", csv_file(tab), actor=TESTER).delimiter == "\t"
    assert lead_rows(engine) == [("X1", "Acme; Inc", 10), ("X2", "Beta", 20)]


def test_utf8_bom_is_not_part_of_the_first_column(engine: Engine) -> None:
    result = import_csv(engine, "leads", csv_file("\ufeff" + HEADER + "X1,2025-01-02,web,Åkerlund,5,\n"), actor=TESTER)
    assert result.encoding == "utf-8-sig"
    assert lead_rows(engine) == [("X1", "Åkerlund", 5)]


def test_latin1_and_cp1252_files(engine: Engine) -> None:
    result = import_csv(
        engine, "leads", leads_file(["X1,2025-01-02,web,Müller GmbH – Köln,5,"], encoding="cp1252"), actor=TESTER
    )
    assert result.encoding == "cp1252"
    # 0x81 is undefined in cp1252, so this can only be latin-1.
    raw = (HEADER + "X2,2025-01-02,web,Caf\xe9 \x81,6,\n").encode("latin-1")
    result = import_csv(engine, "leads", io.BytesIO(raw), actor=TESTER, file_name="old.csv")
    assert result.encoding == "latin-1"
    assert lead_rows(engine) == [("X1", "Müller GmbH – Köln", 5), ("X2", "Café \x81", 6)]


def test_formula_looking_cells(engine: Engine) -> None:
    # In a text column a formula is just text: stored verbatim, neutralised on export.
    import_csv(engine, "leads", leads_file(['X1,2025-01-02,web,"=HYPERLINK(""http://evil"")",5,']), actor=TESTER)
    assert lead_rows(engine) == [("X1", '=HYPERLINK("http://evil")', 5)]
    exported = to_safe_csv(pd.DataFrame({"company": ['=HYPERLINK("http://evil")', "-2+3", "Acme"], "n": [-1, 2, 3]}))
    lines = exported.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("\"'=HYPERLINK") and lines[2].startswith("'-2+3") and lines[3] == "Acme,3"
    assert lines[1].endswith(",-1")  # numbers stay numbers
    # In a number column it is refused like any other non-number.
    error = refused(engine, leads_file(["X2,2025-01-02,web,Beta,=1+1,"]))
    assert "'=1+1' is not valid, expected a whole number from 0 to 100" in error.report()


def test_empty_and_header_only_files(seeded: Engine) -> None:
    assert "the file is empty" in refused(seeded, csv_file("")).report()
    assert "the file is empty" in refused(seeded, csv_file("\ufeff\n\n")).report()
    assert "header but no data rows" in refused(seeded, csv_file(HEADER)).report()


def test_ragged_row(seeded: Engine) -> None:
    error = refused(seeded, leads_file(["X1,2025-01-02,web,Acme,10,", "X2,2025-01-02,web,Acme,Inc,10,"]))
    assert error.problems[0].row == 3
    assert "7 fields where the header has 6" in error.report()


def test_report_lists_the_first_50_problems_and_the_total(seeded: Engine) -> None:
    rows = [f"X{i},not-a-date,web,Acme,1," for i in range(120)]
    error = refused(seeded, leads_file(rows))
    assert len(error.problems) == MAX_PROBLEMS
    assert error.total == 120
    assert "... and 70 more" in error.report()


def test_out_of_range_and_unknown_choice(seeded: Engine) -> None:
    error = refused(seeded, csv_file("lead_id,created_at,source,score,seniority\nX1,2025-01-02,web,101,boss\n"))
    messages = [str(p) for p in error.problems]
    assert any("'101' is not valid, expected a whole number from 0 to 100" in m for m in messages)
    assert any("'boss' is not valid, expected one of ic, manager, director, vp, cxo" in m for m in messages)


def test_reimport_changes_nothing_and_an_edit_is_one_update(engine: Engine) -> None:
    first = import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    assert (first.inserted, first.updated, first.unchanged) == (8, 0, 0)
    before = snapshot(engine)["leads"]
    again = import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)
    assert snapshot(engine)["leads"] == before
    edited = import_csv(engine, "leads", csv_file(LEADS.replace("Acme,120", "Acme,150"), "leads.csv"), actor=TESTER)
    assert (edited.inserted, edited.updated, edited.unchanged) == (0, 1, 7)
    with engine.connect() as connection:
        assert connection.execute(select(Lead.company_size).where(Lead.lead_id == "L1")).scalar_one() == 150
        runs = connection.execute(
            select(ImportRun.inserted, ImportRun.updated, ImportRun.unchanged).order_by(ImportRun.id)
        ).all()
        assert [tuple(r) for r in runs] == [(8, 0, 0), (0, 0, 8), (0, 1, 7)]
        assert (
            connection.execute(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import")
            ).scalar()
            == 3
        )


def test_bad_row_after_good_chunks_leaves_nothing(seeded: Engine) -> None:
    rows = [f"X{i},2025-01-02,web,Acme,1," for i in range(250)]
    rows[200] = "X200,2025-01-02,web,Acme,1000,"
    error = refused(seeded, leads_file(rows), chunk_rows=50)
    assert error.problems[0].row == 202


def test_failure_while_writing_rolls_everything_back(seeded: Engine) -> None:
    rows = [f"X{i},2025-01-02,web,Acme,1," for i in range(250)]
    before = snapshot(seeded)
    calls = []

    def explode(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 3:  # after two chunks were staged
            raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError):
        import_csv(seeded, "leads", leads_file(rows), actor=TESTER, chunk_rows=50, progress=explode)
    assert snapshot(seeded) == before


def test_progress_and_dry_run(seeded: Engine) -> None:
    rows = [f"X{i},2025-01-02,web,Acme,1," for i in range(250)]
    seen: list[float] = []
    before = snapshot(seeded)
    result = import_csv(
        seeded,
        "leads",
        leads_file(rows),
        actor=TESTER,
        chunk_rows=100,
        dry_run=True,
        progress=lambda f, _m: seen.append(f),
    )
    assert (result.dry_run, result.inserted) == (True, 250)
    assert snapshot(seeded) == before
    assert seen == sorted(seen) and len(seen) >= 3
    import_csv(seeded, "leads", leads_file(rows), actor=TESTER, progress=lambda f, _m: seen.append(f))
    assert seen[-1] == 1.0


def test_timestamps_without_offset_are_local_with_offset_exact(engine: Engine) -> None:
    from core.admin.settings import save
    from core.db import session_scope

    with session_scope(engine) as session:
        save(session, {"timezone": "Europe/Berlin"}, actor=TESTER)
    import_csv(
        engine,
        "leads",
        csv_file("lead_id,created_at,source\nA,2025-07-01 10:00,web\nB,2025-07-01T10:00:00Z,web\n"),
        actor=TESTER,
    )
    with engine.connect() as connection:
        stamps = dict(connection.execute(select(Lead.lead_id, Lead.created_at)).all())
    assert str(stamps["A"]) == "2025-07-01 08:00:00"  # 10:00 in Berlin (CEST) is 08:00 UTC
    assert str(stamps["B"]) == "2025-07-01 10:00:00"


def test_the_offset_prefilter_finds_every_offset_the_pattern_finds() -> None:
    """The import matches the offset pattern only on values with a sign or Z near their end; on every shape of
    date and time, with every kind of ending, it finds exactly what the pattern alone finds."""
    from core.imports.parsing import _OFFSET, _ends_in_offset

    stems = ["2025-03-04", "20250304", "04/03/2025", "2025-03-04 10:11", "2025-03-04T10:11:12", "20250304T101112",
             "2025-03-04 10:11:12.123456", "10:11"]  # fmt: skip
    endings = ["", "Z", "z", "+02:00", "-0530", "+2", " +02", "-05", "\n", "+02:00\n", " -5", " ", "abc", "+02:00 "]
    values = pd.Series([stem + ending for stem in stems for ending in endings] + ["Z", "+", "-0100", ""], dtype="str")
    expected = values.str.contains(_OFFSET, na=False).to_numpy()
    assert expected.sum() > 40 and (~expected).sum() > 40  # both kinds are in the grid
    assert (_ends_in_offset(values) == expected).all()


def test_the_fast_casefold_folds_as_python_does() -> None:
    from core.text import casefold

    words = ["MiXeD", "Straße", "İstanbul", "ǅungla", "ΣΊΣΥΦΟΣ", "ﬁne", "", "n/a", "N/A", "Ⅻ", "ÅNGSTRÖM", "plain"]
    values = pd.Series([*words, None], dtype="str")
    expected = values.str.casefold()
    pd.testing.assert_series_equal(casefold(values), expected)
    assert casefold(values).iloc[1] == "strasse"  # the non-ASCII values are folded, not only lowered


# A CRM export's mapping with every feature: alternative column names, a date format, null words, skipped rows,
# value maps, defaults, conditions and a constant (the fuzz tests use it too).


def test_mapping_with_conditions_value_maps_constants_and_skips(engine: Engine) -> None:
    mapping = parse_mapping(CRM_MAPPING_YAML)
    content = (
        "Lead Id,Created,Channel,Firm,Status,Changed,Reason,Unused\n"
        "1,01.03.2025 09:00,Google,Acme,Disqualified,05.03.2025 10:00,too small,x\n"
        "2,02.03.2025 09:00,GOOGLE  ADS,N/A,Open,06.03.2025 10:00,stale,x\n"
        "3,03.03.2025 09:00,Fax,Select,Test,,,x\n"
        "4,04.03.2025 09:00,Bing,Beta,Open,,,x\n"
    )
    result = import_csv(engine, "leads", csv_file(content), mapping=mapping, actor=TESTER)
    assert (result.rows_read, result.rows_skipped, result.inserted) == (4, 1, 3)
    assert result.skipped_reasons == {"test records": 1}
    assert any("Unused" in note for note in result.notes)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT lead_id, source, company, rejected_at, rejection_reason, country FROM leads ORDER BY lead_id")
        ).all()
    assert [(r[0], r[1], r[2], r[3] is not None, r[4], r[5]) for r in rows] == [
        ("1", "paid_search", "Acme", True, "too small", "DE"),
        ("2", "paid_search", "unknown company", False, None, "DE"),
        ("4", "other", "Beta", False, None, "DE"),
    ]


def test_mapping_for_another_kind_is_refused(engine: Engine) -> None:
    mapping = parse_mapping(
        {
            "name": "x",
            "kind": "spend",
            "fields": {"month": {"column": "m"}, "channel": {"column": "c"}, "amount": {"column": "a"}},
        }
    )
    assert (
        "is for spend, not leads" in refused(engine, leads_file(["X1,2025-01-02,web,A,1,"]), mapping=mapping).report()
    )


def test_touch_needs_a_lead_or_an_opportunity(engine: Engine) -> None:
    error = refused(engine, csv_file("lead_id,opportunity_id,touched_at,channel\n,,2025-01-01,email\n"), kind="touches")
    assert "a lead_id or an opportunity_id" in error.report()


def test_opportunities_spend_and_targets(engine: Engine) -> None:
    opportunities = 'opportunity_id,created_at,amount,closed_at,is_won\nO1,2025-01-01,"1,250.50",2025-01-11,Won\n'
    import_csv(engine, "opportunities", csv_file(opportunities), actor=TESTER)
    with engine.connect() as connection:
        amount, won, cycle = connection.execute(
            select(Opportunity.amount, Opportunity.is_won, Opportunity.cycle_days)
        ).one()
    assert (amount, won, cycle) == (1250.5, True, 10.0)
    assert (
        import_csv(
            engine, "spend", csv_file("month,channel,amount\n2025-01,web,100\n2025-02-01,web,200\n"), actor=TESTER
        ).inserted
        == 2
    )
    error = refused(engine, csv_file("month,metric,value\n2025-01,mqls,10\n2025-01,leads,3\n"), kind="targets")
    assert "expected one of mqls" in error.report()


def test_only_ops_and_admins_import_but_anyone_may_validate(seeded: Engine) -> None:
    good = leads_file(["X1,2025-01-02,web,Acme,10,"])
    before = snapshot(seeded)
    with pytest.raises(PermissionDenied, match="may not import data"):
        import_csv(seeded, "leads", good, actor=Actor("erin", "exec"))
    assert snapshot(seeded) == before
    checked = import_csv(seeded, "leads", good, actor=Actor("erin", "exec"), dry_run=True)
    assert checked.inserted == 1 and snapshot(seeded) == before
    assert import_csv(seeded, "leads", good, actor=Actor("olu", "ops")).inserted == 1


WIDE_HEADER = ",".join(["lead_id", "created_at", "source", *(f"extra_{n}" for n in range(18))]) + "\n"


@pytest.mark.parametrize(
    ("body", "row", "saw"),
    [
        # One row of 100,000 fields under a 21-field header: pandas took 99,979 of them for an index.
        (WIDE_HEADER + ",".join(["x"] * 100_000) + "\n", 2, "100,000"),
        (WIDE_HEADER + "L1,2025-01-01,web" + "," * 18 + "\nL2,2025-01-02,web" + "," * 19 + "oops\n", 3, "22"),
        # A stray comma in the first data row used to shift it one column and blame its created_at.
        (HEADER + "X1,2025-01-02,web,Acme,10,,oops\nX2,2025-01-03,web,Beta,20,\n", 2, "7"),
    ],
)
def test_a_row_with_more_fields_than_the_header_is_refused_naming_both_counts(
    seeded: Engine, body: str, row: int, saw: str
) -> None:
    error = refused(seeded, csv_file(body))
    header_fields = len(body.split("\n", 1)[0].split(","))
    assert [(p.row, p.column, p.expected) for p in error.problems] == [
        (row, None, f"{saw} fields where the header has {header_fields} (a stray comma or quote?)")
    ]
    shown = preview(seeded, "leads", csv_file(body))
    assert [p.row for p in shown.problems] == [row]  # the preview says the same at once
