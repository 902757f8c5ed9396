"""What the scoreboard shows, decided without Streamlit: the headline numbers with their change against the
previous period, the gate flags, the funnel, the data's freshness, and how each KPI is counted.

The numbers come from `core.funnel.kpis.kpi_table` and the periods from `core.periods`; this module only picks,
compares and words them, so that the page, the Markdown summary and the CLI say the same thing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, func, select

from core.exports import MARKDOWN_SPECIALS, markdown_text
from core.formatting import MISSING, count, days, known, money, percent
from core.funnel.attribution import MODELS, Model
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.segments import Filters, data_range
from core.funnel.view import ViewLink, default_anchor
from core.models import ImportRun, utcnow
from core.periods import (
    GRAINS,
    PERIOD_PRESETS,
    Grain,
    PeriodPreset,
    anchor_day,
    completed_unit,
    period_range,
    previous_range,
    shown_period_reason,
)
from core.vocabulary import FILTER_LABELS, display_names, value_name

# A source needs this many MQLs before its conversion is flagged: 1 SQL of 3 MQLs says nothing.
MIN_MQLS_FOR_A_FLAG = 20
SLA_FLAG_BELOW = 0.9
STALE_AFTER = dt.timedelta(days=7)
# Targets are company-wide: a filtered view or a period without targets shows none.
NO_TARGET = "no target for this view (targets are company-wide)"


@dataclass(frozen=True)
class Headline:
    key: str  # the kpi_table column shown
    label: str
    value: str
    delta: str | None  # against the previous period; None when either side has no data
    # "normal": up is good; "inverse": down is good (the sales cycle)
    delta_color: Literal["normal", "inverse"]
    note: str  # target or gate, one line; or why the number is not available
    formula: str  # how this is counted, for the "how this is counted" popover
    basis: str = ""  # what the number is based on, when some rows did not carry what it needs
    available: bool = True


NOT_AVAILABLE = "not available"


def unavailable(row: pd.Series) -> dict[str, str]:
    """KPI -> why it cannot be counted from what was imported (core.funnel.kpis coverage)."""
    reasons = row.get("unavailable")
    return reasons if isinstance(reasons, dict) else {}


def coverage_notes(row: pd.Series) -> dict[str, str]:
    notes = row.get("coverage_notes")
    return notes if isinstance(notes, dict) else {}


def maturing(row: pd.Series) -> dict[str, float]:
    """KPI -> the days in which nine in ten past conversions happened, for the row's KPIs still maturing."""
    days = row.get("maturity_days")
    return days if isinstance(days, dict) else {}


MATURING = "still maturing"


def maturing_note(kpi: str, days: float) -> str:
    what = "SQLs come" if kpi == "mql_to_sql" else "wins come"
    return f"{MATURING}: 9 in 10 {what} within {days:.0f} days of the MQL date, and this cohort is younger"


def _honest(headline: Headline, now: pd.Series) -> Headline:
    """The headline as "not available" with its reason, or with what it is based on."""
    reason = unavailable(now).get(headline.key)
    if reason is not None:
        return dataclasses.replace(
            headline, value=NOT_AVAILABLE, delta=None, note=reason[0].upper() + reason[1:], available=False
        )
    basis = coverage_notes(now).get(headline.key)
    if basis is not None:
        headline = dataclasses.replace(headline, basis=basis[0].upper() + basis[1:])
    young = maturing(now).get(headline.key)
    if young is not None:
        note = maturing_note(headline.key, young)
        headline = dataclasses.replace(headline, note=f"{headline.note}; {note}", value=f"{headline.value} (so far)")
    return headline


def _point_change(now: pd.Series, before: pd.Series, key: str) -> str | None:
    if not (known(now[key]) and known(before[key])):
        return None
    return _signed((now[key] - before[key]) * 100, "{:.1f}", " pts")


def _signed(change: float, number: str, unit: str = "", *, in_money: bool = False) -> str | None:
    """A change as st.metric reads it: an ASCII sign first (Streamlit colours by a leading "-"), None when
    it rounds to nothing, so that no arrow claims a change."""
    shown = money(abs(change)) if in_money else number.format(abs(change))
    if shown.strip("$0.,") == "":
        return None
    return ("-" if change < 0 else "+") + shown + unit


def _amount_change(now: pd.Series, before: pd.Series, key: str, *, in_money: bool = False) -> str | None:
    if not (known(now[key]) and known(before[key])):
        return None
    return _signed(now[key] - before[key], "{:,.0f}", in_money=in_money)


def headlines(now: pd.Series, before: pd.Series) -> list[Headline]:
    """The six numbers of the top row, from one `kpi_table(..., grain="range")` row per period."""
    mql_target = f"target {now['mql_target']:,.0f} ({percent(now['mql_attainment'])} reached)"
    pipeline_target = f"target {money(now['pipeline_target'])} ({percent(now['pipeline_attainment'])} reached)"
    cycle_change = None
    if known(now["median_cycle_days"]) and known(before["median_cycle_days"]):
        cycle_change = _signed(now["median_cycle_days"] - before["median_cycle_days"], "{:.0f}", " days")
    sla_kind = "business" if now.get("sla_business_hours", True) else "calendar"
    gone_before = unavailable(before)
    before = before.copy()
    for key in gone_before:
        if key in before.index:
            before[key] = math.nan  # no change against a number that could not be counted
    shown = [
        Headline(
            "mqls",
            "MQLs",
            count(now["mqls"]),
            _amount_change(now, before, "mqls"),
            "normal",
            mql_target if known(now["mql_target"]) else NO_TARGET,
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
            pipeline_target if known(now["pipeline_target"]) else NO_TARGET,
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
            days(now["median_cycle_days"]),
            cycle_change,
            "inverse",
            "median, created to won",
            "Median days from an opportunity's creation to its close, over opportunities won in the period.",
        ),
    ]
    return [_honest(headline, now) for headline in shown]


def _under_gate(row: Any) -> bool:
    """A conversion under the gate on enough MQLs to mean something, from a cohort old enough to have converted."""
    young = row.maturity_days if isinstance(row.maturity_days, dict) else {}
    return (
        "mql_to_sql" not in young
        and known(row.mql_to_sql)
        and row.mql_to_sql < row.conversion_gate
        and row.mqls >= MIN_MQLS_FOR_A_FLAG
    )


def flags(now: pd.Series, by_source: pd.DataFrame, names: Mapping[str, str] | None = None) -> list[str]:
    """One line per gate crossed or target missed, worst news first; sources by their display `names`."""
    sources = [source for source in by_source.sort_values("mql_to_sql").itertuples() if _under_gate(source)]
    lines = []
    # A view of one source (a filter) would say the same thing twice: the source's line names it.
    if _under_gate(now) and not any(source.mqls == now["mqls"] for source in sources):
        lines.append(
            f"Only {percent(now['mql_to_sql'])} of {now['mqls']:,} MQLs became SQLs — "
            f"gate is {percent(now['conversion_gate'])}."
        )
    lines += [
        f"{value_name(source.group, names)} converts {percent(source.mql_to_sql)} of {source.mqls:,} MQLs to SQL — "
        f"gate is {percent(source.conversion_gate)}."
        for source in sources
    ]
    if known(now["sla_compliance"]) and now["sla_compliance"] < SLA_FLAG_BELOW:
        kind = "business" if now.get("sla_business_hours", True) else "calendar"
        lines.append(
            f"Only {percent(now['sla_compliance'])} of MQLs got a response within {now['sla_hours']:g} {kind} hours."
        )
    if known(now["mql_attainment"]) and now["mql_attainment"] < 1:
        lines.append(f"MQLs are at {percent(now['mql_attainment'])} of target.")
    if (
        known(now["rejection_share"])
        and now["rejection_share"] > now["rejection_gate"]
        and now["dispositioned"] >= MIN_MQLS_FOR_A_FLAG
    ):
        lines.append(
            f"Sales rejected {percent(now['rejection_share'])} of dispositioned MQLs — "
            f"gate is {percent(now['rejection_gate'])}."
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
        # Spend or targets typed in last week say nothing about whether the funnel data is current.
        latest = select(func.max(ImportRun.finished_at)).where(ImportRun.kind.in_(("leads", "opportunities")))
        return Freshness(connection.scalar(latest))


def funnel(now: pd.Series) -> pd.DataFrame:
    """The period's funnel as stages with counts and the conversion from the stage before.

    Leads created in the period, then the period's MQL cohort: how many became SQLs, got an
    opportunity and were won (at any time since). A stage the imported data cannot tell has its reason in
    `not_in_data` (and no count or rate), so that it is not read as nobody reaching it.
    """
    gone = unavailable(now)
    stages = [
        ("Leads created", now["leads_created"], None),
        ("MQLs", now["mqls"], gone.get("mqls")),
        ("SQLs", now["sqls"], gone.get("mql_to_sql")),
        ("Opportunities", now["opportunity_mqls"], gone.get("mql_to_won")),
        ("Won", now["won_mqls"], gone.get("mql_to_won")),
    ]
    frame = pd.DataFrame(stages, columns=["stage", "count", "not_in_data"])
    young = maturing(now)
    frame["maturing"] = [False, False, "mql_to_sql" in young, "mql_to_won" in young, "mql_to_won" in young]
    frame["count"] = pd.to_numeric(frame["count"], errors="coerce").fillna(0).astype(int)
    missing = frame["not_in_data"].notna()
    frame.loc[missing, "count"] = 0
    before = frame["count"].shift(1).where(~missing.shift(1, fill_value=False))
    frame["from_previous"] = (frame["count"] / before).where((before > 0) & ~missing)
    # Leads created and MQLs of a period are different people (a lead qualifies weeks after it is created):
    # their ratio is no conversion rate.
    frame.loc[frame["stage"] == "MQLs", "from_previous"] = float("nan")
    frame["order"] = range(len(frame))
    return frame


@dataclass(frozen=True)
class View:
    """Everything that decides what the scoreboard shows, so that a link can carry it."""

    preset: PeriodPreset = "last_month"
    custom: tuple[dt.date, dt.date] | None = None
    grain: Grain = "month"
    filters: Filters = field(default_factory=Filters)
    model: Model = "linear"


FILTERS: tuple[str, ...] = ("sources", "segments", "owners", "campaigns")
LINK = ViewLink(View(), PERIOD_PRESETS, FILTERS, {"grain": GRAINS, "model": MODELS})


def ranking_note(by_model: pd.DataFrame, model: Model, names: Mapping[str, str] | None = None) -> str:
    """How much the channel ranking depends on the attribution model, in one sentence (channels by name)."""
    if by_model.empty:
        return "No won revenue in this period to attribute."
    ranks = by_model.pivot_table(index="channel", columns="model", values="rank", aggfunc="first")
    # A channel credited under one model and not another has moved too: unranked counts as last.
    ranks = ranks.fillna(len(ranks) + 1)
    moved = int((ranks.max(axis=1) != ranks.min(axis=1)).sum())
    leaders = by_model[by_model["rank"] == 1].groupby("model")["channel"].first().map(lambda c: value_name(c, names))
    leader = leaders.get(model)
    distinct_leaders = sorted(set(leaders))
    text = f"{moved} of {len(ranks)} channels change rank between the five models"
    if len(distinct_leaders) > 1:
        text += f"; the top channel is {' or '.join(distinct_leaders)} depending on the model"
    elif leader is not None:
        text += f"; {leader} is on top under every model"
    return text + "."


def _markdown_text(value: str) -> str:
    """Text from the data made inert in Markdown and in a spreadsheet (parentheses escaped too)."""
    return markdown_text(value, MARKDOWN_SPECIALS + "()")


def summary_markdown(
    title: str,
    compared_with: str,
    shown: list[Headline],
    lines: list[str],
    stages: pd.DataFrame,
    fresh: Freshness,
    filters: Filters,
    names: Mapping[str, str] | None = None,
) -> str:
    """The scoreboard as a one-page Markdown summary to paste into an e-mail (text from data neutralised)."""
    chosen = [
        f"{FILTER_LABELS[name].lower()} {', '.join(_markdown_text(value_name(value, names)) for value in values)}"
        for name in FILTERS
        if (values := getattr(filters, name))
    ]
    out = [f"# OneFunnel scoreboard: {title}", "", f"Compared with {compared_with}."]
    if chosen:
        out.append("Filtered to " + "; ".join(chosen) + ".")
    out += ["", "| KPI | value | change | note |", "|---|---|---|---|"]
    out += [
        f"| {h.label} | {h.value} | {h.delta or MISSING} | {h.note}{'; ' + h.basis if h.basis else ''} |" for h in shown
    ]
    out += ["", "## Flags", ""]
    out += [f"- {_markdown_text(line)}" for line in lines] or ["- No gate crossed."]
    out += ["", "## Funnel", "", "| stage | count | from the stage before |", "|---|---|---|"]
    for stage in stages.itertuples():
        if isinstance(stage.not_in_data, str):
            out.append(f"| {stage.stage} | not in the data | {_markdown_text(stage.not_in_data)} |")
            continue
        maturing_mark = f" ({MATURING})" if stage.maturing else ""
        out.append(f"| {stage.stage} | {stage.count:,} | {percent(stage.from_previous)}{maturing_mark} |")
    out += ["", f"Data: {fresh.describe()}."]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Board:
    """The scoreboard of one view as the page shows it, for the command line and the Markdown summary."""

    first_day: dt.date
    last_day: dt.date
    shown_period: str  # which period and why, in one line
    compared_first: dt.date
    compared_last: dt.date
    headlines: list[Headline]
    flags: list[str]
    funnel: pd.DataFrame
    unavailable: dict[str, str]
    coverage_notes: dict[str, str]
    maturing: dict[str, float]

    def parts(self) -> tuple[list[Headline], list[str], pd.DataFrame]:
        """What the Markdown summary takes: headlines, flags, funnel."""
        return self.headlines, self.flags, self.funnel

    def as_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, float) and math.isnan(value):
                return None
            return value.item() if hasattr(value, "item") else value

        return {
            "period": {"first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat()},
            "shown_period": self.shown_period,
            "compared_with": {"first_day": self.compared_first.isoformat(), "last_day": self.compared_last.isoformat()},
            "headlines": [dataclasses.asdict(headline) for headline in self.headlines],
            "flags": self.flags,
            "unavailable": self.unavailable,
            "coverage_notes": self.coverage_notes,
            "maturing": sorted(self.maturing),
            "maturity_days": self.maturing,
            "funnel": [
                {key: plain(value) for key, value in row.items() if key != "order"}
                for row in self.funnel.to_dict(orient="records")
            ],
        }


def view_range(engine: Engine, view: View, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days a view shows: a "last …" preset the latest complete period with MQLs, "this …" the current one
    (or the data's last, when it ends in the past), custom its own."""
    unit = completed_unit(view.preset)
    if unit is not None:
        return period_range(view.preset, default_anchor(engine, today, unit))
    span = data_range(engine)
    return period_range(view.preset, anchor_day(today, span[1] if span else None), view.custom)


def read_board(engine: Engine, view: View, today: dt.date, as_of: dt.datetime | None = None) -> Board:
    """The scoreboard of `view` on `today`, computed as the page computes it."""
    first, last = view_range(engine, view, today)
    previous_first, previous_last = previous_range(view.preset, first, last)
    now = kpi_table(engine, KpiQuery(first, last, "range", None, view.filters, as_of)).iloc[0]
    before = kpi_table(engine, KpiQuery(previous_first, previous_last, "range", None, view.filters, as_of)).iloc[0]
    by_source = kpi_table(engine, KpiQuery(first, last, "range", "source", view.filters, as_of))
    span = data_range(engine)
    return Board(
        first_day=first,
        last_day=last,
        shown_period=shown_period_reason(view.preset, first, last, today, span[1] if span else None),
        compared_first=previous_first,
        compared_last=previous_last,
        headlines=headlines(now, before),
        flags=flags(now, by_source, display_names(engine)),
        funnel=funnel(now),
        unavailable=unavailable(now),
        coverage_notes=coverage_notes(now),
        maturing=maturing(now),
    )
