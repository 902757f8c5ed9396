"""The sample company (sample_data/generate.py): deterministic, committed exactly as generated, and its stories show.

The committed CSVs in sample_data/ are the demo's data. These tests make sure they are what the
generator writes, that they import cleanly on every backend, that the stories the demo is built
around come out of the KPI engine, and that the three export slices in real-tool formats go
through the shipped presets and agree with the canonical rows of the same leads.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, text

from core.admin.seed import SAMPLE_DIR, SEED_ORDER, seed_sample_data
from core.formats import KINDS, SENIORITIES, TARGET_METRICS
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.segments import Filters
from core.imports.mapping import load_preset
from core.imports.runs import import_csv
from core.models import Lead, Opportunity
from sample_data.generate import generate
from tests.conftest import DATA_TABLES, TESTER

FIRST, LAST = dt.date(2024, 11, 1), dt.date(2026, 10, 31)
AS_OF = dt.datetime(2026, 11, 1)  # the data is a snapshot taken at the end of 2026-10-31
SPRING_START = dt.date(2026, 3, 2)  # paid_social "spring-ebook-2026" starts, a Monday
EXPORT_FROM = "2026-08-01 00:00:00"
CANONICAL = tuple(f"{kind}.csv" for kind in SEED_ORDER)
HUBSPOT = "hubspot_contacts_export.csv"
SALESFORCE_LEADS = "salesforce_leads_report.csv"
SALESFORCE_OPPORTUNITIES = "salesforce_opportunities_report.csv"
EXPORTS = (HUBSPOT, SALESFORCE_LEADS, SALESFORCE_OPPORTUNITIES)
SOURCES = {
    "paid_search",
    "paid_social",
    "organic_search",
    "email",
    "webinar",
    "events",
    "referral",
    "content_syndication",
    "direct",
}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
LEAD_STAMPS = ("created_at", "mql_at", "sql_at", "rejected_at", "first_response_at")
LEAD_TEXTS = ("email", "company", "industry", "country", "title", "campaign", "intent_signal", "owner")


def _rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


@pytest.fixture(scope="module")
def canonical() -> dict[str, pd.DataFrame]:
    """The committed canonical files as text; blanks are ''."""
    return {
        kind: pd.read_csv(SAMPLE_DIR / f"{kind}.csv", dtype=str, keep_default_na=False, na_filter=False)
        for kind in SEED_ORDER
    }


# --- the generator --------------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", leads=3_000)
    again = generate(tmp_path / "b", leads=3_000)
    other = generate(tmp_path / "c", leads=3_000, seed=8)
    assert set(first) == {*CANONICAL, *EXPORTS, "survey.csv"}
    assert first == again
    for name, rows in first.items():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert _rows(tmp_path / "a" / name) == rows, name
    assert other["leads.csv"] == 3_000
    for name in ("leads.csv", "opportunities.csv", "touches.csv", HUBSPOT):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name


def test_without_exports_only_the_canonical_files_are_written(tmp_path: Path) -> None:
    counts = generate(tmp_path, leads=2_000, exports=False)
    assert set(counts) == set(CANONICAL)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(CANONICAL)


def test_the_committed_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    counts = generate(tmp_path)
    assert sorted(path.name for path in SAMPLE_DIR.glob("*.csv")) == sorted(counts)
    for name in counts:
        assert (SAMPLE_DIR / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"sample_data/{name} is not what the generator writes; run `python sample_data/generate.py`"
        )
    assert sum((SAMPLE_DIR / name).stat().st_size for name in counts) < 25_000_000


def test_canonical_columns_formats_and_scale(canonical: dict[str, pd.DataFrame]) -> None:
    for kind, frame in canonical.items():
        assert list(frame.columns) == list(KINDS[kind].field_names), kind
    leads, opportunities, touches = canonical["leads"], canonical["opportunities"], canonical["touches"]
    assert len(leads) == 20_000
    assert 0.18 <= len(opportunities) / len(leads) <= 0.21
    assert 4.8 <= len(touches) / len(leads) <= 5.2
    assert 0.80 <= (opportunities["lead_id"] != "").mean() <= 0.85

    for frame, columns in (
        (leads, LEAD_STAMPS),
        (opportunities, ("created_at", "closed_at")),
        (touches, ("touched_at",)),
    ):
        for column in columns:
            filled = frame.loc[frame[column] != "", column]
            assert filled.str.match(STAMP).all(), column
            assert filled.max() <= "2026-10-31 23:59:59", column
    assert leads["created_at"].min() >= "2024-11-01 00:00:00"
    for kind in ("spend", "targets"):
        assert canonical[kind]["month"].str.fullmatch(r"\d{4}-\d{2}").all()

    assert set(leads["source"]) == SOURCES
    assert set(leads["seniority"]) - {""} == set(SENIORITIES)
    assert set(leads["intent_signal"]) - {""} <= {
        "demo_request",
        "pricing_page_3plus",
        "free_trial",
        "content_download",
        "webinar_attended",
    }
    assert pd.to_numeric(leads["score"]).between(0, 100).all()
    emails = leads.loc[leads["email"] != "", "email"]
    assert emails.is_unique and emails.str.fullmatch(r"[a-z]+\.[a-z]+\d*@[a-z0-9.-]+\.[a-z]+").all()
    assert 0.35 <= (leads["mql_at"] != "").mean() <= 0.45
    mql = leads[leads["mql_at"] != ""]
    assert (mql["mql_at"] >= mql["created_at"]).all()
    assert (mql.loc[mql["sql_at"] != "", "sql_at"] >= mql.loc[mql["sql_at"] != "", "mql_at"]).all()
    assert not ((leads["sql_at"] != "") & (leads["rejected_at"] != "")).any()
    assert ((leads["sql_at"] == "") & (leads["rejected_at"] == "") | (leads["mql_at"] != "")).all()
    assert len(set(mql["owner"])) == 8 and "Dana Ortiz" in set(mql["owner"])

    from_lead = opportunities[opportunities["lead_id"] != ""].merge(
        leads[["lead_id", "sql_at", "company"]], on="lead_id", how="left", validate="many_to_one"
    )
    assert (from_lead["sql_at"] != "").all() and (from_lead["created_at"] > from_lead["sql_at"]).all()
    assert (from_lead["account"] == from_lead["company"]).all()
    assert ((opportunities["lead_id"] != "") == (opportunities["origin"] == "marketing")).all()
    closed = opportunities["closed_at"] != ""
    assert ((opportunities["is_won"] != "") == closed).all()
    assert set(opportunities.loc[closed, "stage"]) == {"Closed Won", "Closed Lost"}
    cycle = pd.to_datetime(opportunities.loc[closed, "closed_at"]) - pd.to_datetime(
        opportunities.loc[closed, "created_at"]
    )
    assert (cycle >= pd.Timedelta(days=20)).all() and (cycle <= pd.Timedelta(days=120)).all()
    assert 0.2 <= (opportunities.loc[closed, "is_won"] == "true").mean() <= 0.3
    assert pd.to_numeric(opportunities["amount"]).between(5_000, 150_000).all()

    assert not touches.duplicated(["lead_id", "opportunity_id", "touched_at", "channel"]).any()
    assert ((touches["lead_id"] == "") != (touches["opportunity_id"] == "")).all()
    per_lead = touches[touches["lead_id"] != ""].groupby("lead_id").size()
    assert len(per_lead) == len(leads) and per_lead.between(1, 10).all()
    on_opportunities = set(touches.loc[touches["opportunity_id"] != "", "opportunity_id"])
    assert on_opportunities and on_opportunities <= set(
        opportunities.loc[opportunities["origin"] == "sales", "opportunity_id"]
    )
    assert set(touches["channel"]) == SOURCES

    spend = canonical["spend"]
    assert not spend.duplicated(["month", "channel"]).any()
    assert spend.groupby("channel")["amount"].apply(lambda s: pd.to_numeric(s).sum()).idxmax() == "paid_search"
    targets = canonical["targets"]
    assert not targets.duplicated(["month", "metric"]).any()
    assert set(targets["metric"]) == set(TARGET_METRICS)


# --- the stories, through the KPI engine ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed_rows() -> dict[str, int]:
    return {KINDS[kind].table.name: _rows(SAMPLE_DIR / f"{kind}.csv") for kind in SEED_ORDER}


@pytest.fixture
def company(migrated_engine: Engine, committed_rows: dict[str, int]) -> Engine:
    """The committed sample data, seeded once per backend (again only if another test emptied the database)."""
    with migrated_engine.connect() as connection:
        present = {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in committed_rows
        }
        first_lead = connection.execute(select(Lead.lead_id).where(Lead.lead_id == "L0000001")).scalar()
    if present == committed_rows and first_lead is not None:
        return migrated_engine
    with migrated_engine.begin() as connection:
        for table in DATA_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    results = seed_sample_data(migrated_engine)
    for result, kind in zip(results, SEED_ORDER, strict=True):
        assert result.kind == kind
        assert result.inserted == result.rows_read == committed_rows[KINDS[kind].table.name]
        assert (result.rows_skipped, result.notes) == (0, []), result.summary()
    return migrated_engine


def _range(engine: Engine, by: str | None = None, **filters: tuple[str, ...]) -> pd.DataFrame:
    query = KpiQuery(FIRST, LAST, "range", by, Filters(**filters), as_of=AS_OF)  # type: ignore[arg-type]
    return kpi_table(engine, query).set_index("group")


def test_paid_search_is_the_biggest_source_but_converts_under_the_gate(company: Engine) -> None:
    total = _range(company).loc["all"]
    sources = _range(company, "source").query("mqls > 0")
    paid_search = sources.loc["paid_search"]
    assert sources["mqls"].idxmax() == "paid_search"
    assert paid_search["conversion_gate"] == pytest.approx(0.30)
    assert 0.14 <= paid_search["mql_to_sql"] <= 0.20
    assert 0.30 < total["mql_to_sql"] <= 0.40
    assert (sources.drop(index="paid_search")["mql_to_sql"] > paid_search["mql_to_sql"]).all()


def test_mqls_beat_the_target_in_most_months(company: Engine) -> None:
    months = kpi_table(company, KpiQuery(FIRST, LAST, "month", as_of=AS_OF))
    assert len(months) == 24 and months["mql_target"].notna().all()
    beaten = months["mqls"] > months["mql_target"]
    assert beaten.sum() >= 18
    assert 1.04 <= months.loc[beaten, "mql_attainment"].median() <= 1.12


def test_dana_ortiz_breaches_the_response_sla(company: Engine) -> None:
    owners = _range(company, "owner")
    sdrs = owners[owners["mqls"] > 0]
    assert len(sdrs) == 8
    dana, others = sdrs.loc["Dana Ortiz"], sdrs.drop(index="Dana Ortiz")
    assert dana["sla_hours"] == pytest.approx(4)
    assert dana["sla_compliance"] < 0.15
    assert (others["sla_compliance"] > 0.8).all()
    assert 8 <= dana["median_response_hours"] <= 16  # one to two business days
    assert others["median_response_hours"].between(1, 3).all()


def test_events_has_the_least_complete_handoff_data(company: Engine) -> None:
    completeness = _range(company, "source").query("mqls > 0")["data_completeness"]
    assert completeness.idxmin() == "events"
    assert completeness["events"] < 0.3
    assert (completeness.drop(index="events") > 0.8).all()


def test_rejections_without_a_reason_come_from_two_owners(company: Engine) -> None:
    total = _range(company).loc["all"]
    assert 0.05 <= total["rejected_no_reason"] / total["rejected"] <= 0.11
    owners = _range(company, "owner")["rejected_no_reason"]
    top_two = owners.nlargest(2)
    assert set(top_two.index) == {"Tom Becker", "Lucas Moreau"}
    assert top_two.sum() >= 0.9 * total["rejected_no_reason"]
    assert owners["Dana Ortiz"] <= 0.02 * total["rejected_no_reason"]


def _reasons_by_week(engine: Engine) -> dict[dt.date, Counter[str]]:
    """Rejection reasons per ISO week of rejection; the wrong-size spellings folded into one family."""
    reason = func.lower(func.trim(Lead.rejection_reason))
    family = func.coalesce(func.nullif(reason, ""), "")
    statement = select(Lead.rejected_at, family).where(Lead.rejected_at.is_not(None), family != "")
    weeks: dict[dt.date, Counter[str]] = defaultdict(Counter)
    with engine.connect() as connection:
        for rejected_at, text_ in connection.execute(statement):
            name = "wrong company size" if ("size" in text_ or "small" in text_) else text_
            weeks[rejected_at.date() - dt.timedelta(days=rejected_at.weekday())][name] += 1
    return weeks


def _size_tops(counts: Counter[str]) -> bool:
    size = counts.get("wrong company size", 0)
    return size > 0 and all(size > n for name, n in counts.items() if name != "wrong company size")


def test_wrong_company_size_tops_the_reasons_after_the_spring_ebook(company: Engine) -> None:
    weeks = _reasons_by_week(company)
    after = [_size_tops(weeks[SPRING_START + dt.timedelta(weeks=i)]) for i in range(12)]
    longest, run = 0, 0
    for tops in after:
        run = run + 1 if tops else 0
        longest = max(longest, run)
    assert longest >= 6, after
    before = [weeks[SPRING_START - dt.timedelta(weeks=i)] for i in range(1, 13)]
    assert not any(_size_tops(counts) for counts in before)
    assert Counter(counts.most_common(1)[0][0] for counts in before).most_common(1)[0][0] == "no budget"

    spring = _range(company, "source", campaigns=("spring-ebook-2026",)).loc["paid_social"]
    assert spring["mql_to_sql"] < 0.1 and spring["rejection_share"] > 0.85
    with company.connect() as connection:
        sizes = connection.execute(
            select(Lead.company_size).where(Lead.campaign == "spring-ebook-2026", Lead.rejected_at.is_not(None))
        ).scalars()
        assert np.mean([size is not None and size < 50 for size in sizes]) > 0.8


def test_responses_before_the_mql_none_at_all_and_open_recent_mqls(company: Engine) -> None:
    mqls = select(func.count()).select_from(Lead).where(Lead.mql_at.is_not(None))
    with company.connect() as connection:
        total = connection.execute(mqls).scalar_one()
        early = connection.execute(mqls.where(Lead.first_response_at < Lead.mql_at)).scalar_one()
        silent = connection.execute(mqls.where(Lead.first_response_at.is_(None))).scalar_one()
    assert 0 < early <= 0.03 * total
    assert 0 < silent <= 0.06 * total
    months = kpi_table(company, KpiQuery(FIRST, LAST, "month", as_of=AS_OF))
    open_share = 1 - months["dispositioned"] / months["mqls"]
    assert open_share.idxmax() == len(months) - 1
    assert open_share.iloc[-1] > 2 * open_share.iloc[:-3].median()


def test_opportunities_win_rate_and_sourced_pipeline(company: Engine) -> None:
    total = _range(company).loc["all"]
    assert 0.2 <= total["win_rate"] <= 0.3
    assert total["pipeline_marketing"] > 3 * total["pipeline_sales"] > 0
    still_open = select(func.count()).select_from(Opportunity).where(Opportunity.closed_at.is_(None))
    with company.connect() as connection:
        open_count = connection.execute(still_open).scalar_one()
        stale = connection.execute(still_open.where(Opportunity.created_at < dt.datetime(2026, 6, 1))).scalar_one()
    assert open_count > 0 and stale == 0


# --- the export slices, through the shipped presets -----------------------------------------------------------------


def _export(name: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLE_DIR / name, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")


def _slice(canonical: dict[str, pd.DataFrame]) -> pd.DataFrame:
    leads = canonical["leads"]
    return leads[leads["created_at"] >= EXPORT_FROM].reset_index(drop=True)


def _stored(engine: Engine, model: type[Lead] | type[Opportunity], key: str, ids: pd.Series) -> pd.DataFrame:
    table = model.__table__
    with engine.connect() as connection:
        result = connection.execute(select(table))
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys())).set_index(key)
    return frame.loc[list(ids)].reset_index()


def _minutes(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.replace("", None)).dt.floor("min").astype("datetime64[us]").reset_index(drop=True)


def _days(values: pd.Series) -> pd.Series:
    return _minutes(values).dt.normalize()


def _stamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[us]").reset_index(drop=True)


def _texts(values: pd.Series) -> list[object]:
    return [None if value is None or value == "" or value != value else value for value in values]


def _numbers(values: pd.Series) -> list[object]:
    return [None if value is None or value == "" or value != value else int(float(value)) for value in values]


def _assert_same_leads(got: pd.DataFrame, expected: pd.DataFrame, *, exact: tuple[str, ...]) -> None:
    for column in LEAD_STAMPS:
        if column in exact:
            pd.testing.assert_series_equal(_stamps(got[column]), _minutes(expected[column]), check_names=False)
    for column in LEAD_TEXTS:
        assert _texts(got[column]) == _texts(expected[column]), column
    assert _texts(got["rejection_reason"]) == _texts(expected["rejection_reason"])
    assert _texts(got["seniority"]) == _texts(expected["seniority"])
    for column in ("score", "touch_attempts"):
        assert _numbers(got[column]) == _numbers(expected[column]), column


def test_hubspot_contacts_export_reads_through_its_preset(engine: Engine, canonical: dict[str, pd.DataFrame]) -> None:
    export, expected = _export(HUBSPOT), _slice(canonical)
    result = import_csv(engine, "leads", SAMPLE_DIR / HUBSPOT, actor=TESTER, mapping=load_preset("hubspot_contacts"))
    assert result.rows_read == result.inserted == len(export) == len(expected) > 0
    assert result.rows_skipped == 0
    assert result.notes == ["3 columns not imported: First Name, Last Name, Lifecycle Stage"]

    got = _stored(engine, Lead, "lead_id", export["Record ID"])
    _assert_same_leads(got, expected, exact=LEAD_STAMPS)
    bounds = np.array([1, 5, 25, 50, 100, 500, 1000])
    sizes = pd.to_numeric(expected["company_size"].replace("", None))
    lower = [None if pd.isna(size) else int(bounds[np.searchsorted(bounds, size, side="right") - 1]) for size in sizes]
    assert _numbers(got["company_size"]) == lower
    # HubSpot has no "content syndication" source: those leads arrive as "Other Campaigns".
    assert list(got["source"]) == list(expected["source"].replace({"content_syndication": "other_campaigns"}))
    assert (expected["source"] == "content_syndication").any()


def test_salesforce_leads_report_reads_through_its_preset(engine: Engine, canonical: dict[str, pd.DataFrame]) -> None:
    assert (SAMPLE_DIR / SALESFORCE_LEADS).read_bytes().startswith(b"\xef\xbb\xbf")
    export, expected = _export(SALESFORCE_LEADS), _slice(canonical)
    result = import_csv(
        engine, "leads", SAMPLE_DIR / SALESFORCE_LEADS, actor=TESTER, mapping=load_preset("salesforce_leads")
    )
    assert (result.encoding, result.rows_read, result.inserted) == ("utf-8-sig", len(expected), len(expected))
    assert result.notes == ["2 columns not imported: First Name, Last Name"]
    assert export["Lead ID"].str.fullmatch(r"00Q[0-9A-Za-z]{15}").all() and export["Lead ID"].is_unique

    got = _stored(engine, Lead, "lead_id", export["Lead ID"])
    _assert_same_leads(got, expected, exact=("created_at", "mql_at", "rejected_at", "first_response_at"))
    # The Converted Date of a report is a date.
    pd.testing.assert_series_equal(_stamps(got["sql_at"]), _days(expected["sql_at"]), check_names=False)
    assert _numbers(got["company_size"]) == _numbers(expected["company_size"])
    assert list(got["source"]) == list(expected["source"])


def test_salesforce_opportunities_report_reads_through_its_preset(
    engine: Engine, canonical: dict[str, pd.DataFrame]
) -> None:
    leads_export, leads_slice = _export(SALESFORCE_LEADS), _slice(canonical)
    salesforce_to_lead = dict(zip(leads_export["Lead ID"], leads_slice["lead_id"], strict=True))
    import_csv(engine, "leads", SAMPLE_DIR / SALESFORCE_LEADS, actor=TESTER, mapping=load_preset("salesforce_leads"))
    result = import_csv(
        engine,
        "opportunities",
        SAMPLE_DIR / SALESFORCE_OPPORTUNITIES,
        actor=TESTER,
        mapping=load_preset("salesforce_opportunities"),
    )
    opportunities = canonical["opportunities"]
    in_slice = opportunities["lead_id"].isin(set(leads_slice["lead_id"])) | (
        (opportunities["lead_id"] == "") & (opportunities["created_at"] >= EXPORT_FROM)
    )
    expected = opportunities[in_slice].reset_index(drop=True)
    export = _export(SALESFORCE_OPPORTUNITIES)
    assert result.rows_read == result.inserted == len(expected) == len(export) > 0
    assert result.notes == ["1 column not imported: Opportunity Name"]
    assert export["Opportunity ID"].str.fullmatch(r"006[0-9A-Za-z]{15}").all()

    got = _stored(engine, Opportunity, "opportunity_id", export["Opportunity ID"])
    linked = [None if value is None else salesforce_to_lead[value] for value in _texts(got["lead_id"])]
    assert linked == _texts(expected["lead_id"])
    for column in ("account", "stage", "origin", "owner"):
        assert _texts(got[column]) == _texts(expected[column]), column
    assert set(got["origin"]) == {"marketing", "sales"}
    assert _numbers(got["amount"]) == _numbers(expected["amount"])
    pd.testing.assert_series_equal(_stamps(got["created_at"]), _minutes(expected["created_at"]), check_names=False)
    # Close Date is a date, and counts only on closed opportunities (open ones show the expected date).
    pd.testing.assert_series_equal(_stamps(got["closed_at"]), _days(expected["closed_at"]), check_names=False)
    assert (export.loc[expected["closed_at"] == "", "Close Date"] != "").all()
    won = [None if value == "" else value == "true" for value in expected["is_won"]]
    assert [None if value is None else bool(value) for value in got["is_won"]] == won
