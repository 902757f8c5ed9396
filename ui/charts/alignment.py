"""The Diagnostic and Weekly sync pages' charts: the scores heat map, the perception gaps, who agrees the teams
are aligned, and the agenda's numbers week by week. Frames come from core.alignment; these only draw them."""

from __future__ import annotations

import textwrap

import altair as alt
import pandas as pd

from core.alignment.agenda import TREND_MEASURES
from core.alignment.diagnostic.results import gap_kind
from ui import theme
from ui.charts import by_width, label_by_width

SCORE_AXIS = alt.Axis(values=[1, 2, 3, 4, 5], format="d")
AREA_AXIS = alt.Axis(labelLimit=260)
# The four groups a gap compares keep one colour each, in both pairs' charts; none of them is red.
GROUP_COLOURS = {
    "Executives": theme.CATEGORICAL[0],
    "Individual contributors": theme.CATEGORICAL[1],
    "Marketing": theme.CATEGORICAL[5],
    "Sales": theme.CATEGORICAL[2],
}


def heatmap(grid: pd.DataFrame, areas: list[str]) -> alt.LayerChart:
    """Mean agreement per area (rows) and group (columns): red is low agreement, green high; withheld grey.

    Eight groups must fit a phone: there the group names stand upright without their head counts, the area
    names break over lines and the scores shrink."""
    columns = list(dict.fromkeys(grid["group"]))
    data = grid.assign(area_lines=[wrapped(area) for area in grid["area"]])
    base = alt.Chart(data).encode(
        x=alt.X(
            "group:N",
            sort=columns,
            title=None,
            axis=alt.Axis(
                labelAngle=by_width(-90, 0),
                # Vega aligns a label by its angle only when the angle is a number: say it for both.
                labelAlign=by_width("'left'", "'center'"),
                labelBaseline=by_width("'middle'", "'bottom'"),
                labelLimit=120,
                orient="top",
                labelOverlap=False,
                labelExpr=label_by_width("split(datum.value, '|')[0]", "split(datum.value, '|')"),
            ),
        ),
        y=alt.Y(
            "area_lines:N",
            sort=[wrapped(area) for area in areas],
            title=None,
            axis=alt.Axis(
                labelLimit=260,
                labelOverlap=False,  # two-line names overlap on paper, not on screen: keep every one
                labelExpr=label_by_width("split(datum.value, '|')", "replace(datum.value, regexp('[|]', 'g'), ' ')"),
            ),
        ),
    )
    # A withheld group has no score: its cells are drawn grey on their own (a null colour would drop them).
    withheld = base.transform_filter("datum.score == null").mark_rect(stroke="white", strokeWidth=2, color=theme.FAINT)
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "score:Q",
            scale=alt.Scale(domain=[1, 3, 5], range=[theme.BAD, theme.CAUTION, theme.GOOD]),
            legend=alt.Legend(title="Mean agreement (1–5)", orient="bottom"),
        ),
        tooltip=[
            alt.Tooltip("area:N", title="Area"),
            alt.Tooltip("group:N", title="Group"),
            alt.Tooltip("score:Q", title="Mean agreement", format=".1f"),
        ],
    )
    text = base.mark_text(fontSize=by_width(10, 13)).encode(text="label:N")
    return (withheld + cells + text).properties(height=alt.Step(34))


def wrapped(label: str, width: int = 22) -> str:
    """A label with "|" where it may break over lines on a phone."""
    return "|".join(textwrap.wrap(label, width)) or label


def gap_chart(lines: pd.DataFrame, dots: pd.DataFrame, areas: list[str]) -> alt.LayerChart:
    """Per area, the two groups' scores joined by a bar: red, and ⚑ by its label, where they are a point or more
    apart."""
    pair = list(dict.fromkeys(dots["group"]))
    y = alt.Y("area:N", sort=areas, title=None, axis=AREA_AXIS)
    rule = (
        alt.Chart(lines)
        .mark_rule(strokeWidth=4)
        .encode(
            y=y,
            x=alt.X(
                "low:Q",
                scale=alt.Scale(domain=[1, 5.6]),
                axis=SCORE_AXIS,
                title="Mean agreement, 1–5",
            ),
            x2="high:Q",
            color=alt.Color(
                "flagged:N",
                scale=alt.Scale(domain=[gap_kind(True), gap_kind(False)], range=[theme.BAD, theme.FAINT]),
                legend=None,  # the page's caption says what red and ⚑ mean: a legend would not fit a phone
            ),
        )
    )
    points = (
        alt.Chart(dots)
        .mark_circle(size=140, opacity=1)
        .encode(
            y=y,
            x="score:Q",
            fill=alt.Fill(
                "group:N",
                scale=alt.Scale(domain=pair, range=[GROUP_COLOURS.get(name, theme.NEUTRAL) for name in pair]),
                legend=alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip("group:N", title="Group"),
                alt.Tooltip("area:N", title="Area"),
                alt.Tooltip("score:Q", title="Mean agreement", format=".1f"),
            ],
        )
    )
    labels = alt.Chart(lines).mark_text(align="left", dx=8, fontSize=11).encode(y=y, x="high:Q", text="gap:N")
    return (rule + points + labels).properties(height=alt.Step(30)).resolve_scale(color="independent")


def aligned_chart(shares: pd.DataFrame, levels: list[str]) -> alt.LayerChart:
    """Per level, the share who agree or strongly agree that the teams are aligned."""
    base = alt.Chart(shares).encode(
        y=alt.Y("group:N", sort=levels, title=None, axis=AREA_AXIS),
        x=alt.X(
            "agree:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1]),
            title="Agree or strongly agree",
        ),
    )
    bars = base.mark_bar(color=theme.NEUTRAL, height=22)
    text = base.mark_text(align="left", dx=6, fontSize=13).encode(text="label:N")
    return (bars + text).properties(height=alt.Step(36))


def trend_chart(moves: pd.DataFrame, shares: pd.DataFrame) -> alt.VConcatChart:
    """MQLs per week above the three shares the agenda tracks, one tick per week (labelled by its Monday)."""
    weeks = [f"{week:%d %b}" for week in moves["week"]]
    x = alt.X("week_label:O", sort=weeks, scale=alt.Scale(domain=weeks), title="Week (Monday)")
    x = x.axis(labelAngle=-45, labelOverlap=False)
    volume = (
        alt.Chart(moves.assign(week_label=weeks))
        .mark_bar(color=theme.NEUTRAL_FAINT)
        .encode(
            x=x,
            y=alt.Y("mqls:Q", title="MQLs"),
            tooltip=[alt.Tooltip("week:T", title="Week of", format="%d %b %Y"), alt.Tooltip("mqls:Q", title="MQLs")],
        )
        .properties(height=160)
    )
    measures = list(TREND_MEASURES.values())
    lines = (
        alt.Chart(shares.assign(week_label=[f"{week:%d %b}" for week in shares["week"]]))
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "measure:N",
                scale=alt.Scale(domain=measures, range=theme.categorical(len(measures))),
                legend=alt.Legend(title=None, orient="bottom", labelLimit=0, direction="vertical"),
            ),
            tooltip=[
                alt.Tooltip("week:T", title="Week of", format="%d %b %Y"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("value:Q", title="Share", format=".0%"),
            ],
        )
        .properties(height=240)
    )
    return alt.vconcat(volume, lines).resolve_scale(x="shared")
