"""The Rejections page's charts: the Pareto of reasons, reasons week by week, one reason's share, the reasons
against sources or campaigns, and the owners' rejections without a reason or too early.

Each chart a click can drill from carries a selection point whose fields are the lead list's pickers
("reason", "week", "source", "campaign"), so the page hands a click to the list as it comes.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from core.rejections.catalogue import CATEGORIES
from core.rejections.streaks import IN_A_STREAK, INCOMPLETE, NOT_IN_A_STREAK
from core.vocabulary import category_label, value_name
from ui import theme
from ui.charts import SLANTED, by_width, label_by_width

KINDS = [*CATEGORIES, "none"]  # the catalogue's kinds of fix, and the blank reason's
# A week reads "27 Jul 2026"; on a phone "27 Jul" upright, the period's caption giving the year.
WEEK_AXIS = alt.Axis(
    labelAngle=SLANTED, labelOverlap=False, labelExpr=label_by_width("slice(datum.value, 0, 6)", "datum.value")
)


def pareto_chart(ranked: pd.DataFrame) -> alt.LayerChart:
    """Rejections per reason, most frequent first, coloured by the kind of fix; the cumulative share as a line."""
    order = list(ranked["reason"])
    data = ranked.assign(kind=ranked["category"].map(category_label))
    click = alt.selection_point(name="reason_pick", fields=["reason"])
    x = alt.X(
        "reason:N",
        sort=order,
        title=None,
        axis=alt.Axis(labelAngle=by_width(-90, -30), labelLimit=200, labelOverlap=False),
    )
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("rejections:Q", title="Rejections"),
            color=alt.Color(
                "kind:N",
                title="Kind of fix",
                scale=alt.Scale(
                    domain=[category_label(kind) for kind in KINDS],
                    range=[*theme.categorical(len(CATEGORIES)), theme.FAINT],
                ),
                legend=alt.Legend(orient="top", labelLimit=0, columns=2),
            ),
            opacity=alt.condition(click, alt.value(1.0), alt.value(0.45)),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("kind:N", title="Kind of fix"),
                alt.Tooltip("rejections:Q", title="Rejections", format=","),
                alt.Tooltip("share:Q", title="Share", format=".0%"),
                alt.Tooltip("cumulative_share:Q", title="Cumulative", format=".0%"),
            ],
        )
        .add_params(click)
    )
    cumulative = (
        alt.Chart(data)
        .mark_line(point=True, color=theme.INK)
        .encode(x=x, y=alt.Y("cumulative_share:Q", title="Cumulative share", axis=alt.Axis(format="%")))
    )
    return alt.layer(bars, cumulative).resolve_scale(y="independent").properties(height=440)


def trend_chart(trend: pd.DataFrame, order: list[str], axis: list[str]) -> alt.Chart:
    """Rejections per week (core.rejections.streaks.trend_frame), stacked by reason in `order`; weeks that
    do not count for the three-week rule are faded. `axis`: every week of the period, also an empty one."""
    named = len(order) - 2  # the order ends with OTHER_REASONS and the blank reason
    click = alt.selection_point(name="week_pick", fields=["week", "reason"])
    return (
        alt.Chart(trend.assign(week=trend["week_iso"]))
        .mark_bar()
        .encode(
            x=alt.X("week_label:O", sort=axis, scale=alt.Scale(domain=axis), title="Week (Monday)", axis=WEEK_AXIS),
            y=alt.Y("rejections:Q", title="Rejections", stack="zero"),
            color=alt.Color(
                "reason:N",
                sort=order,
                title="Reason",
                scale=alt.Scale(domain=order, range=[*theme.categorical(named), theme.MUTED, theme.FAINT]),
                legend=alt.Legend(orient="top", labelLimit=0, columns=by_width(1, 2)),
            ),
            order=alt.Order("stack:Q", sort="ascending"),
            opacity=alt.condition(alt.datum.week_state == "partial", alt.value(0.4), alt.value(1.0)),
            tooltip=[
                alt.Tooltip("week_label:N", title="Week of"),
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("rejections:Q", title="Rejections", format=","),
                alt.Tooltip("week_state:N", title="Week"),
                alt.Tooltip("streak:N", title="Top three weeks running"),
            ],
        )
        .add_params(click)
        # Streamlit fits the legend and the week labels into this height: room enough that the bars stay tall.
        .properties(height=480)
    )


def share_chart(share: pd.DataFrame, axis: list[str], followed: str) -> alt.LayerChart:
    """One reason's share of each week's rejections (core.rejections.streaks.followed_share); the weeks of its
    streaks in amber: a pattern to act on, not a gate crossed. The reason is in the title: a vertical axis
    title longer than the chart is tall squeezes the plot to a line, and so does a height that the rotated week
    labels, the legend and the title use up (Streamlit fits all of them into it)."""
    line = (
        alt.Chart(share)
        .mark_line(color=theme.MUTED)
        .encode(
            x=alt.X("week_label:O", sort=axis, scale=alt.Scale(domain=axis), title="Week (Monday)", axis=WEEK_AXIS),
            y=alt.Y("share:Q", title="Share of the week", axis=alt.Axis(format="%")),
        )
    )
    points = line.mark_point(filled=True, size=70).encode(
        color=alt.Color(
            "state:N",
            title=None,
            legend=alt.Legend(orient="top", labelLimit=0, direction="vertical"),
            scale=alt.Scale(
                domain=[IN_A_STREAK, NOT_IN_A_STREAK, INCOMPLETE], range=[theme.WARN, theme.INK, theme.MUTED]
            ),
        ),
        tooltip=[
            alt.Tooltip("week_label:N", title="Week of"),
            alt.Tooltip("share:Q", title="Share", format=".0%"),
            alt.Tooltip("state:N", title="Week"),
        ],
    )
    # Two lines: one would be cut on a phone.
    title = ["Share of each week's rejections", f"that are “{followed}”"]
    return (line + points).properties(height=360, title=title)


def heatmap_chart(
    cells: pd.DataFrame, against: str, reasons: list[str], names: Mapping[str, str] | None = None
) -> alt.LayerChart:
    """Rejections per reason × source or campaign (core.rejections.explorer.heatmap), the columns by their
    rejections, the rows in `reasons`' order; the colour is the cell's share of its column, in a neutral
    scale (a frequent reason is not bad in itself). `names`: ops' display names of the sources."""
    data = cells.assign(**{against: cells["group"]}, column=[value_name(group, names) for group in cells["group"]])
    columns = list(data.groupby("column")["rejections"].sum().sort_values(ascending=False).index)
    click = alt.selection_point(name="cell_pick", fields=["reason", against])
    title = against.capitalize()
    base = alt.Chart(data).encode(
        x=alt.X(
            "column:N",
            sort=columns,
            title=title,
            axis=alt.Axis(labelAngle=by_width(-90, -30), labelLimit=180, labelOverlap=False),
        ),
        y=alt.Y("reason:N", sort=reasons, title=None, axis=alt.Axis(labelLimit=220)),
    )
    share_title = f"Of the {against}'s rejections"
    rects = (
        base.mark_rect()
        .encode(
            color=alt.Color(
                "share_of_group:Q",
                title=share_title,
                scale=alt.Scale(scheme="blues", domain=[0, max(0.5, float(cells["share_of_group"].max()))]),
                legend=alt.Legend(format="%", orient="top", titleLimit=0, tickCount=3),
            ),
            opacity=alt.condition(click, alt.value(1.0), alt.value(0.55)),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("column:N", title=title),
                alt.Tooltip("rejections:Q", title="Rejections", format=","),
                alt.Tooltip("share_of_group:Q", title=share_title, format=".0%"),
            ],
        )
        .add_params(click)
    )
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text("rejections:Q", format=","),
        color=alt.condition(alt.datum.share_of_group > 0.35, alt.value("white"), alt.value(theme.INK)),
    )
    return (rects + labels).properties(height=alt.Step(30))


def owners_chart(owners: pd.DataFrame, column: str, title: str, colour: str) -> alt.Chart:
    """One bar per owner: `column` of core.rejections.explorer.by_owner, the most first."""
    return (
        alt.Chart(owners)
        .mark_bar(color=colour)
        .encode(
            y=alt.Y("owner:N", sort=alt.EncodingSortField(column, order="descending"), title=None),
            x=alt.X(f"{column}:Q", title=title, axis=alt.Axis(titleLimit=0, tickMinStep=1)),
            tooltip=[
                alt.Tooltip("owner:N", title="Owner"),
                alt.Tooltip(f"{column}:Q", title=title, format=","),
                alt.Tooltip("rejected:Q", title="Rejections", format=","),
                alt.Tooltip(f"{column}_share:Q", title="Of their rejections", format=".0%"),
            ],
        )
        .properties(height=alt.Step(30))
    )
