"""The Sandbox page's charts: the two rules' MQLs by month, and volume and conversion at every threshold."""

from __future__ import annotations

import altair as alt
import pandas as pd

from core import formatting
from ui import theme
from ui.charts import by_width


def monthly_chart(frame: pd.DataFrame, rules: tuple[str, str]) -> alt.Chart:
    """MQLs by month under both rules (core.sandbox.outcome.monthly_comparison), `rules` = (in force, yours).
    The axis is the months' own labels in month order, so every month gets its tick and no label is dropped
    or drawn for a date between buckets."""
    months = list(dict.fromkeys(frame["label"]))
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "label:N",
                title=None,
                sort=months,
                axis=alt.Axis(labelAngle=by_width(-90, 0 if len(months) <= 6 else -45), labelOverlap=False),
            ),
            xOffset=alt.XOffset("rule:N", sort=list(rules)),
            y=alt.Y("mqls:Q", title="MQLs"),
            color=alt.Color(
                "rule:N",
                scale=alt.Scale(domain=list(rules), range=[theme.MUTED, theme.NEUTRAL]),
                legend=alt.Legend(title=None, orient="top", labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="Month"),
                alt.Tooltip("rule:N", title="Rule"),
                alt.Tooltip("mqls:Q", title="MQLs", format=","),
                alt.Tooltip("sqls:Q", title="SQLs", format=","),
            ],
        )
        .properties(height=240)
    )


def curve_chart(points: pd.DataFrame, gate: float, current: int, recommended: int | None) -> alt.LayerChart:
    """The threshold curve (core.sandbox.outcome.curve): MQLs shaded, conversion as the line against the gate,
    with the knobs' threshold and the recommended one marked."""
    base = alt.Chart(points).encode(
        x=alt.X("threshold:Q", title="MQL score threshold", scale=alt.Scale(domain=[0, 100]))
    )
    tooltip = [
        alt.Tooltip("threshold:Q", title="Threshold"),
        alt.Tooltip("mqls:Q", title="MQLs", format=","),
        alt.Tooltip("conversion:Q", title="MQL→SQL conversion", format=".0%"),
    ]
    volume = base.mark_area(color=theme.NEUTRAL_FAINT, opacity=0.8).encode(
        y=alt.Y("mqls:Q", title="MQLs (shaded)"), tooltip=tooltip
    )
    share = alt.Scale(domain=[0, 1])
    rate = alt.Y(
        "conversion:Q",
        title="MQL→SQL conversion (line)",
        axis=alt.Axis(format="%", titleColor=theme.NEUTRAL, orient="right"),
        scale=share,
    )
    conversion = base.mark_line(color=theme.NEUTRAL, strokeWidth=3).encode(y=rate)
    gate_frame = pd.DataFrame({"gate": [gate], "x": [100], "label": [f"gate {formatting.percent(gate)}"]})
    gate_rule = (
        alt.Chart(gate_frame)
        .mark_rule(color=theme.INK, strokeDash=[6, 4], strokeWidth=1.5)
        .encode(y=alt.Y("gate:Q", scale=share))
    )
    gate_label = (
        alt.Chart(gate_frame)
        .mark_text(color=theme.INK, align="right", dy=-8, fontSize=12)
        .encode(x="x:Q", y=alt.Y("gate:Q", scale=share), text="label:N")
    )
    # Conversion under the gate is the bad part of the curve: the only red on the chart.
    under = (
        base.transform_filter(alt.datum.conversion < gate)
        .mark_point(color=theme.BAD, filled=True, opacity=1, size=30)
        .encode(y=rate, tooltip=tooltip)
    )
    marks = [f"Your threshold {current}"]
    if recommended == current:
        marks = [f"Your threshold {current}, the recommended"]
    elif recommended is not None:
        marks.append(f"Recommended {recommended}")
    thresholds = [current, recommended][: len(marks)]
    marker_rules = (
        alt.Chart(pd.DataFrame({"threshold": thresholds, "what": marks}))
        .mark_rule(strokeWidth=2)
        .encode(
            x="threshold:Q",
            color=alt.Color(
                "what:N",
                scale=alt.Scale(domain=marks, range=[theme.NEUTRAL, theme.GOOD][: len(marks)]),
                legend=alt.Legend(title=None, orient="top", labelLimit=0),
            ),
        )
    )
    return (
        alt.layer(volume, alt.layer(conversion, under, gate_rule, gate_label), marker_rules)
        .resolve_scale(y="independent")
        .properties(height=300)
    )
