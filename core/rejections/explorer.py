"""Why sales turned leads away: the rejection explorer's numbers, counted in SQL.

A rejection belongs to the day sales logged it, so "reasons over time" reads as "what sales logged that
week"; which rejections a view counts and how a reason reads is `core.rejections.scope`. The unqualified
share against the gate is the KPI engine's rejection share, over the period's MQL cohort, exactly as on the
scoreboard. What the top reasons' leads have in common is `profiles`, the weeks they top is `streaks`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, and_, func, literal, or_, select

from core import coverage
from core.definitions.rules import IcpRules, MqlRules
from core.definitions.versions import active
from core.funnel import rollups
from core.funnel.kpis import kpi_records
from core.funnel.segments import NOT_SET, Filters, data_range
from core.funnel.view import ViewLink, default_anchor
from core.models import CalendarDay, Lead, RejectionReason
from core.periods import PERIOD_PRESETS as CALENDAR_PRESETS
from core.periods import anchor_day, completed_unit, period_range, week_start
from core.rejections.profiles import reason_profiles
from core.rejections.scope import (
    DISPOSITION_CARRIED,
    REASON_CARRIED,
    RejectionQuery,
    filtered,
    premature,
    reason_label,
    select_rejections,
)
from core.rejections.streaks import complete_weeks, recurring_tops
from core.settings import OrgSettings, load
from core.sql import connection_of, count_if, frame
from core.vocabulary import value_name

PERIOD_PRESETS: dict[str, str] = {
    "last_13_weeks": "Last 13 complete weeks",
    "this_year": "This year so far",
    **{key: label for key, label in CALENDAR_PRESETS.items()},
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
    unit = "week" if preset == "last_13_weeks" else completed_unit(preset)
    if unit is not None:
        return default_anchor(engine, today, unit)
    span = data_range(engine)
    return anchor_day(today, span[1] if span else None)


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
            select_rejections(
                query,
                settings,
                func.count().label("rejected"),
                count_if(and_(REASON_CARRIED, Lead.reason_key.is_(None))).label("no_reason"),
                count_if(REASON_CARRIED).label("reasons_known"),
                count_if(and_(Lead.reason_key.is_not(None), RejectionReason.id.is_(None))).label("unmapped"),
                count_if(premature(settings)).label("premature"),
                count_if(Lead.touch_attempts.is_(None)).label("attempts_unknown"),
            )
        ).one()
        # The scoreboard's rejection share (core.funnel.kpis), counted here alone: kpi_table would also run the
        # opportunity, median and target queries. The kept day counts serve it unless the view filters past
        # sources and segments.
        cohort = rollups.mql_cohort(connection, query.first_day, query.last_day, query.filters)
        if cohort is None:
            cohort = dict(
                connection.execute(
                    select(
                        func.count().label("mqls"),
                        count_if(DISPOSITION_CARRIED).label("disposition_known"),
                        count_if(coverage.carried(Lead.carried, "leads", "rejected_at")).label("rejection_dates_known"),
                        count_if(
                            and_(DISPOSITION_CARRIED, or_(Lead.sql_at.is_not(None), Lead.rejected_at.is_not(None)))
                        ).label("dispositioned"),
                        count_if(and_(DISPOSITION_CARRIED, Lead.rejected_at.is_not(None))).label("rejected"),
                    ).where(Lead.mql_day >= query.first_day, Lead.mql_day <= query.last_day, *filtered(query, settings))
                )
                .one()
                ._mapping
            )
    dispositioned = int(cohort["dispositioned"] or 0)
    return Overview(
        rejected=int(counts.rejected or 0),
        no_reason=int(counts.no_reason or 0),
        unmapped=int(counts.unmapped or 0),
        premature=int(counts.premature or 0),
        attempts_unknown=int(counts.attempts_unknown or 0),
        min_touch_attempts=settings.min_touch_attempts,
        mqls=int(cohort["mqls"] or 0),
        dispositioned=dispositioned,
        cohort_rejected=int(cohort["rejected"] or 0),
        unqualified_share=int(cohort["rejected"] or 0) / dispositioned if dispositioned else float("nan"),
        rejection_gate=settings.rejection_gate,
        reasons_known=int(counts.reasons_known or 0),
        disposition_known=int(cohort["disposition_known"] or 0),
        rejection_dates_known=int(cohort["rejection_dates_known"] or 0),
    )


def by_reason(target: Engine | Connection, query: RejectionQuery) -> pd.DataFrame:
    """The Pareto table: reason, category, rejections, share and cumulative share, most frequent first."""
    label = reason_label()
    category = func.coalesce(RejectionReason.category, literal("none"))
    with connection_of(target) as connection:
        settings = load(connection)
        table = frame(
            connection,
            select_rejections(
                query, settings, label.label("reason"), category.label("category"), func.count().label("n")
            )
            .group_by(label, category)
            .order_by(func.count().desc(), label),
        )
    table = table.rename(columns={"n": "rejections"})
    total = table["rejections"].sum()
    table["share"] = table["rejections"] / total if total else 0.0
    table["cumulative_share"] = table["share"].cumsum()
    return table.reset_index(drop=True)


def weekly(target: Engine | Connection, query: RejectionQuery) -> pd.DataFrame:
    """Rejections per ISO week (Monday) and reason; a week without rejections has no row."""
    label = reason_label()
    with connection_of(target) as connection:
        settings = load(connection)
        table = frame(
            connection,
            select_rejections(
                query, settings, CalendarDay.week_start.label("week"), label.label("reason"), func.count()
            )
            .join(CalendarDay, CalendarDay.day == Lead.rejected_day)
            .group_by(CalendarDay.week_start, label),
        )
    table.columns = ["week", "reason", "rejections"]
    table["week"] = pd.to_datetime(table["week"]).dt.date
    return table.sort_values(["week", "rejections"], ascending=[True, False]).reset_index(drop=True)


def _group_column(by: HeatmapBy) -> Any:
    return Lead.source if by == "source" else func.coalesce(Lead.campaign, NOT_SET)


def heatmap(target: Engine | Connection, query: RejectionQuery, by: HeatmapBy) -> pd.DataFrame:
    """Rejections per reason × source (or campaign), with each cell's share of its column's rejections."""
    label = reason_label()
    group = _group_column(by)
    with connection_of(target) as connection:
        settings = load(connection)
        table = frame(
            connection,
            select_rejections(query, settings, label.label("reason"), group.label("group"), func.count().label("n"))
            .group_by(label, group)
            .order_by(label, group),
        )
    table = table.rename(columns={"n": "rejections"})
    table["share_of_group"] = table["rejections"] / table.groupby("group")["rejections"].transform("sum")
    return table


def by_owner(target: Engine | Connection, query: RejectionQuery) -> pd.DataFrame:
    """Per lead owner: rejections, those without a reason, and those made before the SLA's minimum attempts."""
    owner = func.coalesce(Lead.owner, NOT_SET)
    with connection_of(target) as connection:
        settings = load(connection)
        table = frame(
            connection,
            select_rejections(
                query,
                settings,
                owner.label("owner"),
                func.count().label("rejected"),
                count_if(and_(REASON_CARRIED, Lead.reason_key.is_(None))).label("no_reason"),
                count_if(premature(settings)).label("premature"),
                count_if(Lead.touch_attempts.is_(None)).label("attempts_unknown"),
            ).group_by(owner),
        )
    for column in ("rejected", "no_reason", "premature", "attempts_unknown"):
        table[column] = table[column].fillna(0).astype(int)
    table["no_reason_share"] = table["no_reason"] / table["rejected"]
    table["premature_share"] = table["premature"] / table["rejected"]
    return table.sort_values(["no_reason", "premature", "owner"], ascending=[False, False, True]).reset_index(drop=True)


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

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """The picks in words; `names`: ops' display names of the sources."""
        parts = []
        if self.reason:
            parts.append(f"reason “{self.reason}”")
        if self.source:
            parts.append(f"source {value_name(self.source, names)}")
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
        conditions.append(reason_label() == drill.reason)
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
        conditions.append(premature(settings))
    return conditions


def _drill_columns() -> list[Any]:
    return [
        Lead.lead_id,
        Lead.rejected_at,
        reason_label().label("reason"),
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
        base = select_rejections(query, settings).where(*_drill_conditions(drill, settings))
        total = connection.execute(base.with_only_columns(func.count())).scalar_one()
        page = frame(
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


# The filters the explorer offers, in the order the page shows them.
EXPLORER_FILTERS: tuple[str, ...] = ("sources", "campaigns", "segments", "owners", "industries", "size_bands")
LINK: ViewLink[ExplorerView] = ViewLink(ExplorerView(), PERIOD_PRESETS, EXPLORER_FILTERS)


def report(engine: Engine, query: RejectionQuery, today: dt.date) -> dict[str, Any]:
    """Everything the page shows for a view, as plain data (for the CLI and scripts): the overview, the
    reasons, the three-week streaks, the owners and the top reasons against the definitions in force."""

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
