"""The real public datasets go through the shipped mappings, and the KPIs agree with pandas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.cli import main
from core.funnel.kpis import KpiQuery, kpi_table
from core.imports.mapping import load_preset
from core.imports.runs import import_csv
from tests.conftest import TESTER, database_url, page_file, run, signed_in_as_existing


def test_olist_funnel(engine: Engine, realdata: Path) -> None:
    folder = realdata / "olist_marketing_funnel"
    mqls_file = folder / "olist_marketing_qualified_leads_dataset.csv"
    deals_file = folder / "olist_closed_deals_dataset.csv"
    leads = import_csv(engine, "leads", mqls_file, mapping=load_preset("olist_mqls"), actor=TESTER)
    deals = import_csv(engine, "opportunities", deals_file, mapping=load_preset("olist_closed_deals"), actor=TESTER)
    assert (leads.inserted, deals.inserted) == (8000, 842)
    again = import_csv(engine, "leads", mqls_file, mapping=load_preset("olist_mqls"), actor=TESTER)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8000)

    mqls = pd.read_csv(mqls_file, parse_dates=["first_contact_date"])
    closed = pd.read_csv(deals_file, parse_dates=["won_date"])
    won_ids = set(closed["mql_id"])
    table = kpi_table(engine, KpiQuery(dt.date(2017, 6, 1), dt.date(2018, 5, 31), grain="quarter", by="source"))
    got = table.groupby("group")[["mqls", "won_mqls"]].sum()
    expected = mqls.assign(source=mqls["origin"].fillna("(blank)"), won=mqls["mql_id"].isin(won_ids))
    expected = expected.groupby("source").agg(mqls=("mql_id", "size"), won_mqls=("won", "sum"))
    assert got.loc[expected.index, "mqls"].tolist() == expected["mqls"].tolist()
    assert got.loc[expected.index, "won_mqls"].tolist() == expected["won_mqls"].tolist()
    # Olist has 60 blank origins besides its own 1,099 "unknown": the preset keeps them apart, 11 origins in all.
    assert mqls["origin"].isna().sum() == 60
    assert (expected.loc["(blank)", "mqls"], expected.loc["unknown", "mqls"]) == (60, 1099)
    assert len(expected) == 11 and sorted(got.index) == sorted(expected.index)
    assert not [w for w in leads.warnings if w.code in ("blank_merges", "case_variants", "placeholder")]
    assert [w.code for w in deals.warnings] == ["only_won"]

    quarters = kpi_table(engine, KpiQuery(dt.date(2017, 6, 1), dt.date(2018, 12, 31), grain="quarter"))
    assert quarters["won"].sum() == 842
    won_q1 = closed[(closed["won_date"] >= "2018-01-01") & (closed["won_date"] < "2018-04-01")]
    assert quarters.set_index("period_start").loc[dt.date(2018, 1, 1), "won"] == len(won_q1)


def test_maven_pipeline(engine: Engine, realdata: Path) -> None:
    path = realdata / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    result = import_csv(engine, "opportunities", path, mapping=load_preset("maven_sales_pipeline"), actor=TESTER)
    raw = pd.read_csv(path, parse_dates=["engage_date", "close_date"])
    prospecting = int((raw["deal_stage"] == "Prospecting").sum())
    assert result.rows_skipped == prospecting
    assert result.inserted == len(raw) - prospecting

    table = kpi_table(engine, KpiQuery(dt.date(2016, 10, 1), dt.date(2017, 12, 31), grain="quarter", by="owner"))
    closed = raw[raw["deal_stage"].isin(["Won", "Lost"])]
    won = closed[closed["deal_stage"] == "Won"]
    by_owner = table.groupby("group")[["closed", "won", "won_amount"]].sum()
    expected = closed.groupby("sales_agent").agg(closed=("opportunity_id", "size"))
    expected["won"] = won.groupby("sales_agent").size()
    expected["won_amount"] = won.groupby("sales_agent")["close_value"].sum()
    expected = expected.fillna(0)
    assert by_owner.loc[expected.index, "closed"].tolist() == expected["closed"].tolist()
    assert by_owner.loc[expected.index, "won"].tolist() == expected["won"].astype(int).tolist()
    assert by_owner.loc[expected.index, "won_amount"].tolist() == pytest.approx(expected["won_amount"].tolist())
    # Median sales cycle of won deals, against pandas.
    cycle = (won["close_date"] - won["engage_date"]).dt.days
    overall = kpi_table(engine, KpiQuery(dt.date(2016, 1, 1), dt.date(2017, 12, 31), grain="quarter"))
    assert overall["won"].sum() == len(won)
    year = won[won["close_date"].dt.year == 2017]
    row = kpi_table(engine, KpiQuery(dt.date(2017, 1, 1), dt.date(2017, 12, 31), grain="quarter"))
    assert row["won"].sum() == len(year)
    q2 = year[(year["close_date"] >= "2017-04-01") & (year["close_date"] < "2017-07-01")]
    q2_cycle = (q2["close_date"] - q2["engage_date"]).dt.days
    assert row.set_index("period_start").loc[dt.date(2017, 4, 1), "median_cycle_days"] == pytest.approx(
        q2_cycle.median()
    )
    assert cycle.min() >= 0


def import_olist(engine: Engine, realdata: Path) -> None:
    folder = realdata / "olist_marketing_funnel"
    import_csv(
        engine,
        "leads",
        folder / "olist_marketing_qualified_leads_dataset.csv",
        mapping=load_preset("olist_mqls"),
        actor=TESTER,
    )
    import_csv(
        engine,
        "opportunities",
        folder / "olist_closed_deals_dataset.csv",
        mapping=load_preset("olist_closed_deals"),
        actor=TESTER,
    )


OLIST_GONE = {
    "mql_to_sql": "none of the 8,000 MQLs came from a file with SQL dates",
    "sla_compliance": "none of the 8,000 MQLs came from a file with first-response times",
}


def test_olist_stages_it_does_not_have_are_not_available(
    engine: Engine, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_olist(engine, realdata)
    url = database_url(engine)
    # The whole of Olist's MQLs, June 2017 to May 2018, as one period.
    code = main(
        ["--database-url", url, "kpis", "--from", "2017-06-01", "--to", "2018-05-31", "--grain", "range", "--json"]
    )
    assert code == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["mqls"] == 8000 and row["mql_to_sql"] is None and row["sla_compliance"] is None
    assert {kpi: row["unavailable"][kpi] for kpi in OLIST_GONE} == OLIST_GONE
    assert row["win_rate"] is None and "won and lost" in row["unavailable"]["win_rate"]
    assert row["won_mqls"] == 842 and row["mql_to_won"] == pytest.approx(842 / 8000)

    # The Scoreboard as the CLI shows it: it opens on Olist's last complete month with MQLs, May 2018.
    assert main(["--database-url", url, "scoreboard", "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["period"] == {"first_day": "2018-05-01", "last_day": "2018-05-31"}
    assert board["shown_period"].startswith("May 2018: the last complete month with MQLs")
    assert board["flags"] == []
    shown = {headline["key"]: headline for headline in board["headlines"]}
    for kpi in ("mql_to_sql", "sla_compliance", "win_rate"):
        assert shown[kpi]["value"] == "not available" and not shown[kpi]["available"]
        assert shown[kpi]["note"] == board["unavailable"][kpi][0].upper() + board["unavailable"][kpi][1:]
    stages = {stage["stage"]: stage for stage in board["funnel"]}
    assert stages["SQLs"]["not_in_data"] == board["unavailable"]["mql_to_sql"]
    assert stages["Won"]["not_in_data"] is None and stages["Won"]["count"] > 0
    # Per source: 11 origins, the 60 blanks apart from the 1,099 "unknown", and none flagged.
    assert (
        main(
            [
                "--database-url",
                url,
                "kpis",
                "--from",
                "2017-06-01",
                "--to",
                "2018-05-31",
                "--grain",
                "range",
                "--by",
                "source",
                "--json",
            ]
        )
        == 0
    )
    by_source = {row["group"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(by_source) == 11 and by_source["(blank)"]["mqls"] == 60 and by_source["unknown"]["mqls"] == 1099
    assert all(row["mql_to_sql"] is None for row in by_source.values())


def test_the_scoreboard_page_on_olist_says_not_available_and_flags_nothing(database: Engine, realdata: Path) -> None:
    import_olist(database, realdata)
    app = run(signed_in_as_existing(database, "erin", page_file("scoreboard.py")))
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["MQL → SQL"] == metrics["Response SLA met"] == metrics["Win rate"] == "—"
    assert metrics["MQLs"] == "1,303"  # May 2018
    captions = [caption.value for caption in app.caption]
    assert "Not available: none of the 1,303 MQLs came from a file with SQL dates" in captions
    assert "MQL → SQL is not available: none of the 1,303 MQLs came from a file with SQL dates." in [
        info.value for info in app.info
    ]
    assert not app.error  # no red flag on a number that is not there


def test_the_rejections_page_on_olist_says_rejections_are_not_in_the_data(database: Engine, realdata: Path) -> None:
    import_olist(database, realdata)
    app = run(signed_in_as_existing(database, "erin", page_file("rejections.py")))
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Unqualified share"] == metrics["Rejections logged"] == metrics["No reason given"] == "—"
    assert app.info[0].value.startswith("Rejections are not in the imported data: none of the")
    assert not app.error
