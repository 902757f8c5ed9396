"""KPI counts kept per local day, lead source and segment (core.models.rollups), and the views that read them.

`refresh_rollups` rewrites them set-wise from the rows (one INSERT … SELECT per table), inside the transaction
of the import or settings change that moved them, so a reader never sees counts that disagree with the rows.
`covers` says which views they serve: unfiltered, by source or by segment, filtered by sources and segments
only; every other view reads the rows (core.funnel.kpis), and both give the same numbers (tests/test_rollups.py
and the property test in tests/test_kept_at_import.py hold them to it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Date,
    String,
    and_,
    case,
    column,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)

from core import coverage, sql
from core.funnel import caveats, medians
from core.funnel.query import KpiQuery
from core.funnel.segments import NOT_SET, Filters, segment_expression
from core.models import CalendarDay, CreatedDayFacts, DealDayFacts, Lead, MaturityLag, MqlDayFacts, Opportunity
from core.settings import CLOCK_KEYS, PLACEMENT_KEYS, OrgSettings, load

NO_LEAD = "(no lead)"
# The imports whose rows the counts are made of; touches, spend and targets move none of them.
REFRESHED_BY = ("leads", "opportunities")


def covers(query: KpiQuery) -> bool:
    """Whether the kept counts answer this view: grouped by nothing, source or segment, filtered by sources and
    segments only (lead owners, campaigns, industries and size bands are not kept per day)."""
    return query.by in (None, "source", "segment") and _kept_filters(query.filters)


def _kept_filters(filters: Filters) -> bool:
    """Whether the kept cells can be filtered so: by sources and segments only."""
    return filters == Filters(sources=filters.sources, segments=filters.segments)


# ---------------------------------------------------------------------------------------------------- writing


def lead_conditions(settings: OrgSettings) -> dict[str, Any]:
    """Each lead count's condition, by the name of its column: the kept day counts and the row path
    (core.funnel.kpis) both count these. A blank reason, or one of punctuation only, has no reason_key."""
    sql_known = coverage.carried(Lead.carried, "leads", "sql_at")
    disposition_known = coverage.carried(Lead.carried, "leads", "sql_at", "rejected_at")
    reason_known = coverage.carried(Lead.carried, "leads", "sql_at", "rejected_at", "rejection_reason")
    response_known = coverage.carried(Lead.carried, "leads", "first_response_at")
    completeness_known = coverage.carried(Lead.carried, "leads", "company", "title", "email", "intent_signal")
    rejected = and_(disposition_known, Lead.rejected_at.is_not(None))
    unanswered = and_(response_known, Lead.first_response_at.is_(None))
    sla_minutes = settings.sla_hours * 60.0
    won_leads = select(Opportunity.lead_id).where(Opportunity.is_won.is_(True), Opportunity.lead_id.is_not(None))
    leads_with_opportunity = select(Opportunity.lead_id).where(Opportunity.lead_id.is_not(None))
    return {
        "sqls": Lead.sql_at.is_not(None),
        "sql_known": sql_known,
        "opportunity_mqls": Lead.lead_id.in_(leads_with_opportunity),
        "won_mqls": Lead.lead_id.in_(won_leads),
        "disposition_known": disposition_known,
        "rejection_dates_known": coverage.carried(Lead.carried, "leads", "rejected_at"),
        "dispositioned": and_(disposition_known, or_(Lead.sql_at.is_not(None), Lead.rejected_at.is_not(None))),
        "rejected": rejected,
        "reason_known": and_(rejected, reason_known),
        "rejected_no_reason": and_(rejected, reason_known, Lead.reason_key.is_(None)),
        "response_known": response_known,
        "sla_met": and_(response_known, Lead.response_minutes <= sla_minutes),
        "sla_late": and_(response_known, Lead.response_minutes > sla_minutes),
        "unanswered": unanswered,
        "unanswered_without_due": and_(unanswered, Lead.sla_due_at.is_(None)),
        "completeness_known": completeness_known,
        "complete_mqls": and_(
            completeness_known,
            sql.filled(Lead.company),
            sql.filled(Lead.title),
            sql.filled(Lead.email),
            sql.filled(Lead.source),
            Lead.source != "unknown",
            sql.filled(Lead.intent_signal),
        ),
    }


def _fill_leads(
    connection: Connection, settings: OrgSettings, only: dict[str, Any] | None = None, *, created: bool = True
) -> None:
    """Insert the lead cells (the MQL cells, and unless not `created` the creation cells), of every day or
    (`only`) of the days selected under "mql" and "created"."""
    segment = segment_expression(settings)  # one object: PostgreSQL matches GROUP BY expressions by identity
    conditions = lead_conditions(settings)
    counts = [sql.count_if(condition).label(name) for name, condition in conditions.items()]
    mqls = (
        select(
            Lead.mql_day,
            Lead.source,
            segment.label("segment"),
            func.count().label("mqls"),
            *counts,
            func.count(Lead.response_minutes).label("responded"),
        )
        .where(Lead.mql_day.is_not(None), *([Lead.mql_day.in_(only["mql"])] if only else []))
        .group_by(Lead.mql_day, Lead.source, segment)
    )
    names = ["mql_day", "source", "segment", "mqls", *conditions, "responded"]
    connection.execute(insert(MqlDayFacts).from_select(names, mqls))
    if not created:
        return
    created_cells = (
        select(Lead.created_day, Lead.source, segment.label("segment"), func.count())
        .where(*([Lead.created_day.in_(only["created"])] if only else []))
        .group_by(Lead.created_day, Lead.source, segment)
    )
    connection.execute(
        insert(CreatedDayFacts).from_select(["created_day", "source", "segment", "leads_created"], created_cells)
    )


def _fill_deals(connection: Connection, settings: OrgSettings, only: dict[str, Any] | None = None) -> None:
    """Insert the deal cells, of every day or (`only`) of the days selected under "deal"."""
    linked = Lead.lead_id.is_not(None)
    source = case((linked, Lead.source), else_=literal(""))
    segment = segment_expression(settings)  # NULL company size on a missing lead: "unknown", as the rows see it
    won = Opportunity.is_won.is_(True)
    marketing = or_(Opportunity.origin == "marketing", and_(Opportunity.origin.is_(None), Lead.mql_at.is_not(None)))
    outcome_known = coverage.carried(Opportunity.carried, "opportunities", "is_won", extra=coverage.LOSSES_BIT)
    names = [
        "day",
        "event",
        "linked",
        "source",
        "segment",
        "deals",
        "amount",
        "marketing_amount",
        "sales_amount",
        "without_amount",
        "won",
        "closed_known",
        "won_known",
        "won_amount",
        "won_with_amount",
        "won_cycle_days",
        "won_with_cycle",
    ]
    for event, day in (("created", Opportunity.created_day), ("closed", Opportunity.closed_day)):
        linked_flag = case((linked, true()), else_=false())
        statement = (
            select(
                day,
                literal(event),
                linked_flag,
                source,
                segment,
                func.count(),
                func.sum(Opportunity.amount),
                func.sum(case((marketing, Opportunity.amount), else_=0.0)),
                func.sum(case((marketing, 0.0), else_=Opportunity.amount)),
                sql.count_if(Opportunity.amount.is_(None)),
                sql.count_if(won),
                sql.count_if(outcome_known),
                sql.count_if(and_(outcome_known, won)),
                func.sum(case((won, Opportunity.amount))),
                func.count(case((won, Opportunity.amount))),
                func.sum(case((won, Opportunity.cycle_days))),
                func.count(case((won, Opportunity.cycle_days))),
            )
            .select_from(Opportunity)
            .outerjoin(Lead, Lead.lead_id == Opportunity.lead_id)
            .where(day.is_not(None), *([day.in_(only["deal"])] if only else []))
            .group_by(day, linked_flag, source, segment)
        )
        connection.execute(insert(DealDayFacts).from_select(names, statement))


def refresh_rollups(connection: Connection, settings: OrgSettings | None = None) -> None:
    """Rewrite everything kept beside the rows for the KPIs (day counts, maturity lags, period medians), in the
    caller's transaction."""
    settings = settings or load(connection)
    refresh_counts(connection, settings)
    medians.rebuild(connection, settings, "response")
    medians.rebuild(connection, settings, "cycle")


def refresh_counts(connection: Connection, settings: OrgSettings) -> None:
    """Rewrite the day counts and the maturity lags (migration 0014 fills them, before the medians existed)."""
    for facts in (MqlDayFacts, CreatedDayFacts, DealDayFacts):
        connection.execute(delete(facts))
    _fill_leads(connection, settings)
    _fill_deals(connection, settings)
    _refresh_lags(connection)


def refresh_after_settings(connection: Connection, before: OrgSettings, after: OrgSettings) -> None:
    """Rewrite what a settings change moves, after the derived columns were recomputed: the cells of every row
    when its day or segment moves (timezone, segment bands); the MQL cells, whose SLA counts follow the hours
    and the clock, and the response medians when the clock moves. The lags read no setting."""
    changed = before.differences(after)
    placement = bool(changed & PLACEMENT_KEYS)
    responses = bool(changed & CLOCK_KEYS)
    if placement or responses or "sla_hours" in changed:
        connection.execute(delete(MqlDayFacts))
        if placement:
            connection.execute(delete(CreatedDayFacts))
        _fill_leads(connection, after, created=placement)
    if placement:
        connection.execute(delete(DealDayFacts))
        _fill_deals(connection, after)
        medians.rebuild(connection, after, "cycle")
    if placement or responses:
        medians.rebuild(connection, after, "response")


# The days whose cells an import moves, by the cells they key ("mql", "created", "deal"): a temporary table, so
# that a weekly import rewrites the cells of the days it touched, not two years of them.
TOUCHED_DAYS = "rollup_touched_days"
_touched = table(TOUCHED_DAYS, column("facts", String), column("day", Date))


def note_touched_days(connection: Connection, kind: str, keys: str, parameters: dict[str, Any] | None = None) -> None:
    """Add the days the rows of `kind` whose keys the SQL `keys` selects hold now: call it before the merge
    with the rows it will change (their old days), and after it with the rows it wrote (their new days).

    A lead keys the cells of its MQL day and creation day, and the deal cells of its deals (their source and
    segment are the lead's); a deal keys the cells of its creation and close days, and its lead's MQL cell
    (which counts leads with deals)."""
    if kind not in REFRESHED_BY:
        return
    if connection.dialect.name == "sqlite":
        connection.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {TOUCHED_DAYS} (facts VARCHAR(8), day DATE)"))
    else:
        connection.execute(
            text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {TOUCHED_DAYS} (facts VARCHAR(8), day DATE) ON COMMIT DROP")
        )
    if kind == "leads":
        chosen = Lead.lead_id.in_(select(column("lead_id")).select_from(text(f"({keys}) AS chosen")))
        deals = Opportunity.lead_id.in_(select(column("lead_id")).select_from(text(f"({keys}) AS chosen")))
        days = [
            select(literal("mql"), Lead.mql_day).where(chosen),
            select(literal("created"), Lead.created_day).where(chosen),
            select(literal("deal"), Opportunity.created_day).where(deals),
            select(literal("deal"), Opportunity.closed_day).where(deals),
        ]
    else:
        chosen = Opportunity.opportunity_id.in_(
            select(column("opportunity_id")).select_from(text(f"({keys}) AS chosen"))
        )
        days = [
            select(literal("deal"), Opportunity.created_day).where(chosen),
            select(literal("deal"), Opportunity.closed_day).where(chosen),
            select(literal("mql"), Lead.mql_day).join(Opportunity, Opportunity.lead_id == Lead.lead_id).where(chosen),
        ]
    for statement in days:
        connection.execute(insert(_touched).from_select(["facts", "day"], statement), parameters or {})


def refresh_touched_days(connection: Connection, kind: str) -> None:
    """Rewrite the cells of the days noted by `note_touched_days`, the maturity lags, and the medians of the periods
    from the first touched one on, from the rows."""
    settings = load(connection)
    only = {
        facts: select(_touched.c.day).where(_touched.c.facts == facts, _touched.c.day.is_not(None)).distinct()
        for facts in ("mql", "created", "deal")
    }
    connection.execute(delete(MqlDayFacts).where(MqlDayFacts.mql_day.in_(only["mql"])))
    connection.execute(delete(CreatedDayFacts).where(CreatedDayFacts.created_day.in_(only["created"])))
    connection.execute(delete(DealDayFacts).where(DealDayFacts.day.in_(only["deal"])))
    _fill_leads(connection, settings, only)
    _fill_deals(connection, settings, only)
    _refresh_lags(connection)
    # Response times are the leads' own; a deal's cycle is grouped by its lead's source and segment.
    pairs: tuple[tuple[medians.Metric, str], ...] = (("response", "mql"),) if kind == "leads" else ()
    for metric, facts in (*pairs, ("cycle", "deal")):
        first = connection.execute(select(func.min(_touched.c.day)).where(_touched.c.facts == facts)).scalar()
        if first is not None:
            medians.rebuild(connection, settings, metric, medians.since(pd.Timestamp(first).date()))
    connection.execute(text(f"DELETE FROM {TOUCHED_DAYS}"))


def _refresh_lags(connection: Connection) -> None:
    connection.execute(delete(MaturityLag))
    lags = caveats.maturity_lags(connection)
    if lags:
        connection.execute(insert(MaturityLag), [{"kpi": kpi, "days": days} for kpi, days in lags.items()])


def kept_maturity_lags(connection: Connection) -> dict[str, float]:
    """The maturity lags as the last import measured them (caveats.maturity_lags sorts every lead)."""
    return {kpi: days for kpi, days in connection.execute(select(MaturityLag.kpi, MaturityLag.days)).all()}


# ---------------------------------------------------------------------------------------------------- reading


def _group(query: KpiQuery, source: Any, segment: Any) -> Any:
    return {None: literal("all"), "source": source, "segment": segment}[query.by]


def _lead_scope(filters: Filters, source: Any, segment: Any) -> list[Any]:
    conditions = []
    if filters.sources:
        conditions.append(source.in_(filters.sources))
    if filters.segments:
        conditions.append(segment.in_(filters.segments))
    return conditions


MQL_SUMS = (
    "mqls",
    "sqls",
    "sql_known",
    "opportunity_mqls",
    "won_mqls",
    "disposition_known",
    "rejection_dates_known",
    "dispositioned",
    "rejected",
    "reason_known",
    "rejected_no_reason",
    "response_known",
    "sla_met",
    "sla_late",
    "unanswered",
    "unanswered_without_due",
    "responded",
    "completeness_known",
    "complete_mqls",
)


def _rarely(connection: Connection, condition: Any) -> Any:
    """`condition`, marked rare for SQLite's planner: without statistics it would walk the days' index over
    every lead in range instead of the unanswered leads' index by due time."""
    if connection.dialect.name == "sqlite":
        return func.likelihood(condition, literal_column("0.001"))
    return condition


def mql_counts(connection: Connection, query: KpiQuery, settings: OrgSettings, as_of: dt.datetime) -> pd.DataFrame:
    """The MQL cohort's counts per (bucket, grp), as core.funnel.kpis counts them on the rows."""
    facts = MqlDayFacts
    sums = [func.sum(getattr(facts, name)).label(name) for name in MQL_SUMS]
    group = _group(query, facts.source, facts.segment)
    scope = _lead_scope(query.filters, facts.source, facts.segment)
    counts = sql.frame(connection, _bucketed(query, facts.mql_day, group, sums, scope))
    bucket = sql.bucket(query.grain, query.first_day)
    # Unanswered leads whose SLA has not run out at `as_of`: pending, not breached. Few rows, by their index.
    segment = segment_expression(settings)
    lead_group = _group(query, Lead.source, segment)
    response_known = coverage.carried(Lead.carried, "leads", "first_response_at")
    due_later = sql.frame(
        connection,
        select(bucket.label("bucket"), lead_group.label("grp"), func.count().label("due_later"))
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.mql_day)
        .where(
            Lead.first_response_at.is_(None),
            _rarely(connection, Lead.sla_due_at > as_of),
            response_known,
            Lead.mql_day >= query.first_day,
            Lead.mql_day <= query.last_day,
            *_lead_scope(query.filters, Lead.source, segment),
        )
        .group_by(bucket, lead_group),
    )
    if counts.empty:
        return counts
    counts = counts.merge(due_later, on=["bucket", "grp"], how="left") if not due_later.empty else counts
    later = pd.to_numeric(counts["due_later"]).fillna(0) if "due_later" in counts else 0
    numeric = {name: pd.to_numeric(counts[name]) for name in ("sla_late", "unanswered", "unanswered_without_due")}
    counts["sla_pending"] = numeric["unanswered_without_due"] + later
    counts["sla_breached"] = numeric["sla_late"] + numeric["unanswered"] - counts["sla_pending"]
    return counts.drop(columns=["sla_late", "unanswered", "unanswered_without_due", "due_later"], errors="ignore")


COHORT = ("mqls", "disposition_known", "rejection_dates_known", "dispositioned", "rejected")


def mql_cohort(connection: Connection, first: dt.date, last: dt.date, filters: Filters) -> dict[str, int] | None:
    """The counts of the MQLs of `first`..`last` the Rejections page's overview reads (COHORT), summed from the
    kept day counts; None when `filters` reach past sources and segments, and the caller counts the rows."""
    if not _kept_filters(filters):
        return None
    facts = MqlDayFacts
    sums = connection.execute(
        select(*(func.coalesce(func.sum(getattr(facts, name)), 0).label(name) for name in COHORT)).where(
            facts.mql_day >= first, facts.mql_day <= last, *_lead_scope(filters, facts.source, facts.segment)
        )
    ).one()
    return {name: int(value) for name, value in zip(COHORT, sums, strict=True)}


def created_leads(connection: Connection, query: KpiQuery) -> pd.DataFrame:
    facts = CreatedDayFacts
    group = _group(query, facts.source, facts.segment)
    created = [func.sum(facts.leads_created).label("leads_created")]
    scope = _lead_scope(query.filters, facts.source, facts.segment)
    return sql.frame(connection, _bucketed(query, facts.created_day, group, created, scope))


def _deal_statement(query: KpiQuery, event: str, columns: list[Any]) -> Any:
    facts = DealDayFacts
    # A deal without a lead is its own group, and no source picks it; the segment "unknown" does.
    source = case((facts.linked.is_(True), facts.source), else_=literal(None))
    group = {
        None: literal("all"),
        "source": case((facts.linked.is_(True), func.coalesce(source, NOT_SET)), else_=literal(NO_LEAD)),
        "segment": case((facts.linked.is_(True), facts.segment), else_=literal(NO_LEAD)),
    }[query.by]
    scope = [facts.event == event, *_lead_scope(query.filters, source, facts.segment)]
    return _bucketed(query, facts.day, group, columns, scope)


def _bucketed(query: KpiQuery, day: Any, group: Any, columns: list[Any], scope: list[Any]) -> Any:
    """The cells of the view's range summed per (bucket, grp): `day` is the cells' day column."""
    bucket = sql.bucket(query.grain, query.first_day)
    return (
        select(bucket.label("bucket"), group.label("grp"), *columns)
        .select_from(day.class_)
        .join(CalendarDay, CalendarDay.day == day)
        .where(day >= query.first_day, day <= query.last_day, *scope)
        .group_by(bucket, group)
    )


def created_deals(connection: Connection, query: KpiQuery) -> pd.DataFrame:
    facts = DealDayFacts
    statement = _deal_statement(
        query,
        "created",
        [
            func.sum(facts.deals).label("opportunities_created"),
            func.sum(facts.amount).label("pipeline_created"),
            func.sum(facts.marketing_amount).label("pipeline_marketing"),
            func.sum(facts.sales_amount).label("pipeline_sales"),
            func.sum(facts.without_amount).label("opportunities_without_amount"),
        ],
    )
    return sql.frame(connection, statement)


def closed_deals(connection: Connection, query: KpiQuery) -> pd.DataFrame:
    facts = DealDayFacts
    statement = _deal_statement(
        query,
        "closed",
        [
            func.sum(facts.deals).label("closed"),
            func.sum(facts.won).label("won"),
            func.sum(facts.closed_known).label("closed_known"),
            func.sum(facts.won_known).label("won_known"),
            func.sum(facts.won_amount).label("won_amount"),
            func.sum(facts.won_with_amount).label("won_with_amount"),
            func.sum(facts.won_cycle_days).label("won_cycle_days"),
            func.sum(facts.won_with_cycle).label("won_with_cycle"),
        ],
    )
    closed = sql.frame(connection, statement)
    if not closed.empty:
        cycles = pd.to_numeric(closed.pop("won_with_cycle"))
        total = pd.to_numeric(closed.pop("won_cycle_days"))
        closed["mean_cycle_days"] = total / cycles.where(cycles > 0)
    return closed
