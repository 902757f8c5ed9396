"""Rejections (everyone; ops keep the reason catalogue): why sales turned leads away, and what marketing
should change. Numbers come from core.rejections.explorer; this page lays them out.

The view (period and filters) lives in the URL's query string, like the scoreboard's. Clicking a bar or a
cell, or picking one below the charts, lists the leads behind it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.exports import inert
from core.funnel.kpis import Filters
from core.funnel.scoreboard import percent
from core.periods import clamp_range, week_start
from core.permissions import Actor, may
from core.rejections.catalogue import (
    CATEGORIES,
    LEAD_FIELDS,
    CatalogueError,
    Reason,
    add_reason,
    map_spelling,
    update_reason,
)
from core.rejections.explorer import (
    DRILL_COLUMNS,
    NO_REASON,
    PERIOD_PRESETS,
    Drill,
    ExplorerView,
    RejectionQuery,
    complete_weeks,
    explorer_range,
    recurring_tops,
    streak_summaries,
    view_from_params,
    view_to_params,
)
from ui import auth, cache, feedback

BAD, GOOD, MUTED, INK = "#dc2626", "#16a34a", "#9ca3af", "#111827"
CATEGORY_COLOURS = {
    "targeting": "#dc2626",
    "qualification": "#f59e0b",
    "timing": "#8b5cf6",
    "follow_up": "#2563eb",
    "data": "#6b7280",
    "none": "#d1d5db",
}
FILTERS = {  # Filters field: (label, filter_options key, query-string key)
    "sources": ("Source", "source"),
    "campaigns": ("Campaign", "campaign"),
    "segments": ("Segment", "segment"),
    "owners": ("Owner", "owner"),
    "industries": ("Industry", "industry"),
    "size_bands": ("Company size", "size_band"),
}
TOP_IN_TREND = 6
TREND_COLOURS = ["#dc2626", "#2563eb", "#f59e0b", "#16a34a", "#8b5cf6", "#0891b2"]
CAMPAIGNS_IN_HEATMAP = 15
PAGE_SIZE = 50
CSV_LIMIT = 100_000
ALL = "(all)"

user = auth.guard("read")
actor = Actor(user.username, user.role)  # type: ignore[arg-type]
st.title("Rejections")

span = cache.date_span()
if span is None:
    st.info("No data yet. Load the sample company with `python -m core seed`, or import a CRM export.")
    st.stop()
assert span is not None
today = cache.org_settings().today()
anchor = cache.explorer_anchor("last_13_weeks", today)

if "rj_linked" not in st.session_state:
    st.session_state["rj_linked"] = view_from_params({key: st.query_params.get_all(key) for key in st.query_params})
linked: ExplorerView = st.session_state["rj_linked"]

options = cache.options()
controls = st.columns([1.2, 1.4, 2.4])
presets = list(PERIOD_PRESETS)
preset = controls[0].selectbox(
    "Period", presets, index=presets.index(linked.preset), format_func=PERIOD_PRESETS.get, key="rj_period"
)
custom = None
if preset == "custom":
    picked = controls[1].date_input(
        "From – to", linked.custom or explorer_range("last_13_weeks", anchor), key="rj_range"
    )
    if isinstance(picked, tuple) and len(picked) == 2:
        # A link may carry any dates (0001-01-01 to 9999-12-31): the work is kept to the data's years.
        custom = clamp_range(picked[0], picked[1], span, today)
    else:
        st.info("Pick the last day of the range too.")
        st.stop()
chosen: dict[str, tuple[str, ...]] = {}
for column, (name, (label, option_key)) in zip(st.columns(len(FILTERS)), FILTERS.items(), strict=True):
    offered = options.get(option_key, [])
    default = [value for value in getattr(linked.filters, name) if value in offered]
    chosen[name] = tuple(column.multiselect(label, offered, default=default, key=f"rj_{name}", placeholder="all"))
filters = Filters(**chosen)
first_day, last_day = explorer_range(preset, cache.explorer_anchor(preset, today), custom)
view = ExplorerView(preset, custom, filters)
st.query_params.from_dict(view_to_params(view))
st.session_state["rj_linked"] = view

query = RejectionQuery(first_day, last_day, filters)
summary = cache.rejection_overview(query)
st.caption(
    f"**{first_day:%d %b %Y} – {last_day:%d %b %Y}.** Reasons count the MQLs sales rejected in the period, "
    "by the day of the rejection; the unqualified share counts the period's MQLs, as on the scoreboard. Typed "
    "reasons are grouped by the catalogue (last tab)."
)

# --- At a glance -------------------------------------------------------------------------------------------
metrics = st.columns(5)
# A number the imports cannot support is a dash with its reason, never a 0 that reads as a result.
if summary.share_unavailable:
    metrics[0].metric("Unqualified share", "—")
    metrics[0].caption(f"Not available: {summary.share_unavailable}")
else:
    metrics[0].metric("Unqualified share", percent(summary.unqualified_share))
    metrics[0].caption(
        f"{summary.cohort_rejected:,} of {summary.dispositioned:,} dispositioned MQLs rejected; "
        f"gate {summary.rejection_gate:.0%}"
    )
gone = summary.rejections_unavailable
metrics[1].metric("Rejections logged", "—" if gone else f"{summary.rejected:,}")
metrics[1].caption(f"Not available: {gone}" if gone else "in the period, with the filters")
if gone or summary.no_reason_unavailable:
    metrics[2].metric("No reason given", "—")
    metrics[2].caption(f"Not available: {gone or summary.no_reason_unavailable}")
else:
    metrics[2].metric("No reason given", f"{summary.no_reason:,}")
    metrics[2].caption(
        f"{percent(summary.no_reason / summary.reasons_known if summary.reasons_known else float('nan'))} of "
        "rejections; the SLA asks for a reason every time"
    )
metrics[3].metric(f"Before {summary.min_touch_attempts} attempts", "—" if gone else f"{summary.premature:,}")
metrics[3].caption(
    f"Not available: {gone}"
    if gone
    else "rejected after fewer touch attempts than the SLA asks, under a reason that needs them (the SLA's "
    "minimum days are not checked)"
    + (f"; {summary.attempts_unknown:,} without a count" if summary.attempts_unknown else "")
)
metrics[4].metric("Unmapped reasons", f"{summary.unmapped:,}")
metrics[4].caption("typed reasons the catalogue does not know yet")

if summary.rejected == 0 and summary.dispositioned == 0:
    st.info(
        f"Rejections are not in the imported data: {gone}."
        if gone
        else "No rejections and no dispositioned MQLs in this period with these filters.",
        icon=":material/info:",
    )
    st.stop()

# --- Signals -----------------------------------------------------------------------------------------------
if summary.over_gate:
    st.error(
        f"The unqualified share is {summary.unqualified_share:.0%}, above the {summary.rejection_gate:.0%} gate: "
        "the scoring model needs adjustment. See which reasons drive it and what those leads have in common.",
        icon=":material/flag:",
    )
weekly = cache.rejections_by_week(query)
weeks = complete_weeks(first_day, last_day, today)
streaks = recurring_tops(weekly, weeks)
icp, mql = cache.in_force("icp"), cache.in_force("mql")
profiles = cache.rejection_profiles(query, icp.rules if icp else None, mql.rules if mql else None)
profile_of = {profile.reason: profile for profile in profiles}
for reason, sentence in streak_summaries(streaks):
    profile = profile_of.get(reason)
    finding = next((f for f in profile.findings if f.stands_out), None) if profile else None
    common = f"  \n**What these leads have in common:** {inert(finding.sentence())}" if finding else ""
    st.warning(inert(sentence) + common, icon=":material/repeat:")
if summary.unqualified_share == summary.unqualified_share and not summary.over_gate and not streaks:
    st.success(
        "The unqualified share is within the gate and no reason topped three complete weeks in a row.",
        icon=":material/check_circle:",
    )


def picked(event: Any, name: str) -> dict[str, Any] | None:
    """The first point a chart click selected, as {field: value}, or None."""
    try:
        points = event.selection[name]
    except (AttributeError, KeyError, TypeError):
        return None
    if isinstance(points, list) and points and isinstance(points[0], dict):
        return points[0]
    return None


def drill_to(chart: str, point: dict[str, Any] | None, **values: Any) -> None:
    """Point the lead list below at what a click on `chart` selected; other pickers go back to all. A chart
    keeps its selection across reruns, so only a new click counts: otherwise a second chart's old
    selection, or the first one's, would undo every later pick, sort or page."""
    marker_key = f"rj_click_{chart}"
    marker = None if point is None else repr(sorted(point.items()))
    if st.session_state.get(marker_key) == marker:
        return
    st.session_state[marker_key] = marker
    if point is None:
        return  # the selection was cleared: leave the pickers as they are
    for name in ("reason", "source", "campaign", "week", "owner", "only"):
        st.session_state[f"rj_drill_{name}"] = values.get(name, ALL)
    st.session_state["rj_page"] = 1


def reason_fields(reason: Reason | None) -> dict[str, Any]:
    """The inputs of a catalogue entry inside a form, filled from `reason` when editing one."""
    categories, lead_fields = list(CATEGORIES), ["", *LEAD_FIELDS]
    return {
        "name": st.text_input("Name", reason.name if reason else ""),
        "category": st.selectbox(
            "Kind of fix",
            categories,
            index=categories.index(reason.category) if reason else 0,
            format_func=lambda c: f"{c}: {CATEGORIES[c]}",
        ),
        "lead_field": st.selectbox(
            "Lead field it is about",
            lead_fields,
            index=lead_fields.index(reason.lead_field or "") if reason else 0,
            format_func=lambda f: f or "none",
        )
        or None,
        "attempts_required": st.checkbox(
            "Needs the SLA's touch attempts first", value=reason.attempts_required if reason else True
        ),
        "description": st.text_area("Description", reason.description if reason else "", height=68),
    }


reasons_tab, trend_tab, heat_tab, owners_tab, catalogue_tab = st.tabs(
    ["Reasons", "Over time", "By source and campaign", "Owners", "Catalogue"]
)

# --- Reasons: the Pareto -----------------------------------------------------------------------------------
ranked = cache.rejection_reasons(query)
with reasons_tab:
    if ranked.empty:
        st.info("No rejections logged in this period with these filters.")
    else:
        order = list(ranked["reason"])
        click = alt.selection_point(name="reason_pick", fields=["reason"])
        bars = (
            alt.Chart(ranked)
            .mark_bar()
            .encode(
                x=alt.X(
                    "reason:N",
                    sort=order,
                    title=None,
                    axis=alt.Axis(labelAngle=-30, labelLimit=200, labelOverlap=False),
                ),
                y=alt.Y("rejections:Q", title="Rejections"),
                color=alt.Color(
                    "category:N",
                    title="Kind of fix",
                    scale=alt.Scale(domain=list(CATEGORY_COLOURS), range=list(CATEGORY_COLOURS.values())),
                ),
                opacity=alt.condition(click, alt.value(1.0), alt.value(0.45)),
                tooltip=[
                    alt.Tooltip("reason:N", title="Reason"),
                    alt.Tooltip("rejections:Q", title="Rejections", format=","),
                    alt.Tooltip("share:Q", title="Share", format=".1%"),
                    alt.Tooltip("cumulative_share:Q", title="Cumulative", format=".1%"),
                ],
            )
            .add_params(click)
        )
        cumulative = (
            alt.Chart(ranked)
            .mark_line(point=True, color=INK)
            .encode(
                x=alt.X("reason:N", sort=order),
                y=alt.Y("cumulative_share:Q", title="Cumulative share", axis=alt.Axis(format="%")),
            )
        )
        event = st.altair_chart(
            alt.layer(bars, cumulative).resolve_scale(y="independent").properties(height=340),
            width="stretch",
            on_select="rerun",
            key="rj_pareto",
        )
        point = picked(event, "reason_pick")
        drill_to("pareto", point, reason=(point or {}).get("reason", ALL))
        st.caption("Bars: rejections per reason, coloured by the kind of fix it asks for. Line: cumulative share.")
        shown = ranked.assign(share=ranked["share"] * 100, cumulative_share=ranked["cumulative_share"] * 100)
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "reason": "Reason",
                "category": "Kind of fix",
                "rejections": st.column_config.NumberColumn("Rejections", format="%d"),
                "share": st.column_config.NumberColumn("Share", format="%.1f%%"),
                "cumulative_share": st.column_config.NumberColumn("Cumulative", format="%.1f%%"),
            },
        )

        st.subheader("What the top reasons' leads have in common")
        if icp is None:
            st.info(
                "No ICP is in force, so there is nothing to compare the rejected leads with. Propose one on the "
                "Definitions page; once both leads sign it, this section compares against it.",
                icon=":material/info:",
            )
        else:
            st.caption(
                f"Against {icp.label}"
                + (f" and the seniorities of {mql.label}" if mql and mql.rules.get("seniorities") else "")
                + ". The accepted leads are the period's MQLs that became SQLs, with the same filters."
            )
        for profile in profiles:
            with st.container(border=True):
                st.markdown(f"**{inert(profile.reason)}**: {profile.rejections:,} rejections")
                strong = [finding for finding in profile.findings if finding.stands_out]
                for finding in strong:
                    st.markdown(f":red[**{inert(finding.sentence())}**]")
                for finding in [finding for finding in profile.findings if not finding.stands_out][:2]:
                    st.caption(inert(finding.sentence()))
                if icp is not None and not strong:
                    st.caption("Nothing in the ICP sets these leads apart from the ones sales accepted.")
                if profile.top_campaign is not None:
                    line = f"Top campaign: {profile.top_campaign}, {profile.top_campaign_share:.0%} of them."
                    if profile.top_campaign_share >= 0.4:
                        st.markdown(f":red[**{inert(line)}**]")
                    else:
                        st.caption(inert(line))

# --- Over time -----------------------------------------------------------------------------------------------
with trend_tab:
    if weekly.empty:
        st.info("No rejections logged in this period with these filters.")
    else:
        top_reasons = [reason for reason in ranked["reason"] if reason != NO_REASON][:TOP_IN_TREND]
        trend = weekly.assign(
            reason=weekly["reason"].where(weekly["reason"].isin([*top_reasons, NO_REASON]), "Other reasons")
        )
        trend = trend.groupby(["week", "reason"], as_index=False)["rejections"].sum()
        trend["week_label"] = pd.to_datetime(trend["week"]).dt.strftime("%d %b %Y")
        complete = set(weeks)
        trend["week_state"] = ["complete" if week in complete else "partial" for week in trend["week"]]
        streak_weeks = {week: streak.reason for streak in streaks for week in streak.weeks}
        trend["streak"] = [streak_weeks.get(week, "") for week in trend["week"]]
        legend_order = [*top_reasons, "Other reasons", NO_REASON]
        trend["stack"] = trend["reason"].map({reason: index for index, reason in enumerate(legend_order)})
        colours = [*TREND_COLOURS[: len(top_reasons)], "#d1d5db", "#9ca3af"]
        # Every week of the period on the axis, also one without a single rejection.
        mondays = pd.date_range(week_start(first_day), last_day, freq="W-MON")
        week_order = [f"{monday:%d %b %Y}" for monday in mondays]
        week_click = alt.selection_point(name="week_pick", fields=["week_label", "reason"])
        stacked = (
            alt.Chart(trend)
            .mark_bar()
            .encode(
                x=alt.X(
                    "week_label:O",
                    sort=week_order,
                    scale=alt.Scale(domain=week_order),
                    title="Week (Monday)",
                    axis=alt.Axis(labelAngle=-45),
                ),
                y=alt.Y("rejections:Q", title="Rejections", stack="zero"),
                color=alt.Color(
                    "reason:N",
                    sort=legend_order,
                    title="Reason",
                    scale=alt.Scale(domain=legend_order, range=colours),
                ),
                # The same reason at the same height every week, so that a rising reason reads as one band.
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
            .add_params(week_click)
        )
        event = st.altair_chart(stacked.properties(height=360), width="stretch", on_select="rerun", key="rj_trend")
        point = picked(event, "week_pick")
        label = (point or {}).get("week_label")
        week = dt.datetime.strptime(label, "%d %b %Y").date() if isinstance(label, str) else None
        reason = (point or {}).get("reason", ALL)
        drill_to(
            "trend", point, week=week or ALL, **({"reason": reason} if reason in ranked["reason"].to_numpy() else {})
        )
        st.caption(
            f"The {TOP_IN_TREND} most frequent reasons of the period, the rest as “Other reasons”. Faded weeks are "
            "not complete (cut by the period or still running) and do not count for the three-week rule."
        )
        followed_options = [reason for reason in ranked["reason"] if reason != NO_REASON]
        # The longest streak is the pattern worth following first (ties: the most recent).
        longest = max(reversed(streaks), key=lambda streak: len(streak.weeks)).reason if streaks else None
        followed = st.selectbox(
            "Follow one reason's share of each week's rejections",
            followed_options,
            index=followed_options.index(longest) if longest in followed_options else 0,
            key="rj_follow",
        )
        totals = weekly.groupby("week")["rejections"].sum()
        share = (
            weekly[weekly["reason"] == followed].set_index("week")["rejections"].reindex(totals.index, fill_value=0)
            / totals
        ).rename("share")
        line_data = share.reset_index()
        line_data["week_label"] = pd.to_datetime(line_data["week"]).dt.strftime("%d %b %Y")
        line_data["on top"] = [
            "top reason, in a 3-week streak"
            if streak_weeks.get(week) == followed
            else ("incomplete week" if week not in complete else "not in a streak")
            for week in line_data["week"]
        ]
        share_line = (
            alt.Chart(line_data)
            .mark_line(color=MUTED)
            .encode(
                x=alt.X(
                    "week_label:O",
                    sort=week_order,
                    scale=alt.Scale(domain=week_order),
                    title="Week (Monday)",
                    axis=alt.Axis(labelAngle=-45),
                ),
                y=alt.Y("share:Q", title=f"Share that are “{followed}”", axis=alt.Axis(format="%")),
            )
        )
        share_points = share_line.mark_point(filled=True, size=70).encode(
            color=alt.Color(
                "on top:N",
                title=None,
                legend=alt.Legend(labelLimit=260),
                scale=alt.Scale(
                    domain=["top reason, in a 3-week streak", "not in a streak", "incomplete week"],
                    range=[BAD, INK, MUTED],
                ),
            ),
            tooltip=[
                alt.Tooltip("week_label:N", title="Week of"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
                alt.Tooltip("on top:N", title="Week"),
            ],
        )
        st.altair_chart((share_line + share_points).properties(height=240), width="stretch")
        tops = (
            weekly[weekly["reason"] != NO_REASON]
            .sort_values(["week", "rejections"], ascending=[True, False])
            .groupby("week")
            .head(2)
        )
        table = (
            tops.groupby("week")
            .apply(
                lambda rows: pd.Series(
                    {
                        "top reason": rows.iloc[0]["reason"]
                        if len(rows) == 1 or rows.iloc[0]["rejections"] > rows.iloc[1]["rejections"]
                        else f"tie: {rows.iloc[0]['reason']} / {rows.iloc[1]['reason']}",
                        "rejections": int(rows.iloc[0]["rejections"]),
                    }
                ),
                include_groups=False,
            )
            .reset_index()
        )
        table["complete week"] = table["week"].isin(complete)
        table["in a streak"] = table["week"].map(lambda week: streak_weeks.get(week, ""))
        with st.expander("Top reason of each week"):
            st.dataframe(table, hide_index=True, width="stretch")

# --- By source and campaign ------------------------------------------------------------------------------------
with heat_tab:
    against = st.radio(
        "Reasons against", ["source", "campaign"], horizontal=True, key="rj_heat_by", format_func=str.capitalize
    )
    cells = cache.rejection_heatmap(query, against)  # type: ignore[arg-type]
    if cells.empty:
        st.info("No rejections logged in this period with these filters.")
    else:
        group_totals = cells.groupby("group")["rejections"].sum().sort_values(ascending=False)
        note = ""
        if against == "campaign" and len(group_totals) > CAMPAIGNS_IN_HEATMAP:
            note = f" The {CAMPAIGNS_IN_HEATMAP} campaigns with the most rejections of {len(group_totals)}."
            group_totals = group_totals.head(CAMPAIGNS_IN_HEATMAP)
            cells = cells[cells["group"].isin(group_totals.index)]
        reason_order = [reason for reason in ranked["reason"] if reason in set(cells["reason"])]
        cell_click = alt.selection_point(name="cell_pick", fields=["reason", "group"])
        base = alt.Chart(cells).encode(
            x=alt.X(
                "group:N",
                sort=list(group_totals.index),
                title=against.capitalize(),
                axis=alt.Axis(labelAngle=-30, labelLimit=180, labelOverlap=False),
            ),
            y=alt.Y("reason:N", sort=reason_order, title=None, axis=alt.Axis(labelLimit=220)),
        )
        rects = (
            base.mark_rect()
            .encode(
                color=alt.Color(
                    "share_of_group:Q",
                    title=f"Of the {against}'s rejections",
                    scale=alt.Scale(scheme="reds", domain=[0, max(0.5, float(cells["share_of_group"].max()))]),
                    legend=alt.Legend(format="%"),
                ),
                opacity=alt.condition(cell_click, alt.value(1.0), alt.value(0.55)),
                tooltip=[
                    alt.Tooltip("reason:N", title="Reason"),
                    alt.Tooltip("group:N", title=against.capitalize()),
                    alt.Tooltip("rejections:Q", title="Rejections", format=","),
                    alt.Tooltip("share_of_group:Q", title=f"Of the {against}'s rejections", format=".1%"),
                ],
            )
            .add_params(cell_click)
        )
        labels = base.mark_text(fontSize=11).encode(
            text=alt.Text("rejections:Q", format=","),
            color=alt.condition(alt.datum.share_of_group > 0.35, alt.value("white"), alt.value(INK)),
        )
        event = st.altair_chart(
            (rects + labels).properties(height=alt.Step(30)),
            width="stretch",
            on_select="rerun",
            key=f"rj_heat_{against}",
        )
        point = picked(event, "cell_pick")
        cell = point or {}
        drill_to(f"heat_{against}", point, reason=cell.get("reason", ALL), **{against: cell.get("group", ALL)})
        st.caption(
            f"Each cell: rejections with that reason; colour: its share of the {against}'s rejections, so a column "
            f"shows what sales says about that {against}'s leads.{note}"
        )

# --- Owners ----------------------------------------------------------------------------------------------------
with owners_tab:
    owners = cache.rejections_by_owner(query)
    if owners.empty:
        st.info("No rejections logged in this period with these filters.")
    else:
        left, right = st.columns(2)
        for place, column, title, colour in (
            (left, "no_reason", "Rejected with no reason", BAD),
            (right, "premature", f"Rejected before {summary.min_touch_attempts} touch attempts", "#f59e0b"),
        ):
            chart = (
                alt.Chart(owners)
                .mark_bar(color=colour)
                .encode(
                    y=alt.Y("owner:N", sort=alt.EncodingSortField(column, order="descending"), title=None),
                    x=alt.X(f"{column}:Q", title=title),
                    tooltip=[
                        alt.Tooltip("owner:N", title="Owner"),
                        alt.Tooltip(f"{column}:Q", title=title, format=","),
                        alt.Tooltip("rejected:Q", title="Rejections", format=","),
                        alt.Tooltip(f"{column}_share:Q", title="Of their rejections", format=".0%"),
                    ],
                )
                .properties(height=alt.Step(30))
            )
            place.altair_chart(chart, width="stretch")
        shown = owners.assign(
            no_reason_share=owners["no_reason_share"] * 100, premature_share=owners["premature_share"] * 100
        )
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "owner": "Owner",
                "rejected": st.column_config.NumberColumn("Rejections", format="%d"),
                "no_reason": st.column_config.NumberColumn("No reason", format="%d"),
                "premature": st.column_config.NumberColumn(
                    f"Before {summary.min_touch_attempts} attempts", format="%d"
                ),
                "attempts_unknown": st.column_config.NumberColumn("Attempts not recorded", format="%d"),
                "no_reason_share": st.column_config.NumberColumn("No reason, share", format="%.0f%%"),
                "premature_share": st.column_config.NumberColumn("Too early, share", format="%.0f%%"),
            },
        )
        st.caption(
            "A rejection without a reason breaks the SLA on sales's side: marketing learns nothing from it. "
            "Reasons such as a duplicate or a competitor need no attempts (see the catalogue). Pick an owner "
            "below to list their leads."
        )

# --- Catalogue -------------------------------------------------------------------------------------------------
with catalogue_tab:
    feedback.show_notice("reasons")
    reasons = cache.reason_catalogue()
    unmapped = cache.unmapped_reasons()
    st.markdown(
        "Sales types reasons freely; the catalogue says which canonical reason each spelling means. Case, "
        "spacing and punctuation are ignored (“Too small co.” = “too small co”). The text as typed is kept on "
        "every lead."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "reason": reason.name,
                    "kind of fix": reason.category,
                    "lead field": reason.lead_field or "",
                    "needs the SLA's attempts": reason.attempts_required,
                    "spellings": ", ".join(reason.synonyms),
                    "description": reason.description,
                }
                for reason in reasons
            ]
        ),
        hide_index=True,
        width="stretch",
        height=38 + 35 * len(reasons),
    )
    capped = "+, the most frequent first" if len(unmapped) >= 200 else ""
    st.markdown(f"**Unmapped spellings** ({len(unmapped):,}{capped}), over every rejection ever logged")
    if unmapped.empty:
        st.caption("Every typed reason is in the catalogue.")
    else:
        st.dataframe(unmapped, hide_index=True, width="stretch", column_config={"leads": "Rejected leads"})
    if may(user.role, "edit_reasons"):
        by_name = {reason.name: reason for reason in reasons}
        left, right = st.columns(2)
        with left.form("rj_map"):
            st.markdown("**Map a spelling to a reason**")
            examples = list(unmapped["example"]) if not unmapped.empty else []
            spelling = st.selectbox(
                "Unmapped spelling", examples, index=None, placeholder="pick one…", key="rj_map_spelling"
            )
            typed = st.text_input(
                "…or type a spelling", help="Any spelling; a mapped one moves to the new reason.", key="rj_map_typed"
            )
            target = st.selectbox("Means", list(by_name), index=None, placeholder="pick a reason…", key="rj_map_to")
            if st.form_submit_button("Map", icon=":material/link:", key="rj_map_submit"):
                text = typed.strip() or spelling
                if not text or target is None:
                    st.error("Pick or type a spelling and pick the reason it means.")
                else:
                    try:
                        key, was = map_spelling(cache.engine(), actor, text, by_name[target].id)
                    except CatalogueError as problem:
                        st.error(str(problem))
                    else:
                        moved = f" (it meant “{was}” before)" if was and was != target else ""
                        feedback.after_write("reasons", f"“{key}” now means “{target}”{moved}.")
        with right.form("rj_add"):
            st.markdown("**Add a reason**")
            fields = reason_fields(None)
            if st.form_submit_button("Add", icon=":material/add:"):
                try:
                    add_reason(cache.engine(), actor, **fields)
                except CatalogueError as problem:
                    st.error(str(problem))
                else:
                    feedback.after_write("reasons", f"Added the reason “{fields['name'].strip()}”.")
        with st.expander("Edit a reason"):
            chosen_name = st.selectbox("Reason", list(by_name), key="rj_edit_pick")
            if chosen_name:
                reason = by_name[chosen_name]
                with st.form(f"rj_edit_{reason.id}"):
                    fields = reason_fields(reason)
                    if st.form_submit_button("Save", icon=":material/save:"):
                        try:
                            update_reason(cache.engine(), actor, reason.id, **fields)
                        except CatalogueError as problem:
                            st.error(str(problem))
                        else:
                            feedback.after_write(
                                "reasons", f"Saved “{fields['name'].strip()}”; old spellings still match."
                            )
    else:
        st.caption("Ops keep the catalogue.")

# --- The leads behind a bar or a cell --------------------------------------------------------------------------
st.subheader("The leads behind it")
st.caption("Click a bar or a cell above, or pick here. Sorted and paged in the database.")
reason_options = [ALL, *ranked["reason"]]
week_options = [ALL, *sorted(weekly["week"].unique())] if not weekly.empty else [ALL]
pickers = st.columns(6)
for key, options_list in (
    ("rj_drill_reason", reason_options),
    ("rj_drill_source", [ALL, *options.get("source", [])]),
    ("rj_drill_campaign", [ALL, *options.get("campaign", [])]),
    ("rj_drill_week", week_options),
    ("rj_drill_owner", [ALL, *options.get("owner", [])]),
    ("rj_drill_only", [ALL, "no_reason", "premature"]),
):
    # A value the current options lack (a click from another period) falls back to all, not an error.
    if st.session_state.get(key, ALL) not in options_list:
        st.session_state[key] = ALL
drill_reason = pickers[0].selectbox("Reason", reason_options, key="rj_drill_reason")
drill_source = pickers[1].selectbox("Source", [ALL, *options.get("source", [])], key="rj_drill_source")
drill_campaign = pickers[2].selectbox("Campaign", [ALL, *options.get("campaign", [])], key="rj_drill_campaign")
drill_week = pickers[3].selectbox(
    "Week", week_options, key="rj_drill_week", format_func=lambda w: w if w == ALL else f"week of {w:%d %b %Y}"
)
drill_owner = pickers[4].selectbox("Owner", [ALL, *options.get("owner", [])], key="rj_drill_owner")
drill_only = pickers[5].selectbox(
    "Only",
    [ALL, "no_reason", "premature"],
    key="rj_drill_only",
    format_func={ALL: "(all)", "no_reason": "no reason given", "premature": "before the minimum attempts"}.get,
)
drill = Drill(
    reason=None if drill_reason == ALL else drill_reason,
    source=None if drill_source == ALL else drill_source,
    campaign=None if drill_campaign == ALL else drill_campaign,
    week=None if drill_week == ALL else drill_week,
    owner=None if drill_owner == ALL else drill_owner,
    only=None if drill_only == ALL else drill_only,
)
sorting = st.columns([1.5, 1, 1, 3])
sort = sorting[0].selectbox("Sort by", DRILL_COLUMNS, index=DRILL_COLUMNS.index("rejected_at"), key="rj_sort")
descending = sorting[1].toggle("Descending", value=True, key="rj_desc")
first_page, total = cache.rejected_leads(query, drill, sort, descending, 0, PAGE_SIZE)
pages = max(1, -(-total // PAGE_SIZE))
if st.session_state.get("rj_page", 1) > pages:  # the list got shorter since the page was picked
    st.session_state["rj_page"] = 1
page_number = int(sorting[2].number_input("Page", 1, pages, key="rj_page")) if pages > 1 else 1
rows = (
    first_page
    if page_number == 1
    else cache.rejected_leads(query, drill, sort, descending, (page_number - 1) * PAGE_SIZE, PAGE_SIZE)[0]
)
sorting[3].markdown(
    f"**{total:,} rejected lead{'' if total == 1 else 's'}**: {drill.describe()}  \npage {page_number} of {pages}"
)
st.dataframe(rows, hide_index=True, width="stretch")
if total and st.button(f"Prepare a CSV of these {min(total, CSV_LIMIT):,} leads", icon=":material/download:"):
    st.download_button(
        "Download the CSV",
        cache.rejected_leads_csv(query, drill, sort, descending, CSV_LIMIT),
        file_name=f"rejections_{first_day}_{last_day}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
    if total > CSV_LIMIT:
        st.caption(f"The first {CSV_LIMIT:,} of {total:,} in this order; narrow the filters for the rest.")
