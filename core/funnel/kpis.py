"""The KPI engine: every KPI of PRODUCT.md for a date range, a grain, a grouping and filters.

All counting happens in SQL (one aggregate query per fact table, plus one window
query per median); pandas only joins the small per-period results and divides.
A rate whose denominator is zero is "no data" (NaN / JSON null), never 0% and
never an exception. The filters are `core.funnel.segments`; what a row cannot claim (coverage, maturity) is
`core.funnel.caveats`.

Period P is a bucket of local days; "MQLs of P" are the leads whose mql_day
falls in P (the cohort), and every lead-side KPI follows that cohort.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)

from core import coverage, sql
from core.funnel import caveats, medians, rollups
from core.funnel.query import KpiQuery
from core.funnel.segments import NOT_SET, Filters, lead_filters, opportunity_scope, segment_expression
from core.models import CalendarDay, Lead, Opportunity, Target, utcnow
from core.periods import periods
from core.settings import OrgSettings, load

NO_LEAD = "(no lead)"

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


def _lead_counts(connection: Connection, query: KpiQuery, settings: OrgSettings, as_of: dt.datetime) -> pd.DataFrame:
    """The MQL cohort's counts per (bucket, grp), from the rows: the conditions the kept day counts use
    (core.funnel.rollups.lead_conditions), with the unanswered leads split by their due time at `as_of`."""
    bucket = sql.bucket(query.grain, query.first_day)
    group = _lead_group(query, settings)
    conditions = rollups.lead_conditions(settings)
    unanswered = conditions.pop("unanswered")
    late = conditions.pop("sla_late")
    del conditions["unanswered_without_due"]  # pending below, with the leads not yet due
    base_where = and_(Lead.mql_day >= query.first_day, Lead.mql_day <= query.last_day, *_lead_scope(query, settings))
    counts = (
        select(
            bucket.label("bucket"),
            group.label("grp"),
            func.count().label("mqls"),
            *(sql.count_if(condition).label(name) for name, condition in conditions.items()),
            sql.count_if(or_(late, and_(unanswered, Lead.sla_due_at <= as_of))).label("sla_breached"),
            sql.count_if(and_(unanswered, or_(Lead.sla_due_at > as_of, Lead.sla_due_at.is_(None)))).label(
                "sla_pending"
            ),
            func.count(Lead.response_minutes).label("responded"),
        )
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.mql_day)
        .where(base_where)
        .group_by(bucket, group)
    )
    return sql.frame(connection, counts)


def _lead_scope(query: KpiQuery, settings: OrgSettings) -> list[Any]:
    return [
        *lead_filters(query.filters, settings),
        *([func.coalesce(Lead.owner, NOT_SET).in_(query.filters.owners)] if query.filters.owners else []),
    ]


def _response_medians(connection: Connection, query: KpiQuery, settings: OrgSettings) -> pd.DataFrame:
    """The median response time of each (bucket, grp) MQL cohort, exact, from the rows."""
    bucket = sql.bucket(query.grain, query.first_day)
    group = _lead_group(query, settings)
    median_base = (
        select(bucket.label("bucket"), group.label("grp"))
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.mql_day)
        .where(Lead.mql_day >= query.first_day, Lead.mql_day <= query.last_day, *_lead_scope(query, settings))
    )
    return sql.frame(connection, sql.median(connection, median_base, Lead.response_minutes, "median_response_minutes"))


def _created_leads(connection: Connection, query: KpiQuery, settings: OrgSettings) -> pd.DataFrame:
    """Leads created in each period: the top of the funnel, before anyone qualified them."""
    bucket = sql.bucket(query.grain, query.first_day)
    group = _lead_group(query, settings)  # one expression object: PostgreSQL matches GROUP BY by its parameters
    statement = (
        select(bucket.label("bucket"), group.label("grp"), func.count().label("leads_created"))
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.created_day)
        .where(Lead.created_day >= query.first_day, Lead.created_day <= query.last_day, *_lead_scope(query, settings))
        .group_by(bucket, group)
    )
    return sql.frame(connection, statement)


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
            *opportunity_scope(query.filters, settings),
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
        *opportunity_scope(query.filters, settings),
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
    return sql.frame(connection, statement)


def _cycle_medians(connection: Connection, query: KpiQuery, settings: OrgSettings) -> pd.DataFrame:
    """The median sales cycle of the deals won in each (bucket, grp), exact, from the rows."""
    bucket = sql.bucket(query.grain, query.first_day)
    group = _opportunity_group(query, settings)
    median_base = (
        select(bucket.label("bucket"), group.label("grp"))
        .select_from(Opportunity)
        .outerjoin(Lead, Lead.lead_id == Opportunity.lead_id)
        .join(CalendarDay, CalendarDay.day == Opportunity.closed_day)
        .where(
            Opportunity.closed_day >= query.first_day,
            Opportunity.closed_day <= query.last_day,
            *opportunity_scope(query.filters, settings),
            Opportunity.is_won.is_(True),
        )
    )
    return sql.frame(connection, sql.median(connection, median_base, Opportunity.cycle_days, "median_cycle_days"))


def _medians(
    connection: Connection, query: KpiQuery, settings: OrgSettings, kept: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The response and cycle medians of each (bucket, grp): those kept per whole period where they serve the
    view (core.funnel.medians), the periods the range cuts and every other view from the rows."""
    served = medians.plan(query) if kept else None
    if served is None:
        return _response_medians(connection, query, settings), _cycle_medians(connection, query, settings)
    grain, whole, edges = served
    response = [medians.read(connection, "response", grain, query.by, whole, "median_response_minutes")]
    cycle = [medians.read(connection, "cycle", grain, query.by, whole, "median_cycle_days")]
    for first, last in edges:
        part = dataclasses.replace(query, first_day=first, last_day=last)
        response.append(_response_medians(connection, part, settings))
        cycle.append(_cycle_medians(connection, part, settings))
    return _stacked(response), _stacked(cycle)


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    present = [frame for frame in frames if not frame.empty]
    return pd.concat(present, ignore_index=True) if present else frames[0]


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


def _side_by_side(*parts: pd.DataFrame) -> pd.DataFrame:
    """The parts' columns side by side on (bucket, grp), every key of any part kept: one outer join by index,
    where a merge per pair copied the growing frame each time."""
    present = [part.set_index(["bucket", "grp"]) for part in parts if not part.empty]
    if not present:
        return pd.DataFrame()
    return pd.concat(present, axis=1, join="outer").rename_axis(["bucket", "grp"]).reset_index()


def kpi_table(target: Engine | Connection, query: KpiQuery, *, from_rows: bool = False) -> pd.DataFrame:
    """One row per period (and group), with the columns of KPI_COLUMNS.

    The counts come from those kept per day at import (core.funnel.rollups) when they cover the view, else
    from the rows; `from_rows` forces the rows, for the tests that hold both to the same numbers. Medians
    always come from the rows (exact)."""
    as_of = query.as_of or utcnow()
    kept = not from_rows and rollups.covers(query)
    with sql.connection_of(target) as connection:
        settings = load(connection)
        if kept:
            lead_counts = rollups.mql_counts(connection, query, settings, as_of)
            created_leads = rollups.created_leads(connection, query)
            created = rollups.created_deals(connection, query)
            closed = rollups.closed_deals(connection, query)
        else:
            lead_counts = _lead_counts(connection, query, settings, as_of)
            created_leads = _created_leads(connection, query, settings)
            created = _created_facts(connection, query, settings)
            closed = _closed_facts(connection, query, settings)
        response, cycle = _medians(connection, query, settings, kept)
        targets = _targets(connection, query) if _company_wide(query) else pd.DataFrame()
        known_at_all = caveats.known_at_all(connection)
        lags: dict[str, float] = {}
        if query.last_day >= (as_of.date() - dt.timedelta(days=caveats.MATURITY_HORIZON)):
            lags = rollups.kept_maturity_lags(connection) if not from_rows else caveats.maturity_lags(connection)

    facts = _side_by_side(lead_counts, response, created_leads, created, closed, cycle)
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
    table = caveats.with_coverage(table, known_at_all)
    table = caveats.with_maturity(table, lags, as_of.date())
    return table[list(KPI_COLUMNS)].reset_index(drop=True)


def _company_wide(query: KpiQuery) -> bool:
    """Targets are set for the whole company: a group or a filtered slice has none (not 12% of the total's)."""
    return query.by is None and query.filters == Filters()


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
