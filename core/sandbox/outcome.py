"""What the knobs give on a trial: the rule they make, counted in SQL over the trial's leads, beside the
definition in force, and the curve of volume and conversion over every score threshold.

The outcomes compare two rules on the same leads: the active definition and the knobs. A rule qualifies a
lead or not (core.definitions' MQL rule); volume is counted by the month the lead was created. Leads the
recorded rule never passed to sales have no SQL and no response: they count as not converted, and the
SLA is judged only on the leads that were MQLs (the page says so). The knobs only change the WHERE and CASE
expressions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Engine, and_, case, func, not_, or_, select

from core import formatting
from core.definitions import versions
from core.definitions.rules import IcpRules, MqlRules, SlaRules, fits_besides_score, intent_hit, qualifies
from core.models import SandboxLead
from core.permissions import Actor
from core.sandbox.trials import SandboxError, get_trial
from core.settings import current
from core.sql import count_if

THRESHOLDS = range(0, 101)


@dataclass(frozen=True)
class Knobs:
    """Everything a trial can change. Lists are tuples so that knobs can key a cache."""

    score_threshold: int = 50
    icp_fit_required: bool = True
    company_size_min: int | None = None
    company_size_max: int | None = None
    seniorities: tuple[str, ...] = ()
    intent_signals: tuple[str, ...] = ()
    sla_hours: float = 4.0
    sla_business_hours: bool = True
    conversion_gate: float = 0.30
    rejection_gate: float = 0.30
    # Capacity assumptions: minutes a rep spends on a first response, hours a day a rep gives new MQLs.
    minutes_per_response: float = 15.0
    rep_hours_per_day: float = 2.0
    # Kept from the definitions in force: the sandbox does not change them.
    industries: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        low, high = self.company_size_min, self.company_size_max
        if low is not None and high is not None and low > high:
            raise SandboxError(f"the company-size range starts ({low}) above where it ends ({high})")
        if not 0 <= self.score_threshold <= 100:
            raise SandboxError(f"the score threshold is from 0 to 100, not {self.score_threshold}")
        if self.sla_hours <= 0:
            raise SandboxError("the response SLA needs some hours")
        for name in ("conversion_gate", "rejection_gate"):
            if not 0 <= getattr(self, name) <= 1:
                raise SandboxError(f"the {name.replace('_', ' ')} is a share from 0 to 1")

    def mql(self) -> MqlRules:
        return MqlRules(
            icp_fit_required=self.icp_fit_required,
            seniorities=list(self.seniorities),
            departments=list(self.departments),
            score_threshold=self.score_threshold,
            intent_signals=list(self.intent_signals),
        )

    def icp(self) -> IcpRules:
        return IcpRules(
            company_size_min=self.company_size_min,
            company_size_max=self.company_size_max,
            industries=list(self.industries),
            countries=list(self.countries),
        )

    def sla(self, base: SlaRules | None = None) -> SlaRules:
        return (base or SlaRules()).model_copy(
            update={
                "response_hours": self.sla_hours,
                "business_hours": self.sla_business_hours,
                "conversion_gate": self.conversion_gate,
                "rejection_gate": self.rejection_gate,
            }
        )


def active_knobs(engine: Engine) -> Knobs:
    """The knobs as the definitions in force set them (defaults where none is signed)."""
    settings = current(engine)
    icp_version, mql_version = versions.active(engine, "icp"), versions.active(engine, "mql")
    icp = IcpRules.model_validate(icp_version.rules) if icp_version else IcpRules()
    mql = MqlRules.model_validate(mql_version.rules) if mql_version else MqlRules()
    return Knobs(
        score_threshold=mql.score_threshold,
        icp_fit_required=mql.icp_fit_required,
        company_size_min=icp.company_size_min,
        company_size_max=icp.company_size_max,
        seniorities=tuple(mql.seniorities),
        intent_signals=tuple(mql.intent_signals),
        sla_hours=settings.sla_hours,
        sla_business_hours=settings.sla_business_hours,
        conversion_gate=settings.conversion_gate,
        rejection_gate=settings.rejection_gate,
        industries=tuple(icp.industries),
        countries=tuple(icp.countries),
        departments=tuple(mql.departments),
    )


GATES = ("conversion_gate", "rejection_gate")  # shares in Knobs, whole percents in the widgets


def knob_values(knobs: Knobs) -> dict[str, Any]:
    """The knobs as the page's widgets hold them: lists for the pickers, the gates in percent, and whether the
    company size has an upper limit (a toggle of its own)."""
    values: dict[str, Any] = {
        name: list(value) if isinstance(value, tuple) else value for name, value in asdict(knobs).items()
    }
    for name in GATES:  # rounded so that 0.3 reads 30, not 30.000000000000004
        values[name] = round(getattr(knobs, name) * 100, 4)
    values["size_limited"] = knobs.company_size_max is not None
    return values


def knobs_from(values: Mapping[str, Any], baseline: Knobs) -> Knobs:
    """The knobs the widgets' values make (knob_values' inverse); what the page has no widget for (industries,
    countries, departments) stays as in `baseline`. SandboxError for knobs that cannot be."""
    size_min, size_max = values["company_size_min"], values["company_size_max"]
    return dataclasses.replace(
        baseline,
        score_threshold=int(values["score_threshold"]),
        intent_signals=tuple(values["intent_signals"]),
        seniorities=tuple(values["seniorities"]),
        icp_fit_required=bool(values["icp_fit_required"]),
        company_size_min=int(size_min) if size_min else None,
        company_size_max=int(size_max) if values["size_limited"] and size_max is not None else None,
        sla_hours=float(values["sla_hours"]),
        sla_business_hours=bool(values["sla_business_hours"]),
        conversion_gate=round(float(values["conversion_gate"]) / 100, 6),
        rejection_gate=round(float(values["rejection_gate"]) / 100, 6),
        minutes_per_response=float(values["minutes_per_response"]),
        rep_hours_per_day=float(values["rep_hours_per_day"]),
    )


def trial_options(engine: Engine, actor: Actor, trial_id: int) -> dict[str, list[str]]:
    """The intent signals and seniorities a trial's leads carry, for the knobs' pickers."""
    get_trial(engine, actor, trial_id)
    options: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for name in ("intent_signal", "seniority"):
            column = getattr(SandboxLead, name)
            values = connection.execute(
                select(column).where(SandboxLead.trial_id == trial_id, column.is_not(None), column != "").distinct()
            ).scalars()
            options[name] = sorted(str(value) for value in values)
    return options


@dataclass(frozen=True)
class Outcome:
    """What a rule would have given on a trial's leads."""

    label: str
    leads: int
    mqls: int
    months: int
    sqls: int
    rejected: int
    lost_sqls: int  # SQLs the rule leaves out: good leads lost
    saved_rejections: int  # rejected leads it leaves out: sales time saved
    sla_met: int
    sla_breached: int
    sla_hours: float
    sla_business_hours: bool
    busiest_day_mqls: float  # MQLs on the 90th-percentile day among days with any
    reps_needed: float
    responders: int  # owners who answered an MQL in the data: the team there was
    monthly: pd.DataFrame = field(repr=False, compare=False)  # month, mqls, sqls

    @property
    def mqls_per_month(self) -> float:
        return self.mqls / self.months if self.months else math.nan

    @property
    def conversion(self) -> float:
        return self.sqls / self.mqls if self.mqls else math.nan

    @property
    def rejection_share(self) -> float:
        return self.rejected / (self.sqls + self.rejected) if self.sqls + self.rejected else math.nan

    @property
    def sla_compliance(self) -> float:
        judged = self.sla_met + self.sla_breached
        return self.sla_met / judged if judged else math.nan


def _sla(knobs: Knobs) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Met: answered within the hours. Breached: answered later, or unanswered after waiting longer."""
    limit = knobs.sla_hours * 60.0
    business = knobs.sla_business_hours
    response = SandboxLead.response_business_minutes if business else SandboxLead.response_calendar_minutes
    wait = SandboxLead.wait_business_minutes if business else SandboxLead.wait_calendar_minutes
    met = and_(response.is_not(None), response <= limit)
    breached = or_(and_(response.is_not(None), response > limit), and_(response.is_(None), wait > limit))
    return met, breached


MONTHLY_COLUMNS = ("leads", "mqls", "sqls", "rejected", "lost_sqls", "saved_rejections", "sla_met", "sla_breached")


def outcome(engine: Engine, actor: Actor, trial_id: int, knobs: Knobs, label: str = "Your knobs") -> Outcome:
    """The rule the knobs make, counted over the trial's leads in SQL (the trial's owner only)."""
    get_trial(engine, actor, trial_id)
    rule = qualifies(knobs.mql(), knobs.icp() if knobs.icp_fit_required else None, SandboxLead)
    met, breached = _sla(knobs)
    mine = SandboxLead.trial_id == trial_id
    counts = {
        "leads": func.count(),
        "mqls": count_if(rule),
        "sqls": count_if(and_(rule, SandboxLead.is_sql)),
        "rejected": count_if(and_(rule, SandboxLead.is_rejected)),
        "lost_sqls": count_if(and_(not_(rule), SandboxLead.is_sql)),
        "saved_rejections": count_if(and_(not_(rule), SandboxLead.is_rejected)),
        "sla_met": count_if(and_(rule, SandboxLead.was_mql, met)),
        "sla_breached": count_if(and_(rule, SandboxLead.was_mql, breached)),
    }
    with engine.connect() as connection:
        monthly = pd.DataFrame(
            connection.execute(
                select(SandboxLead.month, *(value.label(key) for key, value in counts.items()))
                .where(mine)
                .group_by(SandboxLead.month)
                .order_by(SandboxLead.month)
            ).all(),
            columns=["month", *MONTHLY_COLUMNS],
        )
        daily = [
            int(n)
            for (n,) in connection.execute(select(func.count()).where(mine, rule).group_by(SandboxLead.created_day))
        ]
        responders, answered = connection.execute(
            select(
                func.count(func.distinct(case((SandboxLead.owner.is_not(None), SandboxLead.owner)))),
                func.count(),
            ).where(mine, SandboxLead.response_calendar_minutes.is_not(None))
        ).one()
    for column in MONTHLY_COLUMNS:
        monthly[column] = pd.to_numeric(monthly[column]).fillna(0).astype(int)
    totals = {column: int(monthly[column].sum()) for column in MONTHLY_COLUMNS}
    if not answered:  # a file without response times: every MQL would look unanswered, so the SLA is unknown
        totals["sla_met"] = totals["sla_breached"] = 0
    busiest = float(np.percentile(daily, 90)) if daily else 0.0
    per_rep = knobs.rep_hours_per_day * 60.0
    return Outcome(
        label=label,
        leads=totals["leads"],
        mqls=totals["mqls"],
        months=len(monthly),
        sqls=totals["sqls"],
        rejected=totals["rejected"],
        lost_sqls=totals["lost_sqls"],
        saved_rejections=totals["saved_rejections"],
        sla_met=totals["sla_met"],
        sla_breached=totals["sla_breached"],
        sla_hours=knobs.sla_hours,
        sla_business_hours=knobs.sla_business_hours,
        busiest_day_mqls=busiest,
        reps_needed=busiest * knobs.minutes_per_response / per_rep if per_rep > 0 else math.nan,
        responders=int(responders or 0),
        monthly=monthly[["month", "mqls", "sqls"]],
    )


@dataclass(frozen=True)
class Curve:
    """Volume and conversion at every score threshold, the other knobs held; the threshold to recommend."""

    points: pd.DataFrame  # threshold, mqls, sqls, conversion
    gate: float
    recommended: int | None  # the most volume with conversion at or above the gate; None if none reaches it


def curve(engine: Engine, actor: Actor, trial_id: int, knobs: Knobs) -> Curve:
    """One grouped query (score × intent hit) over the leads that pass the rest of the rule; then, for each
    threshold, the leads with a score at or above it or an intent hit, summed in numpy."""
    get_trial(engine, actor, trial_id)
    mql = knobs.mql()
    rest = fits_besides_score(mql, knobs.icp() if knobs.icp_fit_required else None, SandboxLead)
    hit = case((intent_hit(mql, SandboxLead), 1), else_=0)
    score = func.coalesce(SandboxLead.score, -1)
    with engine.connect() as connection:
        groups = pd.DataFrame(
            connection.execute(
                select(score, hit, func.count(), count_if(SandboxLead.is_sql.is_(True)))
                .where(SandboxLead.trial_id == trial_id, rest)
                .group_by(score, hit)
            ).all(),
            columns=["score", "hit", "leads", "sqls"],
        )
    thresholds = np.array(list(THRESHOLDS))
    if groups.empty:
        empty = pd.DataFrame({"threshold": thresholds, "mqls": 0, "sqls": 0, "conversion": math.nan})
        return Curve(empty, knobs.conversion_gate, None)
    for column in groups.columns:
        groups[column] = pd.to_numeric(groups[column]).fillna(0).astype(int)
    passes = (groups["score"].to_numpy()[None, :] >= thresholds[:, None]) | groups["hit"].to_numpy()[None, :].astype(
        bool
    )
    mqls = passes.astype(int) @ groups["leads"].to_numpy()
    sqls = passes.astype(int) @ groups["sqls"].to_numpy()
    conversion = np.divide(sqls, mqls, out=np.full(len(thresholds), np.nan), where=mqls > 0)
    points = pd.DataFrame({"threshold": thresholds, "mqls": mqls, "sqls": sqls, "conversion": conversion})
    meeting = points[(points["mqls"] > 0) & (points["conversion"] >= knobs.conversion_gate - 1e-12)]
    recommended = None
    if not meeting.empty:
        recommended = int(meeting.sort_values(["mqls", "threshold"], ascending=[False, True]).iloc[0]["threshold"])
    return Curve(points, knobs.conversion_gate, recommended)


# ------------------------------------------------------------------ the two rules side by side


@dataclass(frozen=True)
class Headline:
    """One of the figures at the top of the outcomes: the knobs' value and its change from the rule in force."""

    label: str
    value: str
    delta: str | None  # None when the knobs change nothing
    lower_is_better: bool = False


def headlines(before: Outcome, after: Outcome) -> list[Headline]:
    # A change shows only when the counts differ: equal rates from different counts are no change worth a badge.
    conversion_moved = (
        formatting.known(after.conversion - before.conversion) and after.sqls * before.mqls != before.sqls * after.mqls
    )
    return [
        Headline(
            "MQLs per month",
            formatting.count(after.mqls_per_month),
            f"{after.mqls_per_month - before.mqls_per_month:+,.0f}" if after.mqls != before.mqls else None,
        ),
        Headline(
            "MQL→SQL conversion",
            formatting.percent(after.conversion),
            formatting.points(after.conversion - before.conversion) if conversion_moved else None,
        ),
        Headline(
            "SQLs lost",
            formatting.count(after.lost_sqls),
            f"{after.lost_sqls - before.lost_sqls:+,}" if after.lost_sqls != before.lost_sqls else None,
            lower_is_better=True,
        ),
        Headline("SLA compliance", formatting.percent(after.sla_compliance), None),
    ]


def comparison(before: Outcome, after: Outcome, knobs: Knobs) -> pd.DataFrame:
    """Every figure under the rule in force and under the knobs, as people read them, with what judges it."""
    hours = "business" if after.sla_business_hours else "calendar"
    limit = (
        f"{after.sla_hours:g} h"
        if after.sla_hours == before.sla_hours
        else f"{before.sla_hours:g} → {after.sla_hours:g} h"
    )
    rows = [
        ("MQLs per month", formatting.count, "mqls_per_month", ""),
        ("MQL→SQL conversion", formatting.percent, "conversion", f"gate {formatting.percent(knobs.conversion_gate)}"),
        ("Rejection share", formatting.percent, "rejection_share", f"gate {formatting.percent(knobs.rejection_gate)}"),
        ("SQLs lost", formatting.count, "lost_sqls", "good leads the rule leaves out"),
        ("Rejections avoided", formatting.count, "saved_rejections", "sales time saved"),
        (
            "SLA compliance",
            formatting.percent,
            "sla_compliance",
            f"within {limit}, {hours} hours",
        ),
        ("Reps needed", formatting.decimal, "reps_needed", f"for first responses; {after.responders} in the data"),
    ]
    return pd.DataFrame(
        [(label, shown(getattr(before, name)), shown(getattr(after, name)), note) for label, shown, name, note in rows],
        columns=["Figure", before.label, after.label, "Note"],
    )


def monthly_comparison(before: Outcome, after: Outcome) -> pd.DataFrame:
    """Both rules' MQLs and SQLs by month, one row per month and rule, each month labelled by its own date so
    that a chart draws one tick per month bucket (month, label, rule, mqls, sqls), in month order."""
    frame = pd.concat([before.monthly.assign(rule=before.label), after.monthly.assign(rule=after.label)])
    frame["month"] = pd.to_datetime(frame["month"])
    frame["label"] = frame["month"].dt.strftime("%b %Y")
    return frame.sort_values("month", kind="stable").reset_index(drop=True)[["month", "label", "rule", "mqls", "sqls"]]
