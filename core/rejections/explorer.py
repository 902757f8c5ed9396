"""Why sales turned leads away: the rejection explorer's numbers, counted in SQL.

A rejection belongs to the day sales logged it (`rejected_day`, local), so "reasons over time" reads as
"what sales logged that week". The unqualified share against the gate is the KPI engine's rejection
share, over the period's MQL cohort, exactly as on the scoreboard.

Typed reasons are folded into keys (`core.reasons.fold`) and mapped to canonical reasons by the catalogue
at query time; a key the catalogue does not know shows as "Unmapped: <key>", a blank one as NO_REASON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, Select, and_, case, func, literal, or_, select

from core import coverage
from core.definitions.versions import IcpRules, MqlRules
from core.funnel.kpis import (
    NOT_SET,
    Filters,
    KpiQuery,
    data_range,
    kpi_records,
    lead_filters,
)
from core.funnel.scoreboard import PERIOD_PRESETS as SCOREBOARD_PRESETS
from core.funnel.scoreboard import anchor_day, completed_unit, default_anchor, percent, period_range
from core.models import CalendarDay, Lead, ReasonSynonym, RejectionReason
from core.periods import week_start
from core.settings import OrgSettings, load
from core.sql import connection_of, count_if

NO_REASON = "(no reason)"
UNMAPPED = "Unmapped: "
RUN_LENGTH = 3  # the same reason on top this many complete weeks in a row is a pattern, not noise
TOP_REASONS_COMPARED = 3

PERIOD_PRESETS: dict[str, str] = {
    "last_13_weeks": "Last 13 complete weeks",
    "this_year": "This year so far",
    **{key: label for key, label in SCOREBOARD_PRESETS.items()},
}
HeatmapBy = Literal["source", "campaign"]
DRILL_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "rejected_at",
    "reason",
    "typed_reason",
    "source",
    "campaign",
    "owner",
    "company",
    "company_size",
    "industry",
    "country",
    "seniority",
    "score",
    "touch_attempts",
    "mql_at",
)


def explorer_range(
    preset: str, today: dt.date, custom: tuple[dt.date, dt.date] | None = None
) -> tuple[dt.date, dt.date]:
    """The days a preset means on `today`; the week-based ones end with the last complete ISO week."""
    if preset == "last_13_weeks":
        last = week_start(today) - dt.timedelta(days=1)
        return last - dt.timedelta(weeks=13) + dt.timedelta(days=1), last
    if preset == "this_year":
        return dt.date(today.year, 1, 1), today
    return period_range(preset, today, custom)  # type: ignore[arg-type]


def explorer_anchor(engine: Engine, preset: str, today: dt.date) -> dt.date:
    """The day a preset counts from: for the complete-period presets, the day after the latest complete period
    with MQLs (so an import of undated leads today moves no default); for the others, today or the day after
    the data ends."""
    unit = "week" if preset == "last_13_weeks" else completed_unit(preset)  # type: ignore[arg-type]
    if unit is not None:
        return default_anchor(engine, today, unit)
    span = data_range(engine)
    return anchor_day(today, span[1] if span else None)


@dataclass(frozen=True)
class RejectionQuery:
    first_day: dt.date
    last_day: dt.date
    filters: Filters = field(default_factory=Filters)


def _reason_label() -> ColumnElement[str]:
    return case(
        (Lead.reason_key.is_(None), literal(NO_REASON)),
        (RejectionReason.name.is_(None), literal(UNMAPPED) + Lead.reason_key),
        else_=RejectionReason.name,
    )


def _attempts_required() -> ColumnElement[bool]:
    # A blank or unmapped reason says nothing that would excuse skipping the attempts.
    return or_(RejectionReason.attempts_required.is_(True), RejectionReason.id.is_(None))


def _premature(settings: OrgSettings) -> ColumnElement[bool]:
    """Rejected with fewer touch attempts than the SLA asks for, under a reason the attempts apply to."""
    return and_(Lead.touch_attempts < settings.min_touch_attempts, _attempts_required())


def _filtered(query: RejectionQuery, settings: OrgSettings) -> list[ColumnElement[bool]]:
    owners = query.filters.owners
    return [
        *lead_filters(KpiQuery(query.first_day, query.last_day, filters=query.filters), settings),
        *([func.coalesce(Lead.owner, NOT_SET).in_(owners)] if owners else []),
    ]


def _scope(query: RejectionQuery, settings: OrgSettings) -> list[ColumnElement[bool]]:
    # MQLs only: a CRM also closes leads marketing never qualified, and those say nothing about its targeting.
    return [
        Lead.rejected_day >= query.first_day,
        Lead.rejected_day <= query.last_day,
        Lead.mql_at.is_not(None),
        *_filtered(query, settings),
    ]


def _rejections(query: RejectionQuery, settings: OrgSettings, *columns: Any) -> Select[Any]:
    """SELECT columns FROM the query's rejections, each joined to its canonical reason (if any)."""
    return (
        select(*columns)
        .select_from(Lead)
        .outerjoin(ReasonSynonym, ReasonSynonym.key == Lead.reason_key)
        .outerjoin(RejectionReason, RejectionReason.id == ReasonSynonym.reason_id)
        .where(*_scope(query, settings))
    )


def _frame(connection: Connection, statement: Select[Any]) -> pd.DataFrame:
    result = connection.execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


# A blank reason counts as "no reason given" only where the import carried a reason column (core.coverage).
REASON_CARRIED = coverage.carried(Lead.carried, "leads", "rejection_reason")
DISPOSITION_CARRIED = coverage.carried(Lead.carried, "leads", "sql_at", "rejected_at")


@dataclass(frozen=True)
class Overview:
    rejected: int
    no_reason: int
    unmapped: int
    premature: int  # fewer attempts than the SLA's minimum, where the reason needs them
    attempts_unknown: int  # no touch_attempts recorded: cannot be judged
    min_touch_attempts: int
    # The KPI engine's rejection share over the period's MQL cohort (NaN when nothing was dispositioned).
    mqls: int
    dispositioned: int
    cohort_rejected: int
    unqualified_share: float
    rejection_gate: float
    # Coverage (core.coverage): rejections whose import carried a reason column, and the period's MQLs whose
    # imports carried both SQL and rejection dates; the others cannot say "no reason" or "accepted".
    reasons_known: int = 0
    disposition_known: int = 0
    rejection_dates_known: int = 0  # the period's MQLs whose imports carried a rejection date column

    @property
    def over_gate(self) -> bool:
        return self.unqualified_share == self.unqualified_share and self.unqualified_share > self.rejection_gate

    @property
    def no_reason_unavailable(self) -> str | None:
        """Why "rejected without a reason" cannot be counted, or None when it can."""
        if self.rejected and not self.reasons_known:
            return f"none of the {self.rejected:,} rejections came from a file with rejection reasons"
        return None

    @property
    def rejections_unavailable(self) -> str | None:
        """Why no rejection can be counted at all (no import carried rejection dates), or None."""
        if self.mqls and not self.rejection_dates_known and not self.rejected:
            return f"none of the {self.mqls:,} MQLs came from a file with rejection dates"
        return None

    @property
    def share_unavailable(self) -> str | None:
        """Why the unqualified share cannot be counted, or None when it can."""
        if self.mqls and not self.disposition_known:
            return f"none of the {self.mqls:,} MQLs came from a file with both SQL and rejection dates"
        return None


def overview(target: Engine | Connection, query: RejectionQuery) -> Overview:
    with connection_of(target) as connection:
        settings = load(connection)
        counts = connection.execute(
            _rejections(
                query,
                settings,
                func.count().label("rejected"),
                count_if(and_(REASON_CARRIED, Lead.reason_key.is_(None))).label("no_reason"),
                count_if(REASON_CARRIED).label("reasons_known"),
                count_if(and_(Lead.reason_key.is_not(None), RejectionReason.id.is_(None))).label("unmapped"),
                count_if(_premature(settings)).label("premature"),
                count_if(Lead.touch_attempts.is_(None)).label("attempts_unknown"),
            )
        ).one()
        # The scoreboard's rejection share (core.funnel.kpis), counted here alone: kpi_table would also run the
        # opportunity, median and target queries, seconds on a million leads for three numbers.
        cohort = connection.execute(
            select(
                func.count().label("mqls"),
                count_if(DISPOSITION_CARRIED).label("disposition_known"),
                count_if(coverage.carried(Lead.carried, "leads", "rejected_at")).label("rejection_dates_known"),
                count_if(and_(DISPOSITION_CARRIED, or_(Lead.sql_at.is_not(None), Lead.rejected_at.is_not(None)))).label(
                    "dispositioned"
                ),
                count_if(and_(DISPOSITION_CARRIED, Lead.rejected_at.is_not(None))).label("rejected"),
            ).where(Lead.mql_day >= query.first_day, Lead.mql_day <= query.last_day, *_filtered(query, settings))
        ).one()
    dispositioned = int(cohort.dispositioned or 0)
    return Overview(
        rejected=int(counts.rejected or 0),
        no_reason=int(counts.no_reason or 0),
        unmapped=int(counts.unmapped or 0),
        premature=int(counts.premature or 0),
        attempts_unknown=int(counts.attempts_unknown or 0),
        min_touch_attempts=settings.min_touch_attempts,
        mqls=int(cohort.mqls or 0),
        dispositioned=dispositioned,
        cohort_rejected=int(cohort.rejected or 0),
        unqualified_share=int(cohort.rejected or 0) / dispositioned if dispositioned else float("nan"),
        rejection_gate=settings.rejection_gate,
        reasons_known=int(counts.reasons_known or 0),
        disposition_known=int(cohort.disposition_known or 0),
        rejection_dates_known=int(cohort.rejection_dates_known or 0),
    )


def by_reason(target: Engine | Connection, query: RejectionQuery) -> pd.DataFrame:
    """The Pareto table: reason, category, rejections, share and cumulative share, most frequent first."""
    label = _reason_label()
    category = func.coalesce(RejectionReason.category, literal("none"))
    with connection_of(target) as connection:
        settings = load(connection)
        frame = _frame(
            connection,
            _rejections(query, settings, label.label("reason"), category.label("category"), func.count().label("n"))
            .group_by(label, category)
            .order_by(func.count().desc(), label),
        )
    frame = frame.rename(columns={"n": "rejections"})
    total = frame["rejections"].sum()
    frame["share"] = frame["rejections"] / total if total else 0.0
    frame["cumulative_share"] = frame["share"].cumsum()
    return frame.reset_index(drop=True)


def weekly(target: Engine | Connection, query: RejectionQuery) -> pd.DataFrame:
    """Rejections per ISO week (Monday) and reason; a week without rejections has no row."""
    label = _reason_label()
    with connection_of(target) as connection:
        settings = load(connection)
        frame = _frame(
            connection,
            _rejections(query, settings, CalendarDay.week_start.label("week"), label.label("reason"), func.count())
            .join(CalendarDay, CalendarDay.day == Lead.rejected_day)
            .group_by(CalendarDay.week_start, label),
        )
    frame.columns = ["week", "reason", "rejections"]
    frame["week"] = pd.to_datetime(frame["week"]).dt.date
    return frame.sort_values(["week", "rejections"], ascending=[True, False]).reset_index(drop=True)


def complete_weeks(first_day: dt.date, last_day: dt.date, today: dt.date) -> list[dt.date]:
    """Mondays of the ISO weeks that lie wholly inside the period and are over by `today`."""
    end = min(last_day, today - dt.timedelta(days=1))
    monday = week_start(first_day)
    if monday < first_day:
        monday += dt.timedelta(weeks=1)
    weeks = []
    while monday + dt.timedelta(days=6) <= end:
        weeks.append(monday)
        monday += dt.timedelta(weeks=1)
    return weeks


@dataclass(frozen=True)
class Streak:
    reason: str
    weeks: tuple[dt.date, ...]  # consecutive Mondays

    def sentence(self) -> str:
        first, last = self.weeks[0], self.weeks[-1]
        listed = ", ".join(f"{week:%d %b}" for week in self.weeks)
        return (
            f"“{self.reason}” topped the rejection reasons {len(self.weeks)} complete weeks in a row, "
            f"from the week of {first:%d %b %Y} to the week of {last:%d %b %Y} ({listed})."
        )


def week_tops(weekly_frame: pd.DataFrame, weeks: list[dt.date]) -> dict[dt.date, str | None]:
    """The reason that alone tops each week; None for a week with no reasoned rejection or a tie on top.
    Rejections without a reason never top a week: they are a gap in the data, not a reason. One grouped pass
    over the weeks that have rejections (a filter per week took minutes over a long range)."""
    reasoned = weekly_frame[weekly_frame["reason"] != NO_REASON]
    tops: dict[dt.date, str | None] = dict.fromkeys(weeks)
    if reasoned.empty:
        return tops
    best = reasoned.groupby("week")["rejections"].transform("max")
    leaders = reasoned[reasoned["rejections"] == best]
    counted = leaders.groupby("week")["reason"].agg(["first", "size"])
    wanted = set(weeks)
    for week, first, size in zip(counted.index, counted["first"], counted["size"], strict=True):
        if week in wanted:
            tops[week] = str(first) if size == 1 else None
    return tops


def recurring_tops(weekly_frame: pd.DataFrame, weeks: list[dt.date], run: int = RUN_LENGTH) -> list[Streak]:
    """Every stretch of at least `run` consecutive complete weeks topped by the same reason, oldest first.
    A week without rejections or with a tie on top breaks the stretch."""
    tops = week_tops(weekly_frame, weeks)
    streaks: list[Streak] = []
    current: list[dt.date] = []
    current_reason: str | None = None
    previous: dt.date | None = None
    for week in weeks:
        reason = tops[week]
        follows = previous is not None and week - previous == dt.timedelta(weeks=1)
        if reason is not None and reason == current_reason and follows:
            current.append(week)
        else:
            if current_reason is not None and len(current) >= run:
                streaks.append(Streak(current_reason, tuple(current)))
            current, current_reason = ([week], reason) if reason is not None else ([], None)
        previous = week
    if current_reason is not None and len(current) >= run:
        streaks.append(Streak(current_reason, tuple(current)))
    return streaks


def _group_column(by: HeatmapBy) -> Any:
    return Lead.source if by == "source" else func.coalesce(Lead.campaign, NOT_SET)


def heatmap(target: Engine | Connection, query: RejectionQuery, by: HeatmapBy) -> pd.DataFrame:
    """Rejections per reason × source (or campaign), with each cell's share of its column's rejections."""
    label = _reason_label()
    group = _group_column(by)
    with connection_of(target) as connection:
        settings = load(connection)
        frame = _frame(
            connection,
            _rejections(query, settings, label.label("reason"), group.label("group"), func.count().label("n"))
            .group_by(label, group)
            .order_by(label, group),
        )
    frame = frame.rename(columns={"n": "rejections"})
    frame["share_of_group"] = frame["rejections"] / frame.groupby("group")["rejections"].transform("sum")
    return frame


def by_owner(target: Engine | Connection, query: RejectionQuery) -> pd.DataFrame:
    """Per lead owner: rejections, those without a reason, and those made before the SLA's minimum attempts."""
    owner = func.coalesce(Lead.owner, NOT_SET)
    with connection_of(target) as connection:
        settings = load(connection)
        frame = _frame(
            connection,
            _rejections(
                query,
                settings,
                owner.label("owner"),
                func.count().label("rejected"),
                count_if(and_(REASON_CARRIED, Lead.reason_key.is_(None))).label("no_reason"),
                count_if(_premature(settings)).label("premature"),
                count_if(Lead.touch_attempts.is_(None)).label("attempts_unknown"),
            ).group_by(owner),
        )
    for column in ("rejected", "no_reason", "premature", "attempts_unknown"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["no_reason_share"] = frame["no_reason"] / frame["rejected"]
    frame["premature_share"] = frame["premature"] / frame["rejected"]
    return frame.sort_values(["no_reason", "premature", "owner"], ascending=[False, False, True]).reset_index(drop=True)


# --- what the top reasons' leads have in common, against the active ICP ----------------------------------------


@dataclass(frozen=True)
class Finding:
    reason: str
    rejections: int
    test: str  # what was checked, e.g. "under 50 employees"
    rule: str  # where the line comes from, e.g. "the ICP starts at 50"
    matching: int  # rejections of the reason that match the test
    known: int  # rejections of the reason with the field filled in
    accepted_share: float  # the same test on the leads sales accepted in the period (NaN: none)

    @property
    def share(self) -> float:
        return self.matching / self.known if self.known else float("nan")

    @property
    def stands_out(self) -> bool:
        """Most of the reason's leads fail the test, at least twice as often as the accepted leads do."""
        accepted = self.accepted_share
        return self.share >= 0.5 and (accepted != accepted or self.share >= 2 * accepted)

    def sentence(self) -> str:
        against = (
            f", against {percent(self.accepted_share)} of the leads sales accepted"
            if self.accepted_share == self.accepted_share
            else ""
        )
        missing = self.rejections - self.known
        left_out = f" ({missing:,} with the field blank are left out)" if missing else ""
        return f"{percent(self.share)} of “{self.reason}” rejections have {self.test}; {self.rule}{against}.{left_out}"


@dataclass(frozen=True)
class ReasonProfile:
    reason: str
    rejections: int
    findings: tuple[Finding, ...]  # the strongest first
    top_campaign: str | None
    top_campaign_share: float

    @property
    def headline(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def _lower_all(values: list[str]) -> list[str]:
    return [value.lower() for value in values]


def _tests(icp: IcpRules | None, mql: MqlRules | None) -> list[tuple[str, str, str, ColumnElement[bool], Any]]:
    """(lead field, test, rule, condition, field-is-known) for each ICP or MQL limit in force."""
    tests: list[tuple[str, str, str, ColumnElement[bool], Any]] = []
    size_known = Lead.company_size.is_not(None)
    if icp is not None and icp.company_size_min is not None:
        low = icp.company_size_min
        tests.append(
            (
                "company_size",
                f"under {low:,} employees",
                f"the ICP starts at {low:,}",
                Lead.company_size < low,
                size_known,
            )
        )
    if icp is not None and icp.company_size_max is not None:
        high = icp.company_size_max
        tests.append(
            (
                "company_size",
                f"over {high:,} employees",
                f"the ICP ends at {high:,}",
                Lead.company_size > high,
                size_known,
            )
        )
    for field_name, listed in (("industry", icp.industries if icp else []), ("country", icp.countries if icp else [])):
        if listed:
            column_ = getattr(Lead, field_name)
            outside = func.lower(column_).not_in(_lower_all(listed))
            test_text = f"an {field_name} outside the ICP" if field_name == "industry" else "a country outside the ICP"
            tests.append((field_name, test_text, "the ICP names " + ", ".join(listed), outside, column_.is_not(None)))
    if mql is not None and mql.seniorities:
        outside = Lead.seniority.not_in(mql.seniorities)
        tests.append(
            (
                "seniority",
                "a seniority the MQL rule leaves out",
                "the MQL rule asks for " + ", ".join(mql.seniorities),
                outside,
                Lead.seniority.is_not(None),
            )
        )
    return tests


def reason_profiles(
    target: Engine | Connection,
    query: RejectionQuery,
    icp: IcpRules | None,
    mql: MqlRules | None,
    top: int = TOP_REASONS_COMPARED,
) -> list[ReasonProfile]:
    """For the most frequent reasons: how their leads stand against the ICP (and the MQL rule's seniorities),
    next to the leads sales accepted (MQLs of the period with an SQL date), strongest difference first; a
    reason's own lead field (a "wrong company size" reason: company_size) leads when it shows anything."""
    label = _reason_label()
    tests = _tests(icp, mql)
    test_counts = [
        *(count_if(and_(known, test)) for _, _, _, test, known in tests),
        *(count_if(known) for _, _, _, _, known in tests),
    ]
    campaign = func.coalesce(Lead.campaign, NOT_SET)
    # Three passes whatever the number of reasons: every reason's counts, the accepted leads', and every
    # reason's campaigns (a few hundred rows).
    with connection_of(target) as connection:
        settings = load(connection)
        ranked = connection.execute(
            _rejections(query, settings, label, RejectionReason.lead_field, func.count(), *test_counts)
            .where(Lead.reason_key.is_not(None))
            .group_by(label, RejectionReason.lead_field)
            .order_by(func.count().desc(), label)
        ).all()[:top]
        accepted = (
            connection.execute(
                select(*test_counts).where(
                    Lead.mql_day >= query.first_day,
                    Lead.mql_day <= query.last_day,
                    Lead.sql_at.is_not(None),
                    *_filtered(query, settings),
                )
            ).one()
            if tests
            else ()
        )
        campaigns = _frame(
            connection,
            _rejections(query, settings, label.label("reason"), campaign.label("campaign"), func.count().label("n"))
            .where(Lead.reason_key.is_not(None))
            .group_by(label, campaign),
        )
    top_campaign = (
        campaigns.sort_values(["n", "campaign"], ascending=[False, True]).drop_duplicates("reason").set_index("reason")
    )
    field_of = {test_text: field_name for field_name, test_text, *_ in tests}
    profiles = []
    for reason, lead_field, rejections, *counts in ranked:
        findings: list[Finding] = []
        for position, (_, test_text, rule, _, _) in enumerate(tests):
            matching, known = int(counts[position] or 0), int(counts[position + len(tests)] or 0)
            accepted_match, accepted_known = int(accepted[position] or 0), int(accepted[position + len(tests)] or 0)
            if matching:
                findings.append(
                    Finding(
                        reason=reason,
                        rejections=int(rejections),
                        test=test_text,
                        rule=rule,
                        matching=matching,
                        known=known,
                        accepted_share=accepted_match / accepted_known if accepted_known else float("nan"),
                    )
                )
        findings.sort(
            key=lambda finding: (
                field_of[finding.test] == lead_field and finding.share >= 0.5,
                finding.share,
                finding.matching,
            ),
            reverse=True,
        )
        best = top_campaign.loc[reason] if reason in top_campaign.index else None
        profiles.append(
            ReasonProfile(
                reason=reason,
                rejections=int(rejections),
                findings=tuple(findings),
                top_campaign=None if best is None else str(best["campaign"]),
                top_campaign_share=0.0 if best is None else int(best["n"]) / int(rejections),
            )
        )
    return profiles


# --- drill-down ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drill:
    """Which rejections to list: a reason (label as shown), a source or campaign, a week, an owner, or the
    owner table's columns (rejections without a reason, rejections before the minimum attempts)."""

    reason: str | None = None
    source: str | None = None
    campaign: str | None = None
    week: dt.date | None = None
    owner: str | None = None
    only: Literal["no_reason", "premature"] | None = None

    def describe(self) -> str:
        parts = []
        if self.reason:
            parts.append(f"reason “{self.reason}”")
        if self.source:
            parts.append(f"source {self.source}")
        if self.campaign:
            parts.append(f"campaign {self.campaign}")
        if self.week:
            parts.append(f"week of {self.week:%d %b %Y}")
        if self.owner:
            parts.append(f"owner {self.owner}")
        if self.only == "no_reason":
            parts.append("no reason given")
        if self.only == "premature":
            parts.append("before the SLA's minimum touch attempts")
        return ", ".join(parts) or "all rejections"


def _drill_conditions(drill: Drill, settings: OrgSettings) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if drill.reason is not None:
        conditions.append(_reason_label() == drill.reason)
    if drill.source is not None:
        conditions.append(Lead.source == drill.source)
    if drill.campaign is not None:
        conditions.append(func.coalesce(Lead.campaign, NOT_SET) == drill.campaign)
    if drill.week is not None:
        conditions += [Lead.rejected_day >= drill.week, Lead.rejected_day <= drill.week + dt.timedelta(days=6)]
    if drill.owner is not None:
        conditions.append(func.coalesce(Lead.owner, NOT_SET) == drill.owner)
    if drill.only == "no_reason":
        conditions.append(Lead.reason_key.is_(None))
    if drill.only == "premature":
        conditions.append(_premature(settings))
    return conditions


def _drill_columns() -> list[Any]:
    return [
        Lead.lead_id,
        Lead.rejected_at,
        _reason_label().label("reason"),
        Lead.rejection_reason.label("typed_reason"),
        Lead.source,
        Lead.campaign,
        Lead.owner,
        Lead.company,
        Lead.company_size,
        Lead.industry,
        Lead.country,
        Lead.seniority,
        Lead.score,
        Lead.touch_attempts,
        Lead.mql_at,
    ]


def drill_leads(
    target: Engine | Connection,
    query: RejectionQuery,
    drill: Drill,
    *,
    sort: str = "rejected_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
) -> tuple[pd.DataFrame, int]:
    """One page of the rejected leads behind a bar or cell, sorted in SQL, and how many there are in all."""
    if sort not in DRILL_COLUMNS:
        raise ValueError(f"cannot sort by {sort!r}; expected one of {', '.join(DRILL_COLUMNS)}")
    columns = _drill_columns()
    order_column = columns[DRILL_COLUMNS.index(sort)]
    # Blanks last either way, on both databases (they differ in where NULL sorts by default).
    order = (order_column.desc() if descending else order_column.asc()).nulls_last()
    with connection_of(target) as connection:
        settings = load(connection)
        base = _rejections(query, settings).where(*_drill_conditions(drill, settings))
        total = connection.execute(base.with_only_columns(func.count())).scalar_one()
        page = _frame(
            connection,
            base.with_only_columns(*columns).order_by(order, Lead.lead_id).offset(max(offset, 0)).limit(limit),
        )
    return page, int(total)


# --- the view in a link ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplorerView:
    """Everything that decides what the explorer shows, so that a link can carry it."""

    preset: str = "last_13_weeks"
    custom: tuple[dt.date, dt.date] | None = None
    filters: Filters = field(default_factory=Filters)


FILTER_PARAMS: dict[str, str] = {
    "source": "sources",
    "campaign": "campaigns",
    "segment": "segments",
    "owner": "owners",
    "industry": "industries",
    "size": "size_bands",
}


def view_from_params(params: dict[str, list[str]]) -> ExplorerView:
    """A view from a URL's query string; anything unknown or malformed falls back to the default."""
    preset = (params.get("period") or [""])[-1]
    custom = None
    if preset == "custom":
        try:
            first = dt.date.fromisoformat((params.get("from") or [""])[-1])
            last = dt.date.fromisoformat((params.get("to") or [""])[-1])
            custom = (first, last) if first <= last else None
        except ValueError:
            custom = None
    if preset not in PERIOD_PRESETS or (preset == "custom" and custom is None):
        preset = ExplorerView.preset
    filters = Filters(**{name: tuple(dict.fromkeys(params.get(key) or [])) for key, name in FILTER_PARAMS.items()})
    return ExplorerView(preset, custom, filters)


def view_to_params(view: ExplorerView) -> dict[str, list[str]]:
    """The query string of a view; defaults are left out so that the plain URL is the default view."""
    params: dict[str, list[str]] = {}
    if view.preset != ExplorerView.preset:
        params["period"] = [view.preset]
    if view.preset == "custom" and view.custom is not None:
        params["from"], params["to"] = [view.custom[0].isoformat()], [view.custom[1].isoformat()]
    for key, name in FILTER_PARAMS.items():
        if values := getattr(view.filters, name):
            params[key] = list(values)
    return params


def streak_summaries(streaks: list[Streak]) -> list[tuple[str, str]]:
    """One line per reason that had a streak, the most recent streak first: (reason, sentence)."""
    by_reason: dict[str, list[Streak]] = {}
    for streak in streaks:
        by_reason.setdefault(streak.reason, []).append(streak)
    ordered = sorted(by_reason.items(), key=lambda item: item[1][-1].weeks[-1], reverse=True)
    lines = []
    for reason, runs in ordered:
        if len(runs) == 1:
            lines.append((reason, runs[0].sentence()))
            continue
        spans = "; ".join(
            f"{len(run.weeks)} weeks from the week of {run.weeks[0]:%d %b %Y} to that of {run.weeks[-1]:%d %b %Y}"
            for run in runs
        )
        lines.append(
            (
                reason,
                f"“{reason}” topped the rejection reasons {RUN_LENGTH}+ complete weeks in a row "
                f"{len(runs)} times: {spans}.",
            )
        )
    return lines


def report(engine: Engine, query: RejectionQuery, today: dt.date) -> dict[str, Any]:
    """Everything the page shows for a view, as plain data (for the CLI and scripts): the overview, the
    reasons, the three-week streaks, the owners and the top reasons against the definitions in force."""
    from core.definitions.versions import active

    summary = overview(engine, query)
    weeks = weekly(engine, query)
    icp, mql = active(engine, "icp"), active(engine, "mql")
    profiles = reason_profiles(
        engine,
        query,
        IcpRules.model_validate(icp.rules) if icp else None,
        MqlRules.model_validate(mql.rules) if mql else None,
    )
    share = summary.unqualified_share
    return {
        "first_day": query.first_day.isoformat(),
        "last_day": query.last_day.isoformat(),
        "overview": {
            **{name: getattr(summary, name) for name in summary.__dataclass_fields__},
            "unqualified_share": share if share == share else None,
            "over_gate": summary.over_gate,
        },
        "reasons": kpi_records(by_reason(engine, query)),
        "streaks": [
            {"reason": streak.reason, "weeks": [week.isoformat() for week in streak.weeks]}
            for streak in recurring_tops(weeks, complete_weeks(query.first_day, query.last_day, today))
        ],
        "owners": kpi_records(by_owner(engine, query)),
        "top_reasons": [
            {
                "reason": profile.reason,
                "rejections": profile.rejections,
                "top_campaign": profile.top_campaign,
                "top_campaign_share": profile.top_campaign_share,
                "findings": [finding.sentence() for finding in profile.findings],
                "stands_out": [finding.sentence() for finding in profile.findings if finding.stands_out],
            }
            for profile in profiles
        ],
    }
