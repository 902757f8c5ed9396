"""The Scoreboard's charts: the funnel, MQLs against target, conversion against the gate, the three views of
the same sources, won revenue, CAC, the sales cycle and pipeline velocity. Data in (the frames of
`core.funnel.frames`), an Altair chart out; colours from `ui.theme`, where red means only under the gate.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from core.funnel.frames import ENOUGH, FEW, MEETS, SLA_MET, SLA_MISSED, UNDER
from core.funnel.scoreboard import MATURING
from core.vocabulary import model_name
from ui import theme
from ui.charts import by_width

# One readable bar per source whatever the width or the count: a chart of one source is a bar, not a hairline.
SOURCE_STEP = 28
SOURCE_LABEL_LIMIT = 160
TREND_HEIGHT = 230
LEGEND_ROOM = 170  # two stacked legends under a trend chart


def period_axis(trend: pd.DataFrame) -> alt.X:
    """The trend's buckets, each labelled by its own start (a week by its Monday), never by a computed tick."""
    # Every bucket keeps its label (none skipped for overlap): a long trend tilts them, a phone stands them up.
    angle = by_width(-90, 0 if len(trend) <= 6 else -45)
    return alt.X(
        "period:O", title=None, sort=list(trend["period"]), axis=alt.Axis(labelAngle=angle, labelOverlap=False)
    )


def _gate_rule(gate: float, channel: str) -> alt.Chart:
    rule = alt.Chart(pd.DataFrame({"gate": [gate]})).mark_rule(color=theme.INK, strokeDash=[6, 3])
    return rule.encode(**{channel: alt.X("gate:Q") if channel == "x" else alt.Y("gate:Q")})


def funnel_chart(stages: pd.DataFrame) -> alt.LayerChart:
    """Stages as bars with their count and share of the stage before; a stage still maturing is grey."""
    bars = (
        alt.Chart(stages)
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", sort=alt.SortField("order"), title=None),
            color=alt.condition("datum.maturing", alt.value(theme.MUTED), alt.value(theme.NEUTRAL)),
            x=alt.X(
                "count:Q",
                title="Leads",
                axis=alt.Axis(format=",.0f"),
                scale=alt.Scale(domainMax=max(int(stages["count"].max()), 1) * 1.6),
            ),
            tooltip=[
                alt.Tooltip("stage:N", title="Stage"),
                alt.Tooltip("count:Q", title="Count", format=","),
                alt.Tooltip("from_previous:Q", title="Of the stage before", format=".0%"),
            ],
        )
    )
    text = bars.mark_text(align="left", dx=4).encode(text="label:N", color=alt.value(theme.INK))
    return (bars + text).properties(height=230)


def mqls_chart(trend: pd.DataFrame) -> alt.LayerChart:
    """MQLs per period as bars, the period's target as a black tick."""
    bars = (
        alt.Chart(trend)
        .mark_bar(color=theme.NEUTRAL, opacity=0.85)
        .encode(
            x=period_axis(trend),
            y=alt.Y("mqls:Q", title="MQLs"),
            tooltip=[
                alt.Tooltip("period:N", title="Period"),
                alt.Tooltip("mqls:Q", title="MQLs", format=","),
                alt.Tooltip("mql_target:Q", title="Target", format=",.0f"),
                alt.Tooltip("mql_attainment:Q", title="Of target", format=".0%"),
            ],
        )
    )
    ticks = alt.Chart(trend).mark_tick(color=theme.INK, thickness=3).encode(x=period_axis(trend), y="mql_target:Q")
    return (bars + ticks).properties(height=TREND_HEIGHT)


def conversion_chart(trend: pd.DataFrame, gate: float) -> alt.LayerChart:
    """MQL → SQL per period against the gate; a dot's size is the MQLs behind it, red when under the gate."""
    line = (
        alt.Chart(trend)
        .mark_line(color=theme.MUTED)
        .encode(x=period_axis(trend), y=alt.Y("mql_to_sql:Q", title="MQL → SQL", axis=alt.Axis(format="%")))
    )
    points = (
        alt.Chart(trend)
        .mark_circle(opacity=1)
        .encode(
            x=period_axis(trend),
            y="mql_to_sql:Q",
            size=alt.Size(
                "mqls:Q",
                title="MQLs behind the rate",
                scale=alt.Scale(range=[30, 300]),
                legend=alt.Legend(orient="bottom", labelLimit=0, titleLimit=0, columns=3, tickCount=3),
            ),
            color=alt.Color(
                "under_gate:N",
                title=None,
                scale=alt.Scale(domain=[MEETS, UNDER, MATURING], range=[theme.GOOD, theme.BAD, theme.MUTED]),
                legend=alt.Legend(orient="bottom", labelLimit=0, direction="vertical"),
            ),
            tooltip=[
                alt.Tooltip("period:N", title="Period"),
                alt.Tooltip("mql_to_sql:Q", title="MQL → SQL", format=".0%"),
                alt.Tooltip("sqls:Q", title="SQLs", format=","),
                alt.Tooltip("mqls:Q", title="of MQLs", format=","),
            ],
        )
    )
    # Streamlit fits the legends below into the chart's height: give them room, or the plot is squashed flat.
    return (_gate_rule(gate, "y") + line + points).properties(height=TREND_HEIGHT + LEGEND_ROOM)


def _source_chart(sources: pd.DataFrame, title: list[str]) -> alt.Chart:
    """One of the three views of the same sources: every one labels its own bars (they stack on a phone)."""
    axis = alt.Axis(labelLimit=SOURCE_LABEL_LIMIT)
    return (
        alt.Chart(sources)
        .mark_bar()
        .encode(y=alt.Y("source:N", title=None, sort=list(sources["source"]), axis=axis))
        .properties(title=alt.TitleParams(title, anchor="start", limit=0), height=alt.Step(SOURCE_STEP))
    )


def _weight() -> alt.Opacity:
    return alt.Opacity("weight:N", scale=alt.Scale(domain=[ENOUGH, FEW], range=[1.0, 0.35]), legend=None)


def source_charts(sources: pd.DataFrame, gate: float) -> tuple[alt.Chart, alt.LayerChart | alt.FacetChart, alt.Chart]:
    """Marketing's view (MQLs delivered), sales's view (turned into SQLs, against the gate) and the follow-up
    (response SLA met) of the same sources, in the same order."""
    who = [alt.Tooltip("source:N", title="Source"), alt.Tooltip("mqls:Q", title="MQLs", format=",")]
    delivered = _source_chart(sources, ["Marketing's view", "MQLs delivered"]).encode(
        x=alt.X("mqls:Q", title="MQLs"), color=alt.value(theme.NEUTRAL), tooltip=who
    )
    verdict = alt.Scale(domain=[MEETS, UNDER], range=[theme.GOOD, theme.BAD])
    converted = _source_chart(sources, ["Sales's view", "turned into SQLs"]).encode(
        x=alt.X("mql_to_sql:Q", title="MQL → SQL", axis=alt.Axis(format="%")),
        color=alt.Color(
            "verdict:N", scale=verdict, legend=alt.Legend(title=None, orient="bottom", labelLimit=0, columns=1)
        ),
        opacity=_weight(),
        tooltip=[
            *who,
            alt.Tooltip("sqls:Q", title="SQLs", format=","),
            alt.Tooltip("mql_to_sql:Q", title="MQL → SQL", format=".0%"),
        ],
    )
    followed = _source_chart(sources, ["Follow-up", "response SLA met"]).encode(
        x=alt.X("sla_compliance:Q", title="Within the SLA", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "sla_verdict:N",
            scale=alt.Scale(domain=[SLA_MET, SLA_MISSED], range=[theme.GOOD, theme.BAD]),
            legend=alt.Legend(title=None, orient="bottom", labelLimit=0, columns=1),
        ),
        opacity=_weight(),
        tooltip=[
            *who,
            alt.Tooltip("sla_met:Q", title="Within SLA", format=","),
            alt.Tooltip("sla_breached:Q", title="Late or unanswered", format=","),
            alt.Tooltip("sla_compliance:Q", title="SLA met", format=".0%"),
        ],
    )
    gated = alt.layer(_gate_rule(gate, "x"), converted.properties(title="")).properties(
        title=alt.TitleParams(["Sales's view", "turned into SQLs"], anchor="start", limit=0),
        height=alt.Step(SOURCE_STEP),
    )
    return delivered, gated, followed


def revenue_chart(revenue: pd.DataFrame, model: str) -> alt.Chart:
    """Won revenue per channel under one attribution model."""
    return (
        alt.Chart(revenue)
        .mark_bar(color=theme.NEUTRAL)
        .encode(
            y=alt.Y("channel_name:N", title=None, sort="-x", axis=alt.Axis(labelLimit=SOURCE_LABEL_LIMIT)),
            x=alt.X("revenue:Q", title=f"Won revenue ({model_name(model)} model)", axis=alt.Axis(format="$,.0f")),
            tooltip=[
                alt.Tooltip("channel_name:N", title="Channel"),
                alt.Tooltip("revenue:Q", title="Revenue", format="$,.0f"),
                alt.Tooltip("won_credit:Q", title="Won deals credited", format=",.2f"),
                alt.Tooltip("rank:Q", title="Rank"),
            ],
        )
    )


def cac_chart(cac: pd.DataFrame, model: str) -> alt.Chart:
    """Spend per won deal credited, per channel."""
    return (
        alt.Chart(cac)
        .mark_bar(color=theme.CATEGORICAL[0])
        .encode(
            y=alt.Y("channel_name:N", title=None, sort="x", axis=alt.Axis(labelLimit=SOURCE_LABEL_LIMIT)),
            x=alt.X("cac:Q", title=f"CAC per won deal ({model_name(model)} model)", axis=alt.Axis(format="$,.0f")),
            tooltip=[
                alt.Tooltip("channel_name:N", title="Channel"),
                alt.Tooltip("spend:Q", title="Spend", format="$,.0f"),
                alt.Tooltip("won_credit:Q", title="Won deals credited", format=",.2f"),
                alt.Tooltip("cac:Q", title="CAC", format="$,.0f"),
            ],
        )
    )


def cycle_chart(by_source: pd.DataFrame) -> alt.Chart:
    """Median days from creation to a win, per source."""
    return (
        alt.Chart(by_source)
        .mark_bar(color=theme.NEUTRAL)
        .encode(
            y=alt.Y("source:N", title=None, sort="x", axis=alt.Axis(labelLimit=SOURCE_LABEL_LIMIT)),
            x=alt.X("median_cycle_days:Q", title="Median days"),
            tooltip=[
                alt.Tooltip("source:N", title="Source"),
                alt.Tooltip("median_cycle_days:Q", title="Median days", format=".0f"),
                alt.Tooltip("won:Q", title="Won deals", format=","),
            ],
        )
    )


def velocity_chart(trend: pd.DataFrame) -> alt.Chart:
    """Pipeline velocity per period, in dollars a day."""
    return (
        alt.Chart(trend)
        .mark_line(point=True, color=theme.NEUTRAL)
        .encode(
            x=period_axis(trend),
            y=alt.Y("pipeline_velocity_per_day:Q", title="$ per day", axis=alt.Axis(format="$,.0f")),
            tooltip=[
                alt.Tooltip("period:N", title="Period"),
                alt.Tooltip("pipeline_velocity_per_day:Q", title="$ per day", format="$,.0f"),
                alt.Tooltip("opportunities_created:Q", title="Opportunities", format=","),
                alt.Tooltip("win_rate:Q", title="Win rate", format=".0%"),
                alt.Tooltip("mean_cycle_days:Q", title="Mean cycle days", format=".0f"),
            ],
        )
    )
