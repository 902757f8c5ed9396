"""The KPI engine: every KPI of PRODUCT.md for a date range, a grain, a grouping and filters.

All counting happens in SQL (one aggregate query per fact table, plus one window
query per median); pandas only joins the small per-period results and divides.
A rate whose denominator is zero is "no data" (NaN / JSON null), never 0% and
never an exception.

Period P is a bucket of local days; "MQLs of P" are the leads whose mql_day
falls in P (the cohort), and every lead-side KPI follows that cohort.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)

from core import coverage, sql
from core.models import CalendarDay, Lead, Opportunity, Target, utcnow
from core.periods import Grain, periods
from core.settings import OrgSettings, load

GroupBy = Literal["source", "owner", "segment", "campaign"]
GROUP_BYS: tuple[GroupBy, ...] = ("source", "owner", "segment", "campaign")
NO_LEAD = "(no lead)"
NOT_SET = "(not set)"

# Coverage (core.coverage): how many of a rate's rows carried what it needs.
COVERAGE_COUNTS = (
    "sql_known",
    "disposition_known",
    "reason_known",
    "response_known",
    "completeness_known",
    "closed_known",
    "won_known",
)
KPI_COLUMNS: tuple[str, ...] = (
    "period_start",
    "period_end",
    "group",
    "leads_created",
    "mqls",
    "mql_target",
    "mql_attainment",
    "sqls",
    "mql_to_sql",
    "conversion_gate",
    "opportunity_mqls",
    "won_mqls",
    "mql_to_won",
    "dispositioned",
    "rejected",
    "rejection_share",
    "rejection_gate",
    "rejected_no_reason",
    "sla_hours",
    "sla_business_hours",
    "sla_met",
    "sla_breached",
    "sla_pending",
    "sla_compliance",
    "responded",
    "median_response_hours",
    "complete_mqls",
    "data_completeness",
    "opportunities_created",
    "pipeline_created",
    "pipeline_marketing",
    "pipeline_sales",
    "opportunities_without_amount",
    "pipeline_target",
    "pipeline_attainment",
    "closed",
    "won",
    "win_rate",
    "won_amount",
    "median_cycle_days",
    "mean_cycle_days",
    "pipeline_velocity_per_day",
    *COVERAGE_COUNTS,
    "unavailable",  # KPI -> why it cannot be counted from the data imported
    "coverage_notes",  # KPI -> what it is based on, when some rows did not carry what it needs
    "maturing",  # the KPIs of a cohort too young to have converted as past cohorts did
    "maturity_days",  # KPI -> days in which nine in ten past conversions happened (for the KPIs maturing)
)


@dataclass(frozen=True)
class Filters:
    """Empty tuples mean "all". Lead owner for lead KPIs, opportunity owner for opportunity KPIs."""

    sources: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    size_bands: tuple[str, ...] = ()  # names of SIZE_BANDS


@dataclass(frozen=True)
class KpiQuery:
    first_day: dt.date
    last_day: dt.date
    grain: Grain | Literal["range"] = "month"  # "range": the whole range as one period
    by: GroupBy | None = None
    filters: Filters = field(default_factory=Filters)
    as_of: dt.datetime | None = None  # naive UTC; default now


def segment_expression(settings: OrgSettings) -> ColumnElement[str]:
    size = Lead.company_size
    return case(
        (size.is_(None), literal("unknown")),
        (size < settings.mid_market_from, literal("smb")),
        (size < settings.enterprise_from, literal("mid_market")),
        else_=literal("enterprise"),
    )


# Company-size bands by employees: (name, first, last); finer than the segments, for targeting questions.
SIZE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1-9", 0, 9),
    ("10-49", 10, 49),
    ("50-199", 50, 199),
    ("200-999", 200, 999),
    ("1000-4999", 1000, 4999),
    ("5000+", 5000, None),
)
UNKNOWN_SIZE = "unknown"


def size_band_expression() -> ColumnElement[str]:
    size = Lead.company_size
    bands = [(size <= last, literal(name)) for name, _, last in SIZE_BANDS if last is not None]
    return case((size.is_(None), literal(UNKNOWN_SIZE)), *bands, else_=literal(SIZE_BANDS[-1][0]))


def lead_filters(query: KpiQuery, settings: OrgSettings) -> list[ColumnElement[bool]]:
    filters = query.filters
    conditions: list[ColumnElement[bool]] = []
    if filters.sources:
        conditions.append(Lead.source.in_(filters.sources))
    if filters.campaigns:
        conditions.append(func.coalesce(Lead.campaign, NOT_SET).in_(filters.campaigns))
    if filters.segments:
        conditions.append(segment_expression(settings).in_(filters.segments))
    if filters.industries:
        conditions.append(func.coalesce(Lead.industry, NOT_SET).in_(filters.industries))
    if filters.size_bands:
        conditions.append(size_band_expression().in_(filters.size_bands))
    return conditions


def _lead_group(query: KpiQuery, settings: OrgSettings) -> Any:
    if query.by == "source":
        return Lead.source
    if query.by == "owner":
        return func.coalesce(Lead.owner, NOT_SET)
    if query.by == "segment":
        return segment_expression(settings)
    if query.by == "campaign":
        return func.coalesce(Lead.campaign, NOT_SET)
    return literal("all")


def _opportunity_group(query: KpiQuery, settings: OrgSettings) -> Any:
    if query.by == "owner":
        return func.coalesce(Opportunity.owner, NOT_SET)
    if query.by is None:
        return literal("all")
    lead_side = _lead_group(query, settings)
    return case((Lead.lead_id.is_(None), literal(NO_LEAD)), else_=func.coalesce(lead_side, NOT_SET))


def _median(connection: Connection, base: Select[Any], value: Any, label: str) -> Select[Any]:
    """Median of `value` per (bucket, grp) of `base`: the mean of the two middle values when the count is even."""
    if connection.dialect.name == "postgresql":
        # One ordered-set aggregate instead of two window passes; percentile_cont interpolates the same way.
        middle_value = func.percentile_cont(0.5).within_group(value)
        return (
            base.add_columns(middle_value.label(label))
            .where(value.is_not(None))
            .group_by(base.selected_columns.bucket, base.selected_columns.grp)
        )
    ranked = (
        base.add_columns(
            value.label("value"),
            func.row_number()
            .over(partition_by=[base.selected_columns.bucket, base.selected_columns.grp], order_by=value)
            .label("rn"),
            func.count().over(partition_by=[base.selected_columns.bucket, base.selected_columns.grp]).label("n"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    return (
        select(ranked.c.bucket, ranked.c.grp, func.avg(ranked.c.value).label(label))
        .where(middle)
        .group_by(ranked.c.bucket, ranked.c.grp)
    )


def _lead_facts(connection: Connection, query: KpiQuery, settings: OrgSettings, as_of: dt.datetime) -> pd.DataFrame:
    bucket = sql.bucket(query.grain, query.first_day)
    group = _lead_group(query, settings)
    sla_minutes = settings.sla_hours * 60.0
    won_leads = select(Opportunity.lead_id).where(Opportunity.is_won.is_(True), Opportunity.lead_id.is_not(None))
    leads_with_opportunity = select(Opportunity.lead_id).where(Opportunity.lead_id.is_not(None))
    base_where = and_(
        Lead.mql_day >= query.first_day,
        Lead.mql_day <= query.last_day,
        *lead_filters(query, settings),
        *([func.coalesce(Lead.owner, NOT_SET).in_(query.filters.owners)] if query.filters.owners else []),
    )
    no_response = Lead.first_response_at.is_(None)
    sql_known = coverage.carried(Lead.carried, "leads", "sql_at")
    disposition_known = coverage.carried(Lead.carried, "leads", "sql_at", "rejected_at")
    reason_known = coverage.carried(Lead.carried, "leads", "sql_at", "rejected_at", "rejection_reason")
    response_known = coverage.carried(Lead.carried, "leads", "first_response_at")
    completeness_known = coverage.carried(Lead.carried, "leads", "company", "title", "email", "intent_signal")
    rejected = and_(disposition_known, Lead.rejected_at.is_not(None))
    counts = (
        select(
            bucket.label("bucket"),
            group.label("grp"),
            func.count().label("mqls"),
            sql.count_if(Lead.sql_at.is_not(None)).label("sqls"),
            sql.count_if(sql_known).label("sql_known"),
            sql.count_if(Lead.lead_id.in_(leads_with_opportunity)).label("opportunity_mqls"),
            sql.count_if(Lead.lead_id.in_(won_leads)).label("won_mqls"),
            sql.count_if(disposition_known).label("disposition_known"),
            sql.count_if(and_(disposition_known, or_(Lead.sql_at.is_not(None), Lead.rejected_at.is_not(None)))).label(
                "dispositioned"
            ),
            sql.count_if(rejected).label("rejected"),
            sql.count_if(and_(rejected, reason_known)).label("reason_known"),
            # reason_key is NULL for a blank reason and for one of punctuation only ("-", "?").
            sql.count_if(and_(rejected, reason_known, Lead.reason_key.is_(None))).label("rejected_no_reason"),
            sql.count_if(response_known).label("response_known"),
            sql.count_if(and_(response_known, Lead.response_minutes <= sla_minutes)).label("sla_met"),
            sql.count_if(
                and_(
                    response_known,
                    or_(Lead.response_minutes > sla_minutes, and_(no_response, Lead.sla_due_at <= as_of)),
                )
            ).label("sla_breached"),
            sql.count_if(
                and_(response_known, no_response, or_(Lead.sla_due_at > as_of, Lead.sla_due_at.is_(None)))
            ).label("sla_pending"),
            func.count(Lead.response_minutes).label("responded"),
            sql.count_if(completeness_known).label("completeness_known"),
            sql.count_if(
                and_(
                    completeness_known,
                    sql.filled(Lead.company),
                    sql.filled(Lead.title),
                    sql.filled(Lead.email),
                    sql.filled(Lead.source),
                    Lead.source != "unknown",
                    sql.filled(Lead.intent_signal),
                )
            ).label("complete_mqls"),
        )
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.mql_day)
        .where(base_where)
        .group_by(bucket, group)
    )
    facts = sql.frame(connection, counts)
    median_base = (
        select(bucket.label("bucket"), group.label("grp"))
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.mql_day)
        .where(base_where)
    )
    medians = sql.frame(connection, _median(connection, median_base, Lead.response_minutes, "median_response_minutes"))
    return _merge(facts, medians)


def _created_leads(connection: Connection, query: KpiQuery, settings: OrgSettings) -> pd.DataFrame:
    """Leads created in each period: the top of the funnel, before anyone qualified them."""
    bucket = sql.bucket(query.grain, query.first_day)
    group = _lead_group(query, settings)  # one expression object: PostgreSQL matches GROUP BY by its parameters
    statement = (
        select(bucket.label("bucket"), group.label("grp"), func.count().label("leads_created"))
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.created_day)
        .where(
            Lead.created_day >= query.first_day,
            Lead.created_day <= query.last_day,
            *lead_filters(query, settings),
            *([func.coalesce(Lead.owner, NOT_SET).in_(query.filters.owners)] if query.filters.owners else []),
        )
        .group_by(bucket, group)
    )
    return sql.frame(connection, statement)


def opportunity_scope(query: KpiQuery, settings: OrgSettings) -> list[ColumnElement[bool]]:
    conditions = lead_filters(query, settings)
    if query.filters.owners:
        conditions.append(func.coalesce(Opportunity.owner, NOT_SET).in_(query.filters.owners))
    return conditions


def _created_facts(connection: Connection, query: KpiQuery, settings: OrgSettings) -> pd.DataFrame:
    bucket = sql.bucket(query.grain, query.first_day)
    group = _opportunity_group(query, settings)
    marketing = or_(Opportunity.origin == "marketing", and_(Opportunity.origin.is_(None), Lead.mql_at.is_not(None)))
    statement = (
        select(
            bucket.label("bucket"),
            group.label("grp"),
            func.count().label("opportunities_created"),
            func.sum(Opportunity.amount).label("pipeline_created"),
            func.sum(case((marketing, Opportunity.amount), else_=0.0)).label("pipeline_marketing"),
            func.sum(case((marketing, 0.0), else_=Opportunity.amount)).label("pipeline_sales"),
            sql.count_if(Opportunity.amount.is_(None)).label("opportunities_without_amount"),
        )
        .select_from(Opportunity)
        .outerjoin(Lead, Lead.lead_id == Opportunity.lead_id)
        .join(CalendarDay, CalendarDay.day == Opportunity.created_day)
        .where(
            Opportunity.created_day >= query.first_day,
            Opportunity.created_day <= query.last_day,
            *opportunity_scope(query, settings),
        )
        .group_by(bucket, group)
    )
    return sql.frame(connection, statement)


def _closed_facts(connection: Connection, query: KpiQuery, settings: OrgSettings) -> pd.DataFrame:
    bucket = sql.bucket(query.grain, query.first_day)
    group = _opportunity_group(query, settings)
    won = Opportunity.is_won.is_(True)
    # A win rate needs files that say won or lost, and held some losses: a file of wins alone proves nothing.
    outcome_known = coverage.carried(Opportunity.carried, "opportunities", "is_won", extra=coverage.LOSSES_BIT)
    where = and_(
        Opportunity.closed_day >= query.first_day,
        Opportunity.closed_day <= query.last_day,
        *opportunity_scope(query, settings),
    )
    statement = (
        select(
            bucket.label("bucket"),
            group.label("grp"),
            func.count().label("closed"),
            sql.count_if(won).label("won"),
            sql.count_if(outcome_known).label("closed_known"),
            sql.count_if(and_(outcome_known, won)).label("won_known"),
            func.sum(case((won, Opportunity.amount))).label("won_amount"),
            func.count(case((won, Opportunity.amount))).label("won_with_amount"),
            func.avg(case((won, Opportunity.cycle_days))).label("mean_cycle_days"),
        )
        .select_from(Opportunity)
        .outerjoin(Lead, Lead.lead_id == Opportunity.lead_id)
        .join(CalendarDay, CalendarDay.day == Opportunity.closed_day)
        .where(where)
        .group_by(bucket, group)
    )
    facts = sql.frame(connection, statement)
    median_base = (
        select(bucket.label("bucket"), group.label("grp"))
        .select_from(Opportunity)
        .outerjoin(Lead, Lead.lead_id == Opportunity.lead_id)
        .join(CalendarDay, CalendarDay.day == Opportunity.closed_day)
        .where(where, won)
    )
    medians = sql.frame(connection, _median(connection, median_base, Opportunity.cycle_days, "median_cycle_days"))
    return _merge(facts, medians)


def _targets(connection: Connection, query: KpiQuery) -> pd.DataFrame:
    """Monthly targets spread evenly over their days, summed per bucket (partial periods get a share)."""
    bucket = sql.bucket(query.grain, query.first_day)
    statement = (
        select(
            bucket.label("bucket"),
            literal("all").label("grp"),
            func.sum(case((Target.metric == "mqls", Target.value / CalendarDay.days_in_month))).label("mql_target"),
            func.sum(case((Target.metric == "pipeline", Target.value / CalendarDay.days_in_month))).label(
                "pipeline_target"
            ),
        )
        .select_from(CalendarDay)
        .join(Target, Target.month == CalendarDay.month_start)
        .where(CalendarDay.day >= query.first_day, CalendarDay.day <= query.last_day)
        .group_by(bucket)
    )
    return sql.frame(connection, statement)


def mql_target(target: Engine | Connection, first_day: dt.date, last_day: dt.date) -> float:
    """The company's MQL target for the days from first_day to last_day (months prorated by day); NaN if none."""
    with sql.connection_of(target) as connection:
        rows = _targets(connection, KpiQuery(first_day, last_day, "range"))
    if rows.empty or pd.isna(rows["mql_target"].iloc[0]):
        return math.nan
    return round(float(rows["mql_target"].iloc[0]), 9)  # as kpi_table rounds it


def _merge(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    if left.empty:
        return right
    if right.empty:
        return left
    return left.merge(right, on=["bucket", "grp"], how="outer")


def kpi_table(target: Engine | Connection, query: KpiQuery) -> pd.DataFrame:
    """One row per period (and group), with the columns of KPI_COLUMNS."""
    as_of = query.as_of or utcnow()
    with sql.connection_of(target) as connection:
        settings = load(connection)
        leads = _merge(_lead_facts(connection, query, settings, as_of), _created_leads(connection, query, settings))
        created = _created_facts(connection, query, settings)
        closed = _closed_facts(connection, query, settings)
        targets = _targets(connection, query) if _company_wide(query) else pd.DataFrame()
        known_at_all = _known_at_all(connection)
        lags = (
            maturity_lags(connection) if query.last_day >= (as_of.date() - dt.timedelta(days=MATURITY_HORIZON)) else {}
        )

    facts = _merge(_merge(leads, created), closed)
    buckets = periods(query.first_day, query.last_day, query.grain)
    groups = sorted(facts["grp"].dropna().unique()) if not facts.empty else []
    if query.by is None:
        groups = ["all"]
    grid = pd.DataFrame(
        [(p.start, p.first_day, p.last_day, g) for p in buckets for g in groups],
        columns=["bucket", "period_start", "period_end", "grp"],
    )
    table = grid.merge(facts, on=["bucket", "grp"], how="left") if not facts.empty else grid
    if not targets.empty:
        table = table.merge(targets, on=["bucket", "grp"], how="left")
    count_columns = (
        "leads_created",
        "opportunity_mqls",
        "mqls",
        "sqls",
        "won_mqls",
        "dispositioned",
        "rejected",
        "rejected_no_reason",
        "sla_met",
        "sla_breached",
        "sla_pending",
        "responded",
        "complete_mqls",
        "opportunities_created",
        "opportunities_without_amount",
        "closed",
        "won",
        "won_with_amount",
        *COVERAGE_COUNTS,
    )
    for column in count_columns:
        table[column] = pd.to_numeric(table[column], errors="coerce").fillna(0).astype(int) if column in table else 0
    for column in (
        "mql_target",
        "pipeline_target",
        "pipeline_created",
        "pipeline_marketing",
        "pipeline_sales",
        "won_amount",
        "mean_cycle_days",
        "median_cycle_days",
        "median_response_minutes",
    ):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float) if column in table else math.nan
    # A month's target summed back from its daily shares is off in the last bits (40000.00000000001), which
    # turns an exact 87.5% attainment into 87%; nine decimals keep a week's share of a small target exact.
    for column in ("mql_target", "pipeline_target"):
        table[column] = table[column].round(9)
    # Sums over no rows are "no pipeline", which is a real 0 when the period had no opportunities.
    for column in ("pipeline_created", "pipeline_marketing", "pipeline_sales", "won_amount"):
        table[column] = table[column].fillna(0.0)

    table["group"] = table["grp"]
    table["mql_attainment"] = sql.ratio(table["mqls"], table["mql_target"])
    table["mql_to_sql"] = sql.ratio(table["sqls"], table["sql_known"])
    table["mql_to_won"] = sql.ratio(table["won_mqls"], table["mqls"])
    table["rejection_share"] = sql.ratio(table["rejected"], table["dispositioned"])
    table["sla_compliance"] = sql.ratio(table["sla_met"], table["sla_met"] + table["sla_breached"])
    table.loc[table["response_known"] == 0, "median_response_minutes"] = math.nan
    table["median_response_hours"] = table["median_response_minutes"] / 60.0
    table["data_completeness"] = sql.ratio(table["complete_mqls"], table["completeness_known"])
    table["pipeline_attainment"] = sql.ratio(table["pipeline_created"], table["pipeline_target"])
    table["win_rate"] = sql.ratio(table["won_known"], table["closed_known"])
    mean_won_amount = sql.ratio(table["won_amount"], table["won_with_amount"])
    table["pipeline_velocity_per_day"] = (
        table["opportunities_created"]
        * mean_won_amount
        * table["win_rate"]
        / table["mean_cycle_days"].where(table["mean_cycle_days"] > 0)
    )
    table["conversion_gate"] = settings.conversion_gate
    table["rejection_gate"] = settings.rejection_gate
    table["sla_hours"] = settings.sla_hours
    table["sla_business_hours"] = settings.sla_business_hours
    if not _company_wide(query):
        table["mql_target"] = math.nan
        table["pipeline_target"] = math.nan
    table = _with_coverage(table, known_at_all)
    table = _with_maturity(table, lags, as_of.date())
    return table[list(KPI_COLUMNS)].reset_index(drop=True)


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


def _with_maturity(table: pd.DataFrame, lags: dict[str, float], today: dt.date) -> pd.DataFrame:
    """Each row's `maturing`: the KPIs whose cohort ended fewer days ago than nine in ten past conversions took."""
    maturing_column: list[list[str]] = []
    days_column: list[dict[str, float]] = []
    for end, gone in zip(table["period_end"], table["unavailable"], strict=True):
        age = (today - end).days
        young = {kpi: round(days, 1) for kpi, days in lags.items() if age < days and kpi not in gone}
        maturing_column.append(sorted(young))
        days_column.append(young)
    return table.assign(maturing=maturing_column, maturity_days=days_column)


def _known_at_all(connection: Connection) -> dict[str, bool]:
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


def _with_coverage(table: pd.DataFrame, known_at_all: dict[str, bool]) -> pd.DataFrame:
    """Each row's `unavailable` (KPI -> reason) and `coverage_notes` (KPI -> what it is based on); an
    unavailable KPI's value is NaN, never a 0 that reads as a result."""
    unavailable_column: list[dict[str, str]] = []
    notes_column: list[dict[str, str]] = []
    for row in table.itertuples(index=False):
        unavailable: dict[str, str] = {}
        notes: dict[str, str] = {}
        if not known_at_all["mql_dates"]:
            unavailable["mqls"] = unavailable["mql_attainment"] = NO_MQL_DATES
        elif row.mqls and not known_at_all["deals_linked"]:
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


def _company_wide(query: KpiQuery) -> bool:
    """Targets are set for the whole company: a group or a filtered slice has none (not 12% of the total's)."""
    return query.by is None and query.filters == Filters()


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


def kpi_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: dates as ISO strings, no-data values as None."""
    records = []
    for row in table.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dt.date):
                clean[key] = value.isoformat()
            elif isinstance(value, float) and math.isnan(value):
                clean[key] = None
            elif hasattr(value, "item"):
                clean[key] = value.item()
            else:
                clean[key] = value
        records.append(clean)
    return records


def filter_options(target: Engine | Connection) -> dict[str, list[str]]:
    """Distinct values for the source, owner and campaign filters, and the segment names."""
    with sql.connection_of(target) as connection:
        sources = connection.execute(select(Lead.source).distinct().order_by(Lead.source)).scalars().all()
        owners = (
            connection.execute(
                select(Lead.owner)
                .where(Lead.owner.is_not(None))
                .union(select(Opportunity.owner).where(Opportunity.owner.is_not(None)))
            )
            .scalars()
            .all()
        )
        campaigns = (
            connection.execute(
                select(Lead.campaign).where(Lead.campaign.is_not(None)).distinct().order_by(Lead.campaign)
            )
            .scalars()
            .all()
        )
        industries = (
            connection.execute(
                select(Lead.industry).where(Lead.industry.is_not(None)).distinct().order_by(Lead.industry)
            )
            .scalars()
            .all()
        )
        # Blanks are a value one can filter on and drill into, as the groupings show them.
        blanks = {
            name: connection.execute(select(column).where(column.is_(None)).limit(1)).first() is not None
            for name, column in (("owner", Lead.owner), ("campaign", Lead.campaign), ("industry", Lead.industry))
        }

    def with_blank(name: str, values: list[str]) -> list[str]:
        return [*values, NOT_SET] if blanks[name] and NOT_SET not in values else values

    return {
        "source": list(sources),
        "owner": with_blank("owner", sorted(owners)),
        "campaign": with_blank("campaign", list(campaigns)),
        "segment": ["smb", "mid_market", "enterprise", "unknown"],
        "industry": with_blank("industry", list(industries)),
        "size_band": [*(name for name, _, _ in SIZE_BANDS), UNKNOWN_SIZE],
    }


def data_range(target: Engine | Connection) -> tuple[dt.date, dt.date] | None:
    """First and last local day with any lead, or None for an empty database."""
    with sql.connection_of(target) as connection:
        first, last = connection.execute(select(func.min(Lead.created_day), func.max(Lead.created_day))).one()
    if first is None:
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def last_mql_day_before(target: Engine | Connection, day: dt.date) -> dt.date | None:
    """The latest local day before `day` on which some lead became an MQL, or None."""
    with sql.connection_of(target) as connection:
        last = connection.execute(select(func.max(Lead.mql_day)).where(Lead.mql_day < day)).scalar_one_or_none()
    return None if last is None else pd.Timestamp(last).date()
