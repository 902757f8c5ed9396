"""Coverage: a blank in a field an import carried means "did not happen"; a field no import carried means
"unknown". Rates count only the rows that carried what they need, say so, and are not available when none did."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Engine, select, text

import core
from core import coverage
from core.funnel.kpis import KpiQuery, kpi_records, kpi_table
from core.imports.runs import import_csv
from core.models import Lead
from tests.conftest import TESTER, csv_file

JANUARY = KpiQuery(dt.date(2026, 1, 1), dt.date(2026, 1, 31), grain="range")
AS_OF = dt.datetime(2026, 3, 1)

# A CRM export with the whole funnel: 4 MQLs in January, 2 SQLs, 1 rejected (no reason), 3 answered
# within the default 4 business hours, one not at all.
FULL = """lead_id,created_at,source,mql_at,sql_at,rejected_at,rejection_reason,first_response_at
A1,2026-01-05 09:00,web,2026-01-05 09:00,2026-01-06 10:00,,,2026-01-05 10:00
A2,2026-01-05 09:00,web,2026-01-05 09:00,2026-01-07 10:00,,,2026-01-05 11:00
A3,2026-01-06 09:00,events,2026-01-06 09:00,,2026-01-09 10:00,,2026-01-06 12:00
A4,2026-01-06 09:00,events,2026-01-06 09:00,,,,
"""
# A marketing-automation export: MQL dates only, 3 more MQLs in January.
MQLS_ONLY = """lead_id,created_at,source,mql_at
B1,2026-01-12 09:00,web,2026-01-12 09:00
B2,2026-01-12 09:00,web,2026-01-13 09:00
B3,2026-01-14 09:00,events,2026-01-14 09:00
"""


def january(engine: Engine) -> dict[str, Any]:
    [row] = kpi_records(kpi_table(engine, KpiQuery(JANUARY.first_day, JANUARY.last_day, "range", as_of=AS_OF)))
    return row


def load(engine: Engine, *files: str, kind: str = "leads") -> None:
    for content in files:
        import_csv(engine, kind, csv_file(content), actor=TESTER)


def test_a_file_without_sql_dates_makes_conversion_not_available(engine: Engine) -> None:
    load(engine, MQLS_ONLY)
    row = january(engine)
    assert row["mqls"] == 3
    assert row["mql_to_sql"] is None and row["rejection_share"] is None and row["sla_compliance"] is None
    unavailable = row["unavailable"]
    assert unavailable["mql_to_sql"] == "none of the 3 MQLs came from a file with SQL dates"
    assert unavailable["sla_compliance"] == "none of the 3 MQLs came from a file with first-response times"
    assert unavailable["rejection_share"] == "none of the 3 MQLs came from a file with both SQL and rejection dates"
    assert row["sla_breached"] == 0  # no longer "every MQL breached"


def test_a_mix_counts_only_what_carried_the_field_and_says_so(engine: Engine) -> None:
    load(engine, FULL, MQLS_ONLY)
    row = january(engine)
    assert (row["mqls"], row["sqls"], row["sql_known"]) == (7, 2, 4)
    assert row["mql_to_sql"] == pytest.approx(2 / 4)  # not 2 / 7
    assert row["coverage_notes"]["mql_to_sql"] == "based on 4 of 7 MQLs; 3 came from files without SQL dates"
    # Rejection share: 1 rejected of 3 dispositioned among the 4 that carried both dates.
    assert (row["rejected"], row["dispositioned"]) == (1, 3)
    assert row["rejection_share"] == pytest.approx(1 / 3)
    # The SLA: A1–A3 met (1, 2 and 3 business hours), A4 breached (no answer, long past); B1–B3 unknown.
    assert (row["sla_met"], row["sla_breached"], row["sla_pending"]) == (3, 1, 0)
    assert row["sla_compliance"] == pytest.approx(3 / 4)
    assert "mql_to_sql" not in row["unavailable"]


def test_rejection_reasons_not_carried_are_unknown_not_missing(engine: Engine) -> None:
    header, *rows = FULL.splitlines()
    columns = header.split(",")
    drop = columns.index("rejection_reason")
    content = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in [header, *rows])
    load(engine, content + "\n")
    row = january(engine)
    assert row["rejected"] == 1 and row["reason_known"] == 0
    assert row["unavailable"]["rejected_no_reason"] == (
        "none of the 1 rejected MQLs came from a file with rejection reasons"
    )
    load(engine, FULL)  # the same leads again, now with the reason column (blank: none was given)
    row = january(engine)
    assert (row["reason_known"], row["rejected_no_reason"]) == (1, 1)
    assert "rejected_no_reason" not in row["unavailable"]


def test_a_later_file_adds_to_what_is_known_about_a_row(engine: Engine) -> None:
    load(engine, MQLS_ONLY)
    again = import_csv(engine, "leads", csv_file(MQLS_ONLY), actor=TESTER)
    assert (again.inserted, again.updated) == (0, 0)
    with_sql = "lead_id,created_at,source,sql_at\nB1,2026-01-12 09:00,web,2026-01-20 10:00\n"
    result = import_csv(engine, "leads", csv_file(with_sql), actor=TESTER)
    assert result.updated == 1
    with engine.connect() as connection:
        mask = connection.execute(select(Lead.carried).where(Lead.lead_id == "B1")).scalar_one()
    assert mask & coverage.bit("leads", "sql_at") and mask & coverage.bit("leads", "mql_at")
    assert not mask & coverage.bit("leads", "first_response_at")
    row = january(engine)
    assert row["coverage_notes"]["mql_to_sql"] == "based on 1 of 3 MQLs; 2 came from files without SQL dates"
    assert row["mql_to_sql"] == 1.0


def test_no_mql_dates_at_all(engine: Engine) -> None:
    load(engine, "lead_id,created_at,source\nC1,2026-01-05,web\n")
    row = january(engine)
    assert row["mqls"] == 0 and row["unavailable"]["mqls"].startswith("no import carried MQL dates")
    assert row["mql_attainment"] is None


DEALS = "opportunity_id,lead_id,created_at,amount,closed_at,is_won\n"


def test_a_deals_file_of_wins_alone_gives_no_win_rate(engine: Engine) -> None:
    load(engine, FULL)
    load(
        engine,
        DEALS + "O1,A1,2026-01-02,100,2026-01-20,true\nO2,A2,2026-01-02,50,2026-01-21,won\n",
        kind="opportunities",
    )
    row = january(engine)
    assert (row["closed"], row["won"]) == (2, 2)
    assert row["win_rate"] is None
    assert row["unavailable"]["win_rate"] == (
        "none of the 2 deals closed in the period came from a file with both won and lost deals"
    )
    assert row["won_mqls"] == 2 and "mql_to_won" not in row["unavailable"]
    load(engine, DEALS + "O3,A3,2026-01-02,70,2026-01-22,lost\n", kind="opportunities")
    row = january(engine)
    assert row["win_rate"] == 0.0  # O3 came from a file that knew losses; O1 and O2 still did not
    assert row["coverage_notes"]["win_rate"] == (
        "based on 1 of 3 deals closed in the period; 2 came from files without both won and lost deals"
    )


def test_mql_to_won_needs_deals_linked_to_leads(engine: Engine) -> None:
    load(engine, FULL)
    assert january(engine)["unavailable"]["mql_to_won"].startswith("no deals file that links deals to leads")
    load(engine, "opportunity_id,created_at,amount,is_won\nO9,2026-01-02,10,false\n", kind="opportunities")
    assert "mql_to_won" in january(engine)["unavailable"]  # no lead ids in it


def test_rows_from_before_coverage_get_their_runs_fields(engine: Engine) -> None:
    """The migration's backfill, as it runs on a database imported before coverage existed."""
    load(engine, FULL, MQLS_ONLY)
    with engine.begin() as connection:
        connection.execute(text("UPDATE leads SET carried = 0"))
    path = Path(core.__file__).parent / "migrations" / "versions" / "0009_coverage.py"
    spec = importlib.util.spec_from_file_location("coverage_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        migration.backfill()
    row = january(engine)
    assert row["sql_known"] == 4 and row["response_known"] == 4


def test_signs_and_the_agenda_never_fire_on_what_is_not_there(engine: Engine) -> None:
    from core.alignment.agenda import agenda
    from core.alignment.diagnostic.signs import measured_signs
    from core.rejections.explorer import overview
    from core.rejections.scope import RejectionQuery

    load(engine, MQLS_ONLY)
    signs = {sign.key: sign for sign in measured_signs(engine, dt.date(2026, 1, 1), dt.date(2026, 1, 31))}
    for key in ("lead_quality", "slow_follow_up", "top_heavy"):
        assert signs[key].problem is None, key
        assert "not available" in signs[key].measured, key
    summary = overview(engine, RejectionQuery(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))
    assert summary.share_unavailable == "none of the 3 MQLs came from a file with both SQL and rejection dates"
    lines = agenda(engine, dt.date(2026, 1, 12)).points()
    assert "MQL→SQL conversion not available: none of the 3 MQLs came from a file with SQL dates." in lines
    assert any(line.startswith("SLA compliance not available") for line in lines)
    assert any(line.startswith("Unqualified share not available") for line in lines)


def test_rejections_without_a_reason_column_are_not_counted_as_without_a_reason(engine: Engine) -> None:
    from core.rejections.explorer import overview
    from core.rejections.scope import RejectionQuery

    no_reasons = "lead_id,created_at,source,mql_at,sql_at,rejected_at\nR1,2026-01-05,web,2026-01-05,,2026-01-08\n"
    load(engine, no_reasons)
    summary = overview(engine, RejectionQuery(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))
    assert (summary.rejected, summary.no_reason, summary.reasons_known) == (1, 0, 0)
    assert summary.no_reason_unavailable == "none of the 1 rejections came from a file with rejection reasons"
