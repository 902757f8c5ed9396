"""The signs of misalignment the data can show, measured over the 13 weeks up to a round's close, and each read
against what people said about the statement that asks about it.

Variants as data: each sign is one small function over one `Evidence` read, listed in SIGNS; a new sign is a
function and a row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, case, exists, func, select

from core.alignment.diagnostic.questions import STATEMENT_BY_KEY, TROUBLED
from core.alignment.diagnostic.results import GAP_FLAG, GroupScores, Results
from core.alignment.diagnostic.survey import RoundInfo
from core.definitions.rules import KIND_NAMES, KINDS
from core.definitions.versions import VersionInfo, versions
from core.formatting import percent
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.scoreboard import SLA_FLAG_BELOW
from core.models import Lead, Opportunity
from core.periods import anchor_day
from core.rejections.explorer import Overview, overview
from core.rejections.scope import RejectionQuery
from core.settings import OrgSettings, current

SIGNS_WINDOW_DAYS = 91  # the data a round is held against: the 13 weeks up to its close
COMPLETENESS_FLAG_BELOW = 0.95
UNMATCHED_FLAG_ABOVE = 0.05


@dataclass(frozen=True)
class Sign:
    """A sign of misalignment measured in the data, and the statement that asks people about it."""

    key: str
    name: str
    statement: str
    measured: str
    problem: bool | None  # None: the data cannot tell


@dataclass(frozen=True)
class SignReading:
    sign: Sign
    everyone: float | None
    executives: float | None
    contributors: float | None
    verdict: Literal["confirmed", "blind spot", "felt, not measured", "healthy", "unknown"]
    explanation: str

    @property
    def agree(self) -> bool | None:
        """Whether what people say and what the data shows agree."""
        if self.verdict in ("confirmed", "healthy"):
            return True
        return False if self.verdict in ("blind spot", "felt, not measured") else None


def signs_window(info: RoundInfo | None, today: dt.date, data_ends: dt.date | None) -> tuple[dt.date, dt.date]:
    """The 13 weeks of data up to the round's last day (or today), ending no later than the data does."""
    last = anchor_day(info.last_day if info is not None else today, data_ends)
    return last - dt.timedelta(days=SIGNS_WINDOW_DAYS - 1), last


# ------------------------------------------------------------------ one read of the evidence


@dataclass(frozen=True)
class Evidence:
    """What every sign is judged on: the window's KPI row and rejections, the opportunities that name a lead,
    the definitions' history, and the gates in force."""

    last_day: dt.date
    settings: OrgSettings
    kpis: pd.Series  # the window's one KPI row (core.funnel.kpis), company-wide
    rejections: Overview
    linked: int  # opportunities of the window that name a lead
    unmatched: int  # of those, naming a lead the lead export does not have
    definitions: list[VersionInfo]

    @classmethod
    def read(cls, engine: Engine, first_day: dt.date, last_day: dt.date) -> Evidence:
        with engine.connect() as connection:
            linked = connection.execute(
                select(
                    func.count().label("linked"),
                    func.sum(case((~exists().where(Lead.lead_id == Opportunity.lead_id), 1), else_=0)).label(
                        "unmatched"
                    ),
                ).where(
                    Opportunity.created_day >= first_day,
                    Opportunity.created_day <= last_day,
                    Opportunity.lead_id.is_not(None),
                    Opportunity.lead_id != "",
                )
            ).one()
        return cls(
            last_day,
            current(engine),
            kpi_table(engine, KpiQuery(first_day, last_day, "range")).iloc[0],
            overview(engine, RejectionQuery(first_day, last_day)),
            int(linked.linked or 0),
            int(linked.unmatched or 0),
            versions(engine),
        )


# ------------------------------------------------------------------ the signs: (what was measured, problem?)

Measured = tuple[str, bool | None]


def lead_quality(evidence: Evidence) -> Measured:
    rejections = evidence.rejections
    if rejections.dispositioned:
        return (
            f"{percent(rejections.unqualified_share)} of dispositioned MQLs were rejected as unqualified "
            f"({rejections.cohort_rejected:,} of {rejections.dispositioned:,}); the gate is "
            f"{percent(rejections.rejection_gate)}"
        ), rejections.over_gate
    if rejections.share_unavailable:
        return f"not available: {rejections.share_unavailable}", None
    return "no MQL was accepted or rejected in the period", None


def slow_follow_up(evidence: Evidence) -> Measured:
    row = evidence.kpis
    judged = int(row.sla_met + row.sla_breached)
    if judged:
        compliance = row.sla_compliance
        return (
            f"{percent(compliance)} of MQLs answered within the {evidence.settings.sla_hours:g}-hour SLA "
            f"({int(row.sla_met):,} of {judged:,}); below {percent(SLA_FLAG_BELOW)} is a problem"
        ), bool(compliance < SLA_FLAG_BELOW)
    if "sla_compliance" in row.unavailable:
        return f"not available: {row.unavailable['sla_compliance']}", None
    return "no MQL could be judged against the SLA in the period", None


def separate_numbers(evidence: Evidence) -> Measured:
    row, linked, unmatched = evidence.kpis, evidence.linked, evidence.unmatched
    unmatched_share = unmatched / linked if linked else 0.0
    completeness = row.data_completeness
    parts = []
    if row.mqls and "data_completeness" in row.unavailable:
        completeness = math.nan  # not measured, so no sign either way
        parts.append(f"handoff fields not available: {row.unavailable['data_completeness']}")
    elif row.mqls:
        incomplete = round(1 - completeness, 9)  # 1 - 0.9 is 0.0999…, which would read "10.0%"
        parts.append(f"{percent(incomplete)} of MQLs miss a handoff field (company, title, e-mail, source or intent)")
    if linked:
        parts.append(
            f"{percent(unmatched_share)} of opportunities name a lead the lead export does not have"
            if unmatched
            else "every opportunity's lead is in the lead export"
        )
    if not ((row.mqls and not math.isnan(completeness)) or linked):
        return "; ".join(parts) if parts else "no MQLs or opportunities in the period", None
    incomplete = bool(row.mqls and completeness < COMPLETENESS_FLAG_BELOW)
    return "; ".join(parts), incomplete or unmatched_share > UNMATCHED_FLAG_ABOVE


def top_heavy(evidence: Evidence) -> Measured:
    row, gate = evidence.kpis, evidence.settings.conversion_gate
    attainment, conversion = row.mql_attainment, row.mql_to_sql
    if "mql_to_sql" in row.unavailable or "mql_to_sql" in row.maturing:
        # Conversion the data cannot show, or a cohort still converting, proves no weak bottom of the funnel.
        why = row.unavailable.get("mql_to_sql") or "the period's MQLs are still maturing"
        return f"MQL→SQL conversion not available: {why}", None
    if row.mqls and not math.isnan(attainment):
        return (
            f"MQLs at {percent(attainment)} of target while MQL→SQL conversion is {percent(conversion)} "
            f"(gate {percent(gate)})"
        ), bool(attainment >= 1 and conversion < gate)
    return "no MQL target or no MQLs for the period", None


def no_reason(evidence: Evidence) -> Measured:
    rejections = evidence.rejections
    if rejections.no_reason_unavailable:
        return f"not available: {rejections.no_reason_unavailable}", None
    if not rejections.rejected:
        return "no rejections in the period", None
    return (
        f"{rejections.no_reason:,} of {rejections.reasons_known:,} rejections carry no reason (target 0)",
        bool(rejections.no_reason > 0),
    )


def definitions_review(evidence: Evidence) -> Measured:
    """Which definitions were in force on the window's last day, and whether any was past its review by then."""
    day, interval = evidence.last_day, evidence.settings.review_interval_days
    missing, overdue = [], []
    for kind in KINDS:
        in_force = [
            v
            for v in evidence.definitions
            if v.kind == kind
            and v.activated_at is not None
            and v.activated_at.date() <= day
            and (v.state == "active" or (v.closed_at is not None and v.closed_at.date() > day))
        ]
        if not in_force:
            missing.append(KIND_NAMES[kind])
            continue
        version = max(in_force, key=lambda v: v.activated_at or dt.datetime.min)
        assert version.activated_at is not None
        if day > version.activated_at.date() + dt.timedelta(days=interval):
            overdue.append(f"{KIND_NAMES[kind]} v{version.number} (signed {version.activated_at:%d %b %Y})")
    parts = []
    if missing:
        parts.append(f"on {day:%d %b %Y} no signed definition of " + ", ".join(missing))
    if overdue:
        parts.append(f"overdue for the {interval}-day review on {day:%d %b %Y}: " + ", ".join(overdue))
    if not parts:
        return f"all {len(KINDS)} definitions signed and reviewed within {interval} days", False
    return "; ".join(parts), True


@dataclass(frozen=True)
class SignSpec:
    key: str
    name: str
    statement: str  # the statement that asks people about it
    measure: Callable[[Evidence], Measured]


SIGNS: tuple[SignSpec, ...] = (
    SignSpec("lead_quality", "Recurring arguments about lead quality", "definitions_no_disputes", lead_quality),
    SignSpec("slow_follow_up", "Slow or inconsistent follow-up", "handoff_follow_up", slow_follow_up),
    SignSpec(
        "separate_numbers", "Separate systems and numbers that never reconcile", "data_same_numbers", separate_numbers
    ),
    SignSpec("top_heavy", "Strong top of funnel, weak conversion", "goals_quality_over_volume", top_heavy),
    SignSpec("no_reason", "Rejections without a reason", "feedback_rejections", no_reason),
    SignSpec(
        "definitions_review", "Definitions unsigned or overdue for review", "definitions_written", definitions_review
    ),
)


def measured_signs(engine: Engine, first_day: dt.date, last_day: dt.date) -> list[Sign]:
    """The signs of misalignment the data can show, over [first_day, last_day], judged by the gates in force
    (the definitions by those in force on last_day)."""
    evidence = Evidence.read(engine, first_day, last_day)
    return [Sign(spec.key, spec.name, spec.statement, *spec.measure(evidence)) for spec in SIGNS]


# ------------------------------------------------------------------ read against the answers


def _score_of(group: GroupScores | None, statement: str) -> float | None:
    return group.statements.get(statement) if group is not None and group.shown else None


def read_signs(signs: list[Sign], outcome: Results) -> list[SignReading]:
    """Each measured sign next to what people said about it, and whether the two agree."""
    everyone = outcome.everyone
    executives, contributors = outcome.group("executive"), outcome.group("individual_contributor")
    readings = []
    for sign in signs:
        said = _score_of(everyone, sign.statement)
        said_exec, said_ic = _score_of(executives, sign.statement), _score_of(contributors, sign.statement)
        text = STATEMENT_BY_KEY[sign.statement].text
        if said is None or sign.problem is None:
            verdict: Any = "unknown"
            explanation = "not enough answers or data to compare"
        elif sign.problem and said < TROUBLED:
            verdict, explanation = "confirmed", "people see the problem the data shows"
        elif sign.problem:
            verdict = "blind spot"
            explanation = f'the data shows a problem, yet the answers average {said:.1f} of 5 on "{text}"'
        elif said < TROUBLED:
            verdict, explanation = "felt, not measured", "people feel a problem the data does not show"
        else:
            verdict, explanation = "healthy", "the data and the answers agree there is no problem"
        if (
            said_exec is not None
            and said_ic is not None
            and round(abs(said_exec - said_ic), 1) >= GAP_FLAG  # as shown, like Gap.flagged
            and sign.problem is not None
        ):
            nearer = "individual contributors" if (said_ic < said_exec) == sign.problem else "executives"
            explanation += (
                f"; executives score it {said_exec:.1f} and individual contributors {said_ic:.1f}: "
                f"the data sides with the {nearer}"
            )
        readings.append(SignReading(sign, said, said_exec, said_ic, verdict, explanation))
    return readings
