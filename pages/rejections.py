"""Rejections (everyone; ops keep the reason catalogue): why sales turned leads away, and what marketing
should change. Numbers come from core.rejections, charts from ui.charts.rejections, the larger panels from
ui.panels.rejections; this page says what is on the screen, in order.

The view (period and filters) lives in the URL's query string, like the scoreboard's. Clicking a bar or a
cell, or picking one below the charts, lists the leads behind it.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core.permissions import Actor
from core.rejections.explorer import EXPLORER_FILTERS, LINK, PERIOD_PRESETS, ExplorerView, explorer_range
from core.rejections.scope import NO_REASON, RejectionQuery
from core.rejections.streaks import TOP_IN_TREND, find, followed_share, trend_frame, trend_order, week_table
from ui import auth, cache, controls, theme
from ui.charts import rejections as charts
from ui.panels import rejections as panels
from ui.tables import show_table

CAMPAIGNS_IN_HEATMAP = 15
NOTHING = "No rejections logged in this period with these filters."

user = auth.guard("read")
st.title("Rejections")
span = controls.data_span()
today = cache.org_settings().today()

# --- The view: period and filters, carried by the link ---------------------------------------------------------
linked = controls.linked("rj", LINK)


def days(preset: str, custom: tuple[dt.date, dt.date] | None) -> tuple[dt.date, dt.date]:
    return explorer_range(preset, cache.explorer_anchor(preset, today), custom)


chosen = controls.view_controls("rj", linked, PERIOD_PRESETS, EXPLORER_FILTERS, days, span, today)
controls.keep("rj", LINK, ExplorerView(chosen.preset, chosen.custom, chosen.filters))
first_day, last_day = chosen.first_day, chosen.last_day
query = RejectionQuery(first_day, last_day, chosen.filters)
names = cache.display_names()

# --- At a glance and the signals -------------------------------------------------------------------------------
summary = cache.rejection_overview(query)
st.caption(
    f"**{first_day:%d %b %Y} – {last_day:%d %b %Y}.** Reasons count the MQLs sales rejected in the period, "
    "by the day of the rejection; the unqualified share counts the period's MQLs, as on the scoreboard. Typed "
    "reasons are grouped by the catalogue (last tab)."
)
panels.at_a_glance(summary)
if summary.rejected == 0 and summary.dispositioned == 0:
    gone = summary.rejections_unavailable
    empty = "No rejections and no dispositioned MQLs in this period with these filters."
    st.info(f"Rejections are not in the imported data: {gone}." if gone else empty, icon=":material/info:")
    st.stop()
weekly = cache.rejections_by_week(query)
found = find(weekly, first_day, last_day, today)
icp, mql = cache.in_force("icp"), cache.in_force("mql")
profiles = cache.rejection_profiles(query, icp.rules if icp else None, mql.rules if mql else None)
panels.signals(summary, found, profiles)

ranked = cache.rejection_reasons(query)
tabs = st.tabs(["Reasons", "Over time", "By source and campaign", "Owners", "Catalogue"])
reasons_tab, trend_tab, heat_tab, owners_tab, catalogue_tab = tabs

with reasons_tab:
    if ranked.empty:
        st.info(NOTHING)
    else:
        event = st.altair_chart(charts.pareto_chart(ranked), width="stretch", on_select="rerun", key="rj_pareto")
        panels.drill_to("pareto", panels.picked(event, "reason_pick"))
        st.caption("Bars: rejections per reason, coloured by the kind of fix it asks for. Line: cumulative share.")
        panels.reasons_table(ranked)
        panels.common_ground(profiles, icp, mql)

with trend_tab:
    if weekly.empty:
        st.info(NOTHING)
    else:
        order = trend_order(list(ranked["reason"]), TOP_IN_TREND)
        trend = trend_frame(weekly, found, order)
        event = st.altair_chart(
            charts.trend_chart(trend, order, found.axis), width="stretch", on_select="rerun", key="rj_trend"
        )
        panels.drill_to("trend", panels.picked(event, "week_pick"))
        st.caption(
            f"The {TOP_IN_TREND} most frequent reasons of the period, the rest as “Other reasons”. Faded weeks are "
            "not complete (cut by the period or still running) and do not count for the three-week rule."
        )
        reasons = [reason for reason in ranked["reason"] if reason != NO_REASON]
        longest = found.longest
        followed = st.selectbox(
            "Follow one reason's share of each week's rejections",
            reasons,
            index=reasons.index(longest) if longest in reasons else 0,
            key="rj_follow",
        )
        share = followed_share(weekly, followed, found)
        st.altair_chart(charts.share_chart(share, found.axis, followed), width="stretch")
        with st.expander("Top reason of each week"):
            st.caption("A tie on top names every reason on top; such a week has no top reason and ends a streak.")
            labels = {"week": "Week of", "top_reason": "Top reason", "rejections": "Rejections"}
            labels |= {"complete": "Complete week", "streak": "In a streak of"}
            show_table(week_table(weekly, found), column_config=labels)

with heat_tab:
    against = st.radio(
        "Reasons against", ["source", "campaign"], horizontal=True, key="rj_heat_by", format_func=str.capitalize
    )
    cells = cache.rejection_heatmap(query, against)  # type: ignore[arg-type]
    if cells.empty:
        st.info(NOTHING)
    else:
        groups = cells.groupby("group")["rejections"].sum().sort_values(ascending=False)
        note = ""
        if against == "campaign" and len(groups) > CAMPAIGNS_IN_HEATMAP:
            note = f" The {CAMPAIGNS_IN_HEATMAP} campaigns with the most rejections of {len(groups)}."
            cells = cells[cells["group"].isin(groups.index[:CAMPAIGNS_IN_HEATMAP])]
        order = [reason for reason in ranked["reason"] if reason in set(cells["reason"])]
        chart = charts.heatmap_chart(cells, against, order, names)
        event = st.altair_chart(chart, width="stretch", on_select="rerun", key=f"rj_heat_{against}")
        panels.drill_to(f"heat_{against}", panels.picked(event, "cell_pick"))
        st.caption(
            f"Each cell: rejections with that reason; colour: its share of the {against}'s rejections, so a column "
            f"shows what sales says about that {against}'s leads.{note}"
        )

with owners_tab:
    owners = cache.rejections_by_owner(query)
    if owners.empty:
        st.info(NOTHING)
    else:
        left, right = st.columns(2)
        minimum = summary.min_touch_attempts
        left.altair_chart(
            charts.owners_chart(owners, "no_reason", "Rejected with no reason", theme.BAD), width="stretch"
        )
        right.altair_chart(
            charts.owners_chart(owners, "premature", f"Rejected before {minimum} touch attempts", theme.WARN),
            width="stretch",
        )
        panels.owners_table(owners, minimum)
        st.caption(
            "A rejection without a reason breaks the SLA on sales's side: marketing learns nothing from it. "
            "Reasons such as a duplicate or a competitor need no attempts (see the catalogue). Pick an owner "
            "below to list their leads."
        )

with catalogue_tab:
    panels.catalogue(user.role, Actor(user.username, user.role))

panels.lead_list(query, ranked, weekly, file_name=f"rejections_{first_day}_{last_day}.csv")
