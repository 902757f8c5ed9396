"""What the scoreboard shows, decided without Streamlit: the period a preset means, the headline numbers
with their change against the previous period, the gate flags, and how each KPI is counted.

The numbers come from `core.kpis.kpi_table`; this module only picks, compares and words them, so that the
page, the Markdown summary and the CLI say the same thing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, func, select

from core.exports import MARKDOWN_SPECIALS, markdown_text
from core.funnel.attribution import MODELS, Model
from core.funnel.kpis import Filters, KpiQuery, data_range, kpi_table, last_mql_day_before
from core.models import ImportRun, utcnow
from core.periods import GRAINS, Grain, bucket_start, month_start, next_bucket_start, quarter_start, week_start

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
# Targets are company-wide: a filtered view or a period without targets shows none.
NO_TARGET = "no target for this view (targets are company-wide)"


def _unit(preset: PeriodPreset) -> str:
    return preset.split("_", 1)[1]


def completed_unit(preset: PeriodPreset) -> Grain | None:
    """The unit of a "last …" preset (a complete week, month or quarter); None for the others."""
    return _unit(preset) if preset.startswith("last_") else None  # type: ignore[return-value]


def _start(day: dt.date, unit: str) -> dt.date:
    return {"week": week_start, "month": month_start, "quarter": quarter_start}[unit](day)


def _next(start: dt.date, unit: str) -> dt.date:
    return next_bucket_start(start, unit)  # type: ignore[arg-type]


def anchor_day(today: dt.date, data_ends: dt.date | None) -> dt.date:
    """The day presets count from: today, or the day after the data ends when it stops in the past (a demo
    or an old export), so that a default view always has numbers."""
    return today if data_ends is None else min(today, data_ends + dt.timedelta(days=1))


def default_anchor(engine: Engine, today: dt.date, unit: Grain) -> dt.date:
    """The day a page's default period counts from: the day after the latest complete `unit` that has MQLs.

    Data that stops in the past (a demo, an old export) opens on its last complete period, and an import of
    undated leads today (their MQL day the day of the import) cannot move anyone's default to an empty one:
    the current period is not complete. With no MQLs at all, the day after the data ends.
    """
    last_mql = last_mql_day_before(engine, bucket_start(today, unit))
    if last_mql is None:
        span = data_range(engine)
        return anchor_day(today, span[1] if span else None)
    return anchor_day(today, last_mql)


def shown_period_reason(
    preset: PeriodPreset, first: dt.date, last: dt.date, today: dt.date, data_ends: dt.date | None
) -> str:
    """One line on which period a page shows and why, e.g. "October 2026: the last complete month with MQLs;
    the data runs to 6 Dec 2026"."""
    label = _span_label(first, last)
    runs_to = f"; the data runs to {data_ends.day} {data_ends:%b %Y}" if data_ends else ""
    if preset.startswith("last_"):
        unit = _unit(preset)
        latest = _start(today, unit) - dt.timedelta(days=1)
        why = f"the last complete {unit} with MQLs" if last < latest else f"the last complete {unit}"
        return f"{label}: {why}{runs_to}"
    if preset.startswith("this_"):
        return f"{label}: this {_unit(preset)} so far{runs_to}"
    return f"{label}: the range you chose{runs_to}"


def _span_label(first: dt.date, last: dt.date) -> str:
    if first.day == 1 and next_bucket_start(first, "month") - dt.timedelta(days=1) == last:
        return f"{first:%B %Y}"
    if first == quarter_start(first) and next_bucket_start(first, "quarter") - dt.timedelta(days=1) == last:
        return f"Q{(first.month - 1) // 3 + 1} {first.year}"
    return f"{first:%d %b %Y} – {last:%d %b %Y}"


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
            f"{now['mqls']:,.0f}" if known(now["mqls"]) else "no data",
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
            f"{now['median_cycle_days']:.0f} days" if known(now["median_cycle_days"]) else "no data",
            cycle_change,
            "inverse",
            "median, created to won",
            "Median days from an opportunity's creation to its close, over opportunities won in the period.",
        ),
    ]
    return [_honest(headline, now) for headline in shown]


def flags(now: pd.Series, by_source: pd.DataFrame) -> list[str]:
    """One line per gate crossed or target missed, worst news first."""
    lines = []
    # A young cohort has not converted yet: its rate is no failure (and the row says it is maturing).
    young = "mql_to_sql" in maturing(now)
    if (
        not young
        and known(now["mql_to_sql"])
        and now["mql_to_sql"] < now["conversion_gate"]
        and now["mqls"] >= MIN_MQLS_FOR_A_FLAG
    ):
        lines.append(
            f"Only {now['mql_to_sql']:.0%} of {now['mqls']:,} MQLs became SQLs — gate is {now['conversion_gate']:.0%}."
        )
    for source in by_source.sort_values("mql_to_sql").itertuples():
        if (
            "mql_to_sql" not in (source.maturity_days if isinstance(source.maturity_days, dict) else {})
            and known(source.mql_to_sql)
            and source.mql_to_sql < source.conversion_gate
            and source.mqls >= MIN_MQLS_FOR_A_FLAG
        ):
            lines.append(
                f"{str(source.group).replace('_', ' ').capitalize()} converts {source.mql_to_sql:.0%} of "
                f"{source.mqls:,} MQLs to SQL — gate is {source.conversion_gate:.0%}."
            )
    if known(now["sla_compliance"]) and now["sla_compliance"] < SLA_FLAG_BELOW:
        kind = "business" if now.get("sla_business_hours", True) else "calendar"
        lines.append(
            f"Only {now['sla_compliance']:.0%} of MQLs got a response within {now['sla_hours']:g} {kind} hours."
        )
    if known(now["mql_attainment"]) and now["mql_attainment"] < 1:
        lines.append(f"MQLs are at {now['mql_attainment']:.0%} of target.")
    if (
        known(now["rejection_share"])
        and now["rejection_share"] > now["rejection_gate"]
        and now["dispositioned"] >= MIN_MQLS_FOR_A_FLAG
    ):
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


_FILTER_PARAMS = {"source": "sources", "segment": "segments", "owner": "owners", "campaign": "campaigns"}


def view_from_params(params: dict[str, list[str]]) -> View:
    """A view from a URL's query string; anything unknown or malformed falls back to the default."""

    def one(key: str) -> str | None:
        values = params.get(key) or []
        return values[-1] if values else None

    preset = one("period")
    custom = None
    if preset == "custom":
        try:
            first, last = dt.date.fromisoformat(one("from") or ""), dt.date.fromisoformat(one("to") or "")
            custom = (first, last) if first <= last else None
        except ValueError:
            custom = None
    if preset not in PERIOD_PRESETS or (preset == "custom" and custom is None):
        preset = "last_month"
    grain = one("grain")
    model = one("model")
    filters = Filters(**{name: tuple(dict.fromkeys(params.get(key) or [])) for key, name in _FILTER_PARAMS.items()})
    return View(
        preset=preset,  # type: ignore[arg-type]
        custom=custom,
        grain=grain if grain in GRAINS else "month",
        filters=filters,
        model=model if model in MODELS else "linear",
    )


def view_to_params(view: View) -> dict[str, list[str]]:
    """The query string of a view; defaults are left out so that the plain URL is the default view."""
    params: dict[str, list[str]] = {}
    default = View()
    if view.preset != default.preset:
        params["period"] = [view.preset]
    if view.preset == "custom" and view.custom is not None:
        params["from"], params["to"] = [view.custom[0].isoformat()], [view.custom[1].isoformat()]
    if view.grain != default.grain:
        params["grain"] = [view.grain]
    if view.model != default.model:
        params["model"] = [view.model]
    for key, name in _FILTER_PARAMS.items():
        values = getattr(view.filters, name)
        if values:
            params[key] = list(values)
    return params


def ranking_note(by_model: pd.DataFrame, model: Model) -> str:
    """How much the channel ranking depends on the attribution model, in one sentence."""
    if by_model.empty:
        return "No won revenue in this period to attribute."
    ranks = by_model.pivot_table(index="channel", columns="model", values="rank", aggfunc="first")
    # A channel credited under one model and not another has moved too: unranked counts as last.
    ranks = ranks.fillna(len(ranks) + 1)
    moved = int((ranks.max(axis=1) != ranks.min(axis=1)).sum())
    leaders = by_model[by_model["rank"] == 1].groupby("model")["channel"].first()
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
) -> str:
    """The scoreboard as a one-page Markdown summary to paste into an e-mail (text from data neutralised)."""
    chosen = [
        f"{key} {', '.join(_markdown_text(value) for value in getattr(filters, name))}"
        for key, name in _FILTER_PARAMS.items()
        if getattr(filters, name)
    ]
    out = [f"# OneFunnel scoreboard: {title}", "", f"Compared with {compared_with}."]
    if chosen:
        out.append("Filtered to " + "; ".join(chosen) + ".")
    out += ["", "| KPI | value | change | note |", "|---|---|---|---|"]
    out += [
        f"| {h.label} | {h.value} | {h.delta or '—'} | {h.note}{'; ' + h.basis if h.basis else ''} |" for h in shown
    ]
    out += ["", "## Flags", ""]
    out += [f"- {_markdown_text(line)}" for line in lines] or ["- No gate crossed."]
    out += ["", "## Funnel", "", "| stage | count | from the stage before |", "|---|---|---|"]
    for stage in stages.itertuples():
        if isinstance(stage.not_in_data, str):
            out.append(f"| {stage.stage} | not in the data | {_markdown_text(stage.not_in_data)} |")
            continue
        rate = percent(stage.from_previous) if known(stage.from_previous) else "—"
        out.append(f"| {stage.stage} | {stage.count:,} | {rate}{' (' + MATURING + ')' if stage.maturing else ''} |")
    out += ["", f"Data: {fresh.describe()}."]
    return "\n".join(out) + "\n"


def trend_range(last_day: dt.date, grain: Grain, count: int) -> tuple[dt.date, dt.date]:
    """The `count` periods of `grain` that end with the one holding `last_day` (the last may be partial)."""
    start = bucket_start(last_day, grain)
    for _ in range(count - 1):
        start = bucket_start(start - dt.timedelta(days=1), grain)
    return start, last_day


def period_label(start: dt.date, grain: Grain) -> str:
    """How a period is named on a chart axis: "Oct 2026", "Q3 2026", or a week by its Monday, "26 Oct"."""
    if grain == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if grain == "month":
        return f"{start:%b %Y}"
    return f"{start:%d %b}"


def is_partial(first_day: dt.date, last_day: dt.date, grain: Grain) -> bool:
    """Whether [first_day, last_day] is less than the whole week, month or quarter it belongs to."""
    start = bucket_start(first_day, grain)
    return first_day != start or last_day != next_bucket_start(start, grain) - dt.timedelta(days=1)


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
        flags=flags(now, by_source),
        funnel=funnel(now),
        unavailable=unavailable(now),
        coverage_notes=coverage_notes(now),
        maturing=maturing(now),
    )
