"""The weekly sync's agenda, written by the data: five sections every week (the same cadence, so that patterns
show from week to week), each with its time box and its numbers from the KPI engine and the rejections
explorer, and how those numbers moved over the last 13 weeks.

Variants as data: a section is a row of SECTIONS with the small function that writes its lines.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine

from core.formatting import count, hours, known, percent, points
from core.funnel.kpis import KpiQuery, kpi_table, mql_target
from core.funnel.scoreboard import SLA_FLAG_BELOW
from core.funnel.segments import Filters
from core.models import utcnow
from core.periods import week_start
from core.rejections.explorer import by_reason, overview, weekly
from core.rejections.scope import RejectionQuery
from core.rejections.streaks import complete_weeks, recurring_tops
from core.vocabulary import display_names, value_name

MIN_MQLS_TO_RANK = 5  # a source or owner with fewer MQLs in the week is listed, not ranked
TREND_WEEKS = 13


@dataclass(frozen=True)
class Agenda:
    week: dt.date  # Monday of the ISO week
    last_day: dt.date  # Sunday
    company: pd.Series = field(repr=False)  # the week's KPI row (core.funnel.kpis), company-wide
    previous: pd.Series = field(repr=False)  # the week before
    month: pd.Series = field(repr=False)  # the week's month (its Thursday's) to the week's end; the whole target
    month_days: tuple[int, int]  # days of that month covered, days in the month
    by_source: pd.DataFrame = field(repr=False)  # source, mqls, previous_mqls, sqls, mql_to_sql, dispositioned
    reasons: pd.DataFrame = field(repr=False)  # the week's rejection reasons (core.rejections.by_reason)
    streaks: list[str]  # the recurring-reason flags over the 13 weeks to this one
    unqualified_share: float
    rejection_gate: float
    by_owner: pd.DataFrame = field(repr=False)  # owner, sla_met, sla_breached, sla_compliance, median_response_hours
    share_unavailable: str | None = None  # why the unqualified share cannot be counted from what was imported
    source_names: dict[str, str] = field(default_factory=dict, repr=False)  # ops' display names of sources

    @property
    def label(self) -> str:
        return week_label(self.week)

    @property
    def unavailable(self) -> dict[str, str]:
        """KPI -> why the week's imports cannot support it."""
        gone = self.company.get("unavailable")
        return gone if isinstance(gone, dict) else {}

    def month_projection(self) -> float:
        """MQLs the month is heading for at the pace so far."""
        done, total = self.month_days
        return float(self.month["mqls"]) * total / done if done else math.nan  # multiplied first: 61 * 28 / 28 is 61

    def points(self) -> list[str]:
        """The agenda's numbers as short lines, one group per section, for the page, the export and history."""
        return [line for section in SECTIONS for line in section.lines(self)]

    def section_lines(self, key: str) -> list[str]:
        return SECTION_BY_KEY[key].lines(self)

    def bottlenecks(self) -> pd.DataFrame:
        """Owners under the SLA flag with enough MQLs to judge, the most breaches first."""
        owners = self.by_owner
        judged = owners["sla_met"] + owners["sla_breached"]
        slow = owners[(judged >= MIN_MQLS_TO_RANK) & (owners["sla_compliance"] < SLA_FLAG_BELOW)]
        return slow.sort_values(["sla_breached", "owner"], ascending=[False, True]).head(3)

    def sources_table(self) -> pd.DataFrame:
        """The week's MQLs by source next to last week's, sources by their display names, for the page."""
        shown = self.by_source[["source", "mqls", "previous_mqls", "mql_to_sql"]].copy()
        shown["source"] = [value_name(source, self.source_names) for source in shown["source"]]
        shown["mql_to_sql"] = [percent(rate) for rate in shown["mql_to_sql"]]  # as the agenda's lines read it
        return shown.rename(
            columns={"source": "Source", "mqls": "This week", "previous_mqls": "Last week", "mql_to_sql": "MQL → SQL"}
        )


# ------------------------------------------------------------------ the sections: agenda -> lines


def volume_lines(plan: Agenda) -> list[str]:
    c, p, m = plan.company, plan.previous, plan.month
    target = m["mql_target"]
    lines = [f"{int(c['mqls']):,} MQLs this week ({c['mqls'] - p['mqls']:+,.0f} on last week)."]
    if known(target) and target:
        projection = plan.month_projection()
        on_track = "on track" if projection >= target else "behind"
        lines.append(
            f"Month to date {int(m['mqls']):,} of a {target:,.0f} target ({percent(m['mqls'] / target)}), "
            f"heading for {projection:,.0f}: {on_track}."
        )
    else:
        lines.append(f"Month to date {int(m['mqls']):,}; no MQL target for the month.")
    return lines


def conversion_lines(plan: Agenda) -> list[str]:
    c, p = plan.company, plan.previous
    if "mql_to_sql" in plan.unavailable:
        return [f"MQL→SQL conversion not available: {plan.unavailable['mql_to_sql']}."]
    now, before = c["mql_to_sql"], p["mql_to_sql"]
    change = f", {points(now - before)} on last week" if known(now) and known(before) else ""
    lines = [
        f"MQL→SQL conversion {percent(now)} ({count(c['sqls'])} of {count(c['mqls'])}){change}; "
        f"gate {percent(c['conversion_gate'])}.",
        f"{count(c['dispositioned'])} of the week's {count(c['mqls'])} MQLs are decided so far.",
    ]
    young = c["maturity_days"] if isinstance(c.get("maturity_days"), dict) else {}
    if "mql_to_sql" in young:
        lines.append(
            f"Still maturing: 9 in 10 SQLs come within {young['mql_to_sql']:.0f} days of the MQL date, "
            "so this week's rate will still rise."
        )
    ranked = plan.by_source[plan.by_source["mqls"] >= MIN_MQLS_TO_RANK].sort_values(
        ["mql_to_sql", "mqls"], ascending=[False, False]
    )
    if not ranked.empty:
        best = ", ".join(
            f"{value_name(row.source, plan.source_names)} {percent(row.mql_to_sql)}"
            for row in ranked.head(3).itertuples()
        )
        lines.append(f"Best converting sources: {best}.")
    return lines


def rejection_lines(plan: Agenda) -> list[str]:
    if known(plan.unqualified_share):
        share = f"Unqualified share {percent(plan.unqualified_share)} (gate {percent(plan.rejection_gate)})."
    elif plan.share_unavailable:
        share = f"Unqualified share not available: {plan.share_unavailable}."
    else:
        share = "No MQL of the week has been accepted or rejected yet."
    lines = [share]
    if not plan.reasons.empty:
        top = ", ".join(
            f"{row.reason} {int(row.rejections)} ({percent(row.share)})" for row in plan.reasons.head(3).itertuples()
        )
        lines.append(f"Top reasons: {top}.")
    return lines + [f"Recurring: {sentence}" for sentence in plan.streaks]


def sla_lines(plan: Agenda) -> list[str]:
    c = plan.company
    judged = int(c["sla_met"] + c["sla_breached"])
    if judged:
        business = "business " if c["sla_business_hours"] else ""
        compliance = (
            f"SLA compliance {percent(c['sla_compliance'])} ({int(c['sla_met']):,} of {judged:,} within "
            f"{c['sla_hours']:g} {business}hours); median response {hours(c['median_response_hours'])}."
        )
    elif "sla_compliance" in plan.unavailable:
        compliance = f"SLA compliance not available: {plan.unavailable['sla_compliance']}."
    else:
        compliance = "No MQL of the week could be judged against the SLA yet."
    lines = [compliance]
    slow = plan.bottlenecks()
    if not slow.empty:
        names = ", ".join(
            f"{row.owner} {percent(row.sla_compliance)} ({int(row.sla_breached)} breached)" for row in slow.itertuples()
        )
        lines.append(f"Bottleneck owners: {names}.")
    return lines


def no_lines(plan: Agenda) -> list[str]:
    """A section the meeting fills (its actions), with no numbers of its own."""
    return []


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    minutes: int
    lines: Callable[[Agenda], list[str]] = field(repr=False)


SECTIONS: tuple[Section, ...] = (
    Section("volume", "MQL volume vs target", 5, volume_lines),
    Section("conversion", "MQL→SQL conversion", 5, conversion_lines),
    Section("rejections", "Rejection analysis", 10, rejection_lines),
    Section("sla", "Response-SLA compliance", 5, sla_lines),
    Section("actions", "Next week's actions", 5, no_lines),
)
SECTION_BY_KEY = {section.key: section for section in SECTIONS}


# ------------------------------------------------------------------ reading the week


def week_label(monday: dt.date) -> str:
    """How a week reads: "Week 43, 2026 (19 Oct – 25 Oct 2026)"."""
    iso = monday.isocalendar()
    return f"Week {iso.week}, {iso.year} ({monday:%d %b} – {monday + dt.timedelta(days=6):%d %b %Y})"


def agenda_weeks(first_day: dt.date, last_day: dt.date) -> list[dt.date]:
    """The Monday of every ISO week from first_day's to last_day's, newest first: the weeks a sync can be about."""
    first, last = week_start(first_day), week_start(last_day)
    return [last - dt.timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def agenda(engine: Engine, week: dt.date, *, as_of: dt.datetime | None = None) -> Agenda:
    """The agenda of the ISO week that contains `week`, from the KPI engine and the rejections explorer."""
    monday = week_start(week)
    sunday = monday + dt.timedelta(days=6)
    before = monday - dt.timedelta(days=7)
    as_of = as_of or utcnow()
    # One pass of the KPI engine for both weeks, company-wide and by source: a row per ISO week.
    weeks_of = kpi_table(engine, KpiQuery(before, sunday, "week", as_of=as_of)).set_index("period_start")
    previous, company = weeks_of.loc[before], weeks_of.loc[monday]
    # The week's month is its Thursday's (as its ISO year is): a week from 26 Oct to 1 Nov is October's.
    month_first = (monday + dt.timedelta(days=3)).replace(day=1)
    month_end = (month_first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    to_date = min(sunday, month_end)
    month = kpi_table(engine, KpiQuery(month_first, to_date, "range", as_of=as_of)).iloc[0].copy()
    # The month's whole target, not the share of its days so far: "on track" compares the pace with it.
    month["mql_target"] = mql_target(engine, month_first, month_end)
    sources = kpi_table(engine, KpiQuery(before, sunday, "week", "source", as_of=as_of))
    sources_now = sources[sources["period_start"] == monday]
    sources_before = sources[sources["period_start"] == before]
    by_source = (
        sources_now[["group", "mqls", "sqls", "mql_to_sql", "dispositioned"]]
        .merge(sources_before[["group", "mqls"]].rename(columns={"mqls": "previous_mqls"}), on="group", how="outer")
        .fillna({"mqls": 0, "sqls": 0, "dispositioned": 0, "previous_mqls": 0})
        .rename(columns={"group": "source"})
    )
    by_source = by_source[(by_source["mqls"] > 0) | (by_source["previous_mqls"] > 0)]
    by_source = by_source.sort_values(["mqls", "source"], ascending=[False, True]).reset_index(drop=True)
    owners = kpi_table(engine, KpiQuery(monday, sunday, "range", "owner", as_of=as_of))
    by_owner = owners[["group", "mqls", "sla_met", "sla_breached", "sla_compliance", "median_response_hours"]].rename(
        columns={"group": "owner"}
    )
    week_query = RejectionQuery(monday, sunday, Filters())
    summary = overview(engine, week_query)
    trend_first = monday - dt.timedelta(weeks=TREND_WEEKS - 1)
    trend = weekly(engine, RejectionQuery(trend_first, sunday, Filters()))
    weeks = complete_weeks(trend_first, sunday, sunday + dt.timedelta(days=1))
    # Only streaks that reach this week are this meeting's news; older ones were last weeks'.
    streaks = [s.sentence() for s in recurring_tops(trend, weeks) if s.weeks[-1] == monday]
    return Agenda(
        week=monday,
        last_day=sunday,
        company=company,
        previous=previous,
        month=month,
        month_days=((to_date - month_first).days + 1, (month_end - month_first).days + 1),
        by_source=by_source,
        reasons=by_reason(engine, week_query),
        streaks=streaks,
        unqualified_share=summary.unqualified_share,
        rejection_gate=summary.rejection_gate,
        by_owner=by_owner,
        share_unavailable=summary.share_unavailable,
        source_names=display_names(engine),
    )


TREND_MEASURES = {
    "mql_to_sql": "MQL→SQL conversion",
    "rejection_share": "Rejection share",
    "sla_compliance": "SLA compliance",
}


def trend(engine: Engine, last_week: dt.date, weeks: int = TREND_WEEKS) -> pd.DataFrame:
    """How each agenda number moved week by week: one row per ISO week up to `last_week`'s."""
    last = week_start(last_week) + dt.timedelta(days=6)
    first = week_start(last_week) - dt.timedelta(weeks=weeks - 1)
    table = kpi_table(engine, KpiQuery(first, last, "week"))
    return table[
        [
            "period_start",
            "mqls",
            "mql_target",
            "mql_to_sql",
            "rejection_share",
            "sla_compliance",
            "median_response_hours",
        ]
    ].rename(columns={"period_start": "week"})


def trend_shares(moves: pd.DataFrame) -> pd.DataFrame:
    """The trend's three shares in long form (week, measure, value), measures by their names, for one chart."""
    long = moves.melt(id_vars="week", value_vars=list(TREND_MEASURES), var_name="key")
    long["measure"] = long["key"].map(TREND_MEASURES)
    return long[["week", "measure", "value"]]


def trend_table(moves: pd.DataFrame) -> pd.DataFrame:
    """The trend as people read it: one row per week, rates as percentages, a missing value as MISSING."""
    return pd.DataFrame(
        {
            "Week of": moves["week"],
            "MQLs": [count(value) for value in moves["mqls"]],
            "MQL target (the week's share)": [count(value) for value in moves["mql_target"]],
            **{name: [percent(value) for value in moves[key]] for key, name in TREND_MEASURES.items()},
            "Median response": [hours(value) for value in moves["median_response_hours"]],
        }
    )
