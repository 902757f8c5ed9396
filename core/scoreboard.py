"""What the scoreboard shows, decided without Streamlit: the period a preset means, the headline numbers
with their change against the previous period, the gate flags, and how each KPI is counted.

The numbers come from `core.kpis.kpi_table`; this module only picks, compares and words them, so that the
page, the Markdown summary and the CLI say the same thing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, func, select

from core.models import ImportRun, utcnow
from core.periods import month_start, next_bucket_start, quarter_start, week_start

PeriodPreset = Literal["this_week", "last_week", "this_month", "last_month", "this_quarter", "last_quarter", "custom"]
PERIOD_PRESETS: dict[PeriodPreset, str] = {
    "last_month": "Last complete month",
    "this_month": "This month so far",
    "last_week": "Last complete week",
    "this_week": "This week so far",
    "last_quarter": "Last complete quarter",
    "this_quarter": "This quarter so far",
    "custom": "Custom range",
}
# A source needs this many MQLs before its conversion is flagged: 1 SQL of 3 MQLs says nothing.
MIN_MQLS_FOR_A_FLAG = 20
SLA_FLAG_BELOW = 0.9
STALE_AFTER = dt.timedelta(days=7)


def _unit(preset: PeriodPreset) -> str:
    return preset.split("_", 1)[1]


def _start(day: dt.date, unit: str) -> dt.date:
    return {"week": week_start, "month": month_start, "quarter": quarter_start}[unit](day)


def _next(start: dt.date, unit: str) -> dt.date:
    return next_bucket_start(start, unit)  # type: ignore[arg-type]


def period_range(
    preset: PeriodPreset, today: dt.date, custom: tuple[dt.date, dt.date] | None = None
) -> tuple[dt.date, dt.date]:
    """The first and last day a preset means on `today` ("this …" ends today; "last …" is the complete one)."""
    if preset == "custom":
        if custom is None:
            raise ValueError("a custom period needs its first and last day")
        first, last = custom
        if last < first:
            raise ValueError(f"the range ends ({last}) before it starts ({first})")
        return first, last
    unit = _unit(preset)
    current = _start(today, unit)
    if preset.startswith("this_"):
        return current, today
    previous = _start(current - dt.timedelta(days=1), unit)
    return previous, current - dt.timedelta(days=1)


def previous_range(preset: PeriodPreset, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period to compare with: the previous week, month or quarter (as far into it as this one has
    run, for "this …"), or for a custom range the same number of days just before it."""
    if preset == "custom":
        length = last - first
        return first - length - dt.timedelta(days=1), first - dt.timedelta(days=1)
    unit = _unit(preset)
    start = _start(first - dt.timedelta(days=1), unit)
    end = _next(start, unit) - dt.timedelta(days=1)
    if preset.startswith("this_"):
        # Like for like: the first N days of the previous period against the first N days of this one.
        end = min(end, start + (last - first))
    return start, end


def known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def percent(value: Any) -> str:
    return f"{value:.0%}" if known(value) else "no data"


def money(value: Any) -> str:
    """Compact enough for six metrics in a row: $4.57M, $35k, $900."""
    if not known(value):
        return "no data"
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.2f}M"
    if abs(value) >= 10_000:
        return f"${value / 1_000:,.0f}k"
    return f"${value:,.0f}"


@dataclass(frozen=True)
class Headline:
    key: str  # the kpi_table column shown
    label: str
    value: str
    delta: str | None  # against the previous period; None when either side has no data
    # "normal": up is good; "inverse": down is good (the sales cycle)
    delta_color: Literal["normal", "inverse"]
    note: str  # target or gate, one line
    formula: str  # how this is counted, for the "how this is counted" popover


def _point_change(now: pd.Series, before: pd.Series, key: str) -> str | None:
    if not (known(now[key]) and known(before[key])):
        return None
    return f"{(now[key] - before[key]) * 100:+.1f} pts"


def _amount_change(now: pd.Series, before: pd.Series, key: str, *, in_money: bool = False) -> str | None:
    if not (known(now[key]) and known(before[key])):
        return None
    change = now[key] - before[key]
    return ("+" if change >= 0 else "−") + (money(abs(change)) if in_money else f"{abs(change):,.0f}")


def headlines(now: pd.Series, before: pd.Series) -> list[Headline]:
    """The six numbers of the top row, from one `kpi_table(..., grain="range")` row per period."""
    mql_target = f"target {now['mql_target']:,.0f} ({percent(now['mql_attainment'])} reached)"
    pipeline_target = f"target {money(now['pipeline_target'])} ({percent(now['pipeline_attainment'])} reached)"
    cycle_change = None
    if known(now["median_cycle_days"]) and known(before["median_cycle_days"]):
        cycle_change = f"{now['median_cycle_days'] - before['median_cycle_days']:+.0f} days"
    sla_kind = "business" if now.get("sla_business_hours", True) else "calendar"
    return [
        Headline(
            "mqls",
            "MQLs",
            f"{now['mqls']:,.0f}" if known(now["mqls"]) else "no data",
            _amount_change(now, before, "mqls"),
            "normal",
            mql_target if known(now["mql_target"]) else "no target set for this period",
            "Leads that became MQLs in the period (their MQL date falls in it). "
            "Target: the monthly MQL targets of the period's months, prorated by day for partial months.",
        ),
        Headline(
            "mql_to_sql",
            "MQL → SQL",
            percent(now["mql_to_sql"]),
            _point_change(now, before, "mql_to_sql"),
            "normal",
            f"gate {percent(now['conversion_gate'])}; {now['sqls']:,.0f} SQLs of {now['mqls']:,.0f} MQLs",
            "MQLs of the period that have an SQL date (at any time since) ÷ MQLs of the period.",
        ),
        Headline(
            "sla_compliance",
            "Response SLA met",
            percent(now["sla_compliance"]),
            _point_change(now, before, "sla_compliance"),
            "normal",
            f"within {now['sla_hours']:g} {sla_kind} hours; {now['sla_pending']:,.0f} still pending",
            "MQLs of the period whose first response came within the SLA ÷ MQLs whose response is due "
            "(answered, or unanswered past the deadline). Unanswered MQLs still inside their window are left out.",
        ),
        Headline(
            "pipeline_created",
            "Pipeline created",
            money(now["pipeline_created"]),
            _amount_change(now, before, "pipeline_created", in_money=True),
            "normal",
            pipeline_target if known(now["pipeline_target"]) else "no target set for this period",
            "Sum of the amounts of opportunities created in the period, marketing- and sales-sourced.",
        ),
        Headline(
            "win_rate",
            "Win rate",
            percent(now["win_rate"]),
            _point_change(now, before, "win_rate"),
            "normal",
            f"{now['won']:,.0f} won of {now['closed']:,.0f} closed",
            "Opportunities closed won in the period ÷ opportunities closed (won or lost) in the period.",
        ),
        Headline(
            "median_cycle_days",
            "Sales cycle",
            f"{now['median_cycle_days']:.0f} days" if known(now["median_cycle_days"]) else "no data",
            cycle_change,
            "inverse",
            "median, created to won",
            "Median days from an opportunity's creation to its close, over opportunities won in the period.",
        ),
    ]


def flags(now: pd.Series, by_source: pd.DataFrame) -> list[str]:
    """One line per gate crossed or target missed, worst news first."""
    lines = []
    for source in by_source.sort_values("mql_to_sql").itertuples():
        if (
            known(source.mql_to_sql)
            and source.mql_to_sql < source.conversion_gate
            and source.mqls >= MIN_MQLS_FOR_A_FLAG
        ):
            lines.append(
                f"{str(source.group).replace('_', ' ').capitalize()} converts {source.mql_to_sql:.0%} of "
                f"{source.mqls:,} MQLs to SQL — gate is {source.conversion_gate:.0%}."
            )
    if known(now["sla_compliance"]) and now["sla_compliance"] < SLA_FLAG_BELOW:
        lines.append(
            f"Only {now['sla_compliance']:.0%} of MQLs got a response within {now['sla_hours']:g} business hours."
        )
    if known(now["mql_attainment"]) and now["mql_attainment"] < 1:
        lines.append(f"MQLs are at {now['mql_attainment']:.0%} of target.")
    if known(now["rejection_share"]) and now["rejection_share"] > now["rejection_gate"]:
        lines.append(
            f"Sales rejected {now['rejection_share']:.0%} of dispositioned MQLs — gate is {now['rejection_gate']:.0%}."
        )
    return lines


@dataclass(frozen=True)
class Freshness:
    last_import: dt.datetime | None  # naive UTC

    def stale(self, now: dt.datetime | None = None) -> bool:
        return self.last_import is None or (now or utcnow()) - self.last_import > STALE_AFTER

    def describe(self) -> str:
        if self.last_import is None:
            return "no import recorded"
        return f"last import {self.last_import:%Y-%m-%d %H:%M} UTC"


def freshness(engine: Engine) -> Freshness:
    with engine.connect() as connection:
        return Freshness(connection.scalar(select(func.max(ImportRun.finished_at))))


def funnel(now: pd.Series) -> pd.DataFrame:
    """The period's funnel as stages with counts and the conversion from the stage before.

    Leads created in the period, then the period's MQL cohort: how many became SQLs, got an
    opportunity and were won (at any time since).
    """
    stages = [
        ("Leads created", now["leads_created"]),
        ("MQLs", now["mqls"]),
        ("SQLs", now["sqls"]),
        ("Opportunities", now["opportunity_mqls"]),
        ("Won", now["won_mqls"]),
    ]
    frame = pd.DataFrame(stages, columns=["stage", "count"])
    frame["count"] = pd.to_numeric(frame["count"], errors="coerce").fillna(0).astype(int)
    before = frame["count"].shift(1)
    frame["from_previous"] = (frame["count"] / before).where(before > 0)
    frame["order"] = range(len(frame))
    return frame
