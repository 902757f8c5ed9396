"""What a KPI row cannot claim, next to its numbers: the KPIs the imported files cannot support (coverage:
"none of the 525 MQLs came from a file with SQL dates") and the cohorts too young to have converted as past
ones did (maturity). A KPI that cannot be counted is NaN with its reason, never a 0 that reads as a result.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, and_, func, select

from core import coverage, sql
from core.models import Lead, Opportunity

# The conversions a cohort's rates wait for: the MQL→SQL rate waits for SQL dates, the MQL→won rate for wins.
MATURING_KPIS = {"mql_to_sql": "sql", "mql_to_won": "won"}
MATURITY_SHARE = 0.9
# Fewer past conversions than this say nothing about how long the next ones take.
MIN_CONVERSIONS_FOR_MATURITY = 20
# Periods that ended longer ago than this are mature whatever the lags (and the lags are not measured).
MATURITY_HORIZON = 400


def _days_between(connection: Connection, start: Any, end: Any) -> Any:
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def _quantile(connection: Connection, lag: Any, where: ColumnElement[bool], joined: Any) -> float | None:
    """The MATURITY_SHARE quantile of `lag` over the rows of `joined` where `where` holds, in SQL."""
    count = connection.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
    if count < MIN_CONVERSIONS_FOR_MATURITY:
        return None
    offset = math.ceil(MATURITY_SHARE * count) - 1
    value = connection.execute(
        select(lag.label("lag")).select_from(joined).where(where).order_by(lag).limit(1).offset(offset)
    ).scalar_one()
    return max(float(value), 0.0)


def maturity_lags(target: Engine | Connection) -> dict[str, float]:
    """Days from the MQL date within which nine in ten of the organisation's past conversions happened: to an
    SQL ("mql_to_sql") and to a won deal ("mql_to_won"); a KPI with too few conversions to tell is left out."""
    with sql.connection_of(target) as connection:
        lags: dict[str, float] = {}
        to_sql = _days_between(connection, Lead.mql_at, Lead.sql_at)
        found = _quantile(
            connection,
            to_sql,
            and_(Lead.mql_at.is_not(None), Lead.sql_at.is_not(None), Lead.sql_at >= Lead.mql_at),
            Lead,
        )
        if found is not None:
            lags["mql_to_sql"] = found
        to_won = _days_between(connection, Lead.mql_at, Opportunity.closed_at)
        won_deals = Lead.__table__.join(Opportunity.__table__, Opportunity.lead_id == Lead.lead_id)
        found = _quantile(
            connection,
            to_won,
            and_(
                Opportunity.is_won.is_(True),
                Lead.mql_at.is_not(None),
                Opportunity.closed_at.is_not(None),
                Opportunity.closed_at >= Lead.mql_at,
            ),
            won_deals,
        )
        if found is not None:
            lags["mql_to_won"] = found
    return lags


def with_maturity(table: pd.DataFrame, lags: dict[str, float], today: dt.date) -> pd.DataFrame:
    """Each row's `maturing`: the KPIs whose cohort ended fewer days ago than nine in ten past conversions took."""
    maturing_column: list[list[str]] = []
    days_column: list[dict[str, float]] = []
    for end, gone in zip(table["period_end"], table["unavailable"], strict=True):
        age = (today - end).days
        young = {kpi: round(days, 1) for kpi, days in lags.items() if age < days and kpi not in gone}
        maturing_column.append(sorted(young))
        days_column.append(young)
    return table.assign(maturing=maturing_column, maturity_days=days_column)


def known_at_all(connection: Connection) -> dict[str, bool]:
    """Facts about everything imported, not one period: whether any lead carried an MQL date, and whether any
    deal linked to a lead said won or lost."""
    mql_dates = select(Lead.lead_id).where(coverage.carried(Lead.carried, "leads", "mql_at")).limit(1)
    linked = (
        select(Opportunity.opportunity_id)
        .where(coverage.carried(Opportunity.carried, "opportunities", "lead_id", "is_won"))
        .limit(1)
    )
    return {
        "mql_dates": connection.execute(mql_dates).first() is not None,
        "deals_linked": connection.execute(linked).first() is not None,
    }


# What each rate needs, in words, for "none of the 525 MQLs came from a file with …".
_NEEDS = {
    "mql_to_sql": ("sql_known", "mqls", "MQLs", "SQL dates"),
    "rejection_share": ("disposition_known", "mqls", "MQLs", "both SQL and rejection dates"),
    "rejected_no_reason": ("reason_known", "rejected", "rejected MQLs", "rejection reasons"),
    "sla_compliance": ("response_known", "mqls", "MQLs", "first-response times"),
    "median_response_hours": ("response_known", "mqls", "MQLs", "first-response times"),
    "data_completeness": ("completeness_known", "mqls", "MQLs", "company, title, email and intent signal"),
    "win_rate": ("closed_known", "closed", "deals closed in the period", "both won and lost deals"),
    "pipeline_velocity_per_day": ("closed_known", "closed", "deals closed in the period", "both won and lost deals"),
}
NO_MQL_DATES = "no import carried MQL dates: OneFunnel cannot tell which leads are MQLs"
NO_LINKED_DEALS = "no deals file that links deals to leads and says won or lost was imported"


def with_coverage(table: pd.DataFrame, facts: dict[str, bool]) -> pd.DataFrame:
    """Each row's `unavailable` (KPI -> reason) and `coverage_notes` (KPI -> what it is based on); an
    unavailable KPI's value is NaN, never a 0 that reads as a result."""
    unavailable_column: list[dict[str, str]] = []
    notes_column: list[dict[str, str]] = []
    needed = sorted({"mqls", *(column for need in _NEEDS.values() for column in need[:2])})
    for row in table[needed].itertuples(index=False):  # the columns read only: a wide frame's rows cost more
        unavailable: dict[str, str] = {}
        notes: dict[str, str] = {}
        if not facts["mql_dates"]:
            unavailable["mqls"] = unavailable["mql_attainment"] = NO_MQL_DATES
        elif row.mqls and not facts["deals_linked"]:
            unavailable["mql_to_won"] = NO_LINKED_DEALS
        for kpi, (known_column, total_column, noun, what) in _NEEDS.items():
            known, total = int(getattr(row, known_column)), int(getattr(row, total_column))
            if not total:
                continue
            if known == 0:
                unavailable[kpi] = f"none of the {total:,} {noun} came from a file with {what}"
            elif known < total:
                notes[kpi] = f"based on {known:,} of {total:,} {noun}; {total - known:,} came from files without {what}"
        unavailable_column.append(unavailable)
        notes_column.append(notes)
    table = table.assign(unavailable=unavailable_column, coverage_notes=notes_column)
    for kpi in ("mql_attainment", "mql_to_won", "rejection_share", "median_response_hours", "win_rate"):
        gone = table["unavailable"].map(lambda reasons, kpi=kpi: kpi in reasons)
        table.loc[gone, kpi] = math.nan
    gone = table["unavailable"].map(lambda reasons: "pipeline_velocity_per_day" in reasons)
    table.loc[gone, "pipeline_velocity_per_day"] = math.nan
    return table


def with_notes_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its coverage and maturity columns as plain text, for a grid on screen or a CSV."""

    def joined(notes: Any) -> str:
        if isinstance(notes, dict):
            return "; ".join(f"{kpi}: {text}" for kpi, text in notes.items())
        return ", ".join(notes) if isinstance(notes, list) else ""

    return table.drop(columns=["maturity_days"]).assign(
        unavailable=table["unavailable"].map(joined),
        coverage_notes=table["coverage_notes"].map(joined),
        maturing=table["maturing"].map(joined),
    )
