"""Scoreboard (everyone): the shared KPIs of a period against targets and gates, the funnel, the trend,
the split by source, attribution, CAC and velocity. Numbers come from core; this page lays them out.

The view (period, grain, filters, attribution model) lives in the URL's query string, so a link opens
the same view for whoever it is sent to.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from core.exports import inert, to_safe_csv
from core.funnel.attribution import MODELS, Model
from core.funnel.kpis import Filters, with_notes_as_text
from core.funnel.scoreboard import (
    MATURING,
    MIN_MQLS_FOR_A_FLAG,
    PERIOD_PRESETS,
    View,
    anchor_day,
    completed_unit,
    flags,
    funnel,
    headlines,
    is_partial,
    known,
    money,
    period_label,
    period_range,
    previous_range,
    ranking_note,
    shown_period_reason,
    summary_markdown,
    trend_range,
    unavailable,
    view_from_params,
    view_to_params,
)
from core.periods import GRAINS, Grain, clamp_range, next_bucket_start
from ui import auth, cache

GOOD, BAD, NEUTRAL, INK = "#16a34a", "#dc2626", "#2563eb", "#111827"
MUTED = "#9ca3af"
TREND_PERIODS = {"week": 12, "month": 12, "quarter": 8}
MODEL_NAMES = {
    "first_touch": "first touch",
    "last_touch": "last touch",
    "linear": "linear",
    "u_shaped": "U-shaped",
    "time_decay": "time decay",
}
FILTER_LABELS = {"sources": "Source", "segments": "Segment", "owners": "Owner", "campaigns": "Campaign"}
OPTION_KEYS = {"sources": "source", "segments": "segment", "owners": "owner", "campaigns": "campaign"}

auth.guard("read")
st.title("Scoreboard")

span = cache.date_span()
if span is None:
    st.info("No data yet. Load the sample company with `python -m core seed`, or import a CRM export.")
    st.stop()
assert span is not None
# Presets count from today, or from the day after the data ends when the data stops in the past (a demo
# or an old export), so that the default view always has numbers.
today = cache.org_settings().today()
anchor = anchor_day(today, span[1])

# The query string gives the widgets their first values once per session; afterwards the widgets drive it.
if "sb_linked" not in st.session_state:
    st.session_state["sb_linked"] = view_from_params({key: st.query_params.get_all(key) for key in st.query_params})
linked: View = st.session_state["sb_linked"]

options = cache.options()
controls = st.columns([1.3, 1.3, 0.8])
presets = list(PERIOD_PRESETS)
preset = controls[0].selectbox(
    "Period", presets, index=presets.index(linked.preset), format_func=PERIOD_PRESETS.get, key="sb_period"
)
custom = None
if preset == "custom":
    picked = controls[1].date_input("From – to", linked.custom or period_range("last_month", anchor), key="sb_range")
    if isinstance(picked, tuple) and len(picked) == 2:
        # A link may carry any dates (0001-01-01 to 9999-12-31): the work is kept to the data's years.
        custom = clamp_range(picked[0], picked[1], span, today)
    else:
        st.info("Pick the last day of the range too.")
        st.stop()
grain = controls[2].selectbox("Trend by", GRAINS, index=GRAINS.index(linked.grain), key="sb_grain")
chosen: dict[str, tuple[str, ...]] = {}
for column, (name, label) in zip(st.columns(4), FILTER_LABELS.items(), strict=True):
    offered = options.get(OPTION_KEYS[name], [])
    # A linked value the data no longer has is dropped rather than failing the widget.
    default = [value for value in getattr(linked.filters, name) if value in offered]
    chosen[name] = tuple(column.multiselect(label, offered, default=default, key=f"sb_{name}", placeholder="all"))
filters = Filters(**chosen)
# The "last …" presets open on the latest complete period with MQLs, whatever was imported today.
unit = completed_unit(preset)
first_day, last_day = period_range(preset, cache.default_anchor(today, unit) if unit else anchor, custom)
previous_first, previous_last = previous_range(preset, first_day, last_day)
model = st.session_state.get("sb_model", linked.model)
current_view = View(preset=preset, custom=custom, grain=grain, filters=filters, model=model)
st.query_params.from_dict(view_to_params(current_view))
# Streamlit forgets a page's widgets when another page is opened; this brings the view back on return.
st.session_state["sb_linked"] = current_view

fresh = cache.data_freshness()
if fresh.stale():
    st.warning(
        f"The data may be out of date: {fresh.describe()}, more than a week ago. Ops import the latest CRM "
        "export on the Data page.",
        icon=":material/schedule:",
    )

now = cache.kpis(first_day, last_day, "range", None, filters).iloc[0]
before = cache.kpis(previous_first, previous_last, "range", None, filters).iloc[0]
by_source = cache.kpis(first_day, last_day, "range", "source", filters)


def span_text(first: dt.date, last: dt.date) -> str:
    if first.day == 1 and next_bucket_start(first, "month") - dt.timedelta(days=1) == last:
        return f"{first:%B %Y}"
    return f"{first:%d %b %Y} – {last:%d %b %Y}"


title, compared_with = span_text(first_day, last_day), span_text(previous_first, previous_last)
st.caption(
    f"**{shown_period_reason(preset, first_day, last_day, today, span[1])}.** Compared with {compared_with}. "
    f"Rates follow the period's MQLs wherever they went later. Data: {fresh.describe()}."
)

# --- At a glance ---------------------------------------------------------------------------------------
shown = headlines(now, before)
for column, headline in zip(st.columns(len(shown)), shown, strict=True):
    # "not available" does not fit a metric's width; the dash is explained right under it.
    value = headline.value if headline.available else "—"
    column.metric(headline.label, value, headline.delta, delta_color=headline.delta_color)
    note = headline.note if headline.available else f"Not available: {headline.note[0].lower()}{headline.note[1:]}"
    column.caption(note + (f" {headline.basis}." if headline.basis else ""))
    with column.popover("How counted", icon=":material/info:"):
        st.markdown(headline.formula)
        st.caption(f"Data: {fresh.describe()}. Definitions: the organisation's settings.")

lines = flags(now, by_source)
for line in lines:
    st.error(inert(line), icon=":material/flag:")
if not lines and known(now["mqls"]) and now["mqls"] > 0:
    st.success("No gate crossed in this period.", icon=":material/check_circle:")
if now["mqls"] == 0 and now["opportunities_created"] == 0 and now["closed"] == 0:
    st.info("No data for this period and these filters.", icon=":material/search_off:")
    st.stop()

# --- Charts --------------------------------------------------------------------------------------------
# Building a chart (Altair objects, their schema-validated Vega-Lite spec, the data as Arrow) costs more CPU
# than everything else on a cached run of this page, and a Streamlit process runs one script's Python at a
# time. Each chart is therefore drawn by a cached function keyed by the view's explicit values (days, grain,
# filters, model, gate: never a DataFrame); on a hit Streamlit replays the finished element without running
# the function. Cleared with the numbers after a write here; a minute's life, so that after a write elsewhere
# (another replica, the CLI) a chart lags the numbers it is drawn from (five minutes) by at most a minute.


def trend_frame(last: dt.date, trend_grain: Grain, view_filters: Filters) -> pd.DataFrame:
    trend = cache.kpis(*trend_range(last, trend_grain, TREND_PERIODS[trend_grain]), trend_grain, None, view_filters)
    trend = trend.assign(
        period=[
            period_label(start, trend_grain) + (" *" if is_partial(start, end, trend_grain) else "")
            for start, end in zip(trend["period_start"], trend["period_end"], strict=True)
        ]
    )
    # A cohort too young to have converted is drawn grey, not red: its rate is not a result yet.
    trend["under_gate"] = [
        MATURING if "mql_to_sql" in young else ("under the gate" if rate < gate else "meets")
        for rate, gate, young in zip(trend["mql_to_sql"], trend["conversion_gate"], trend["maturing"], strict=True)
    ]
    return trend


def period_axis(trend: pd.DataFrame) -> alt.X:
    return alt.X("period:O", title=None, sort=list(trend["period"]), axis=alt.Axis(labelAngle=0))


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_funnel(first: dt.date, last: dt.date, view_filters: Filters) -> None:
    stages = funnel(cache.kpis(first, last, "range", None, view_filters).iloc[0])
    stages["label"] = [
        "not in the imported data"
        if isinstance(row.not_in_data, str)
        else f"{row.count:,}"
        + (f"  ({row.from_previous:.0%} of the stage before)" if known(row.from_previous) else "")
        + (f"  {MATURING}" if row.maturing else "")
        for row in stages.itertuples()
    ]
    funnel_bars = (
        alt.Chart(stages)
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", sort=alt.SortField("order"), title=None),
            # A stage still maturing is grey: its count will grow as the cohort converts.
            color=alt.condition("datum.maturing", alt.value(MUTED), alt.value(NEUTRAL)),
            x=alt.X(
                "count:Q",
                title="Leads",
                axis=alt.Axis(format=",.0f"),
                scale=alt.Scale(domainMax=stages["count"].max() * 1.35),
            ),
            tooltip=[
                alt.Tooltip("stage:N", title="Stage"),
                alt.Tooltip("count:Q", title="Count", format=","),
                alt.Tooltip("from_previous:Q", title="Of the stage before", format=".1%"),
            ],
        )
    )
    funnel_text = funnel_bars.mark_text(align="left", dx=4).encode(text="label:N", color=alt.value(INK))
    st.altair_chart((funnel_bars + funnel_text).properties(height=230), width="stretch")


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_mqls_by_period(last: dt.date, trend_grain: Grain, view_filters: Filters) -> None:
    trend = trend_frame(last, trend_grain, view_filters)
    mql_bars = (
        alt.Chart(trend)
        .mark_bar(color=NEUTRAL, opacity=0.85)
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
    target_ticks = alt.Chart(trend).mark_tick(color=INK, thickness=3).encode(x=period_axis(trend), y="mql_target:Q")
    st.altair_chart((mql_bars + target_ticks).properties(height=230), width="stretch")


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_conversion_by_period(last: dt.date, trend_grain: Grain, view_filters: Filters, gate: float) -> None:
    trend = trend_frame(last, trend_grain, view_filters)
    conversion_line = (
        alt.Chart(trend)
        .mark_line(color=INK, point=False)
        .encode(x=period_axis(trend), y=alt.Y("mql_to_sql:Q", title="MQL → SQL", axis=alt.Axis(format="%")))
    )
    conversion_points = (
        alt.Chart(trend)
        .mark_circle()
        .encode(
            x=period_axis(trend),
            y="mql_to_sql:Q",
            size=alt.Size("mqls:Q", title="MQLs behind the rate", scale=alt.Scale(range=[20, 300])),
            color=alt.Color(
                "under_gate:N",
                title=None,
                scale=alt.Scale(domain=["meets", "under the gate", MATURING], range=[GOOD, BAD, MUTED]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("period:N", title="Period"),
                alt.Tooltip("mql_to_sql:Q", title="MQL → SQL", format=".1%"),
                alt.Tooltip("sqls:Q", title="SQLs", format=","),
                alt.Tooltip("mqls:Q", title="of MQLs", format=","),
            ],
        )
    )
    gate_line = alt.Chart(pd.DataFrame({"gate": [gate]})).mark_rule(color=BAD, strokeDash=[6, 3]).encode(y="gate:Q")
    st.altair_chart((gate_line + conversion_line + conversion_points).properties(height=220), width="stretch")


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_by_source(first: dt.date, last: dt.date, view_filters: Filters, gate: float) -> None:
    by_source = cache.kpis(first, last, "range", "source", view_filters)
    sources = by_source[(by_source["mqls"] > 0) & (by_source["group"] != "(no lead)")].copy()
    sources["weight"] = (sources["mqls"] >= MIN_MQLS_FOR_A_FLAG).map({True: "20 MQLs or more", False: "under 20 MQLs"})
    sources["verdict"] = (sources["mql_to_sql"] < sources["conversion_gate"]).map(
        {True: "under the gate", False: "meets the gate"}
    )
    source_axis = alt.Y("group:N", title=None, sort=alt.EncodingSortField("mqls", order="descending"))
    opacity = alt.Opacity(
        "weight:N", scale=alt.Scale(domain=["20 MQLs or more", "under 20 MQLs"], range=[1.0, 0.35]), legend=None
    )
    count_tooltip = [alt.Tooltip("group:N", title="Source"), alt.Tooltip("mqls:Q", title="MQLs", format=",")]
    marketing_view = (
        alt.Chart(sources)
        .mark_bar(color=NEUTRAL)
        .encode(y=source_axis, x=alt.X("mqls:Q", title="MQLs delivered"), tooltip=count_tooltip)
        .properties(title="Marketing's view: MQLs delivered")
    )
    sales_view = (
        alt.Chart(sources)
        .mark_bar()
        .encode(
            y=alt.Y("group:N", title=None, sort=alt.EncodingSortField("mqls", order="descending"), axis=None),
            x=alt.X("mql_to_sql:Q", title="MQL → SQL", axis=alt.Axis(format="%")),
            color=alt.Color(
                "verdict:N",
                scale=alt.Scale(domain=["meets the gate", "under the gate"], range=[GOOD, BAD]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            opacity=opacity,
            tooltip=[
                *count_tooltip,
                alt.Tooltip("sqls:Q", title="SQLs", format=","),
                alt.Tooltip("mql_to_sql:Q", title="MQL → SQL", format=".1%"),
            ],
        )
        .properties(title="Sales's view: turned into SQLs")
    )
    sales_gate = alt.Chart(pd.DataFrame({"gate": [gate]})).mark_rule(color=INK, strokeDash=[6, 3]).encode(x="gate:Q")
    sla_view = (
        alt.Chart(sources)
        .mark_bar(color="#7c3aed")
        .encode(
            y=alt.Y("group:N", title=None, sort=alt.EncodingSortField("mqls", order="descending"), axis=None),
            x=alt.X(
                "sla_compliance:Q",
                title="Answered within the SLA",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            opacity=opacity,
            tooltip=[
                *count_tooltip,
                alt.Tooltip("sla_met:Q", title="Within SLA", format=","),
                alt.Tooltip("sla_breached:Q", title="Late or unanswered", format=","),
                alt.Tooltip("sla_compliance:Q", title="SLA met", format=".1%"),
            ],
        )
        .properties(title="Follow-up: response SLA met")
    )
    views = st.columns(3)
    source_height = 90 + 30 * len(sources)  # one readable bar per source, whatever the width
    views[0].altair_chart(marketing_view, width="stretch", height=source_height)
    views[1].altair_chart(sales_gate + sales_view, width="stretch", height=source_height)
    views[2].altair_chart(sla_view, width="stretch", height=source_height)


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_revenue(first: dt.date, last: dt.date, view_filters: Filters, chosen: Model) -> None:
    by_model = cache.revenue_models(first, last, view_filters)
    st.altair_chart(
        alt.Chart(by_model[by_model["model"] == chosen])
        .mark_bar(color=GOOD)
        .encode(
            y=alt.Y("channel:N", title=None, sort="-x"),
            x=alt.X("revenue:Q", title=f"Won revenue, {MODEL_NAMES[chosen]}", axis=alt.Axis(format="$,.0f")),
            tooltip=[
                alt.Tooltip("channel:N", title="Channel"),
                alt.Tooltip("revenue:Q", title="Revenue", format="$,.0f"),
                alt.Tooltip("won_credit:Q", title="Won deals credited", format=",.2f"),
                alt.Tooltip("rank:Q", title="Rank"),
            ],
        ),
        width="stretch",
    )


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_cac(first: dt.date, last: dt.date, chosen: Model, view_filters: Filters) -> None:
    cac = cache.cac(first, last, chosen, view_filters)
    st.altair_chart(
        alt.Chart(cac[cac["spend"] > 0])
        .mark_bar(color="#ea580c")
        .encode(
            y=alt.Y("channel:N", title=None, sort="x"),
            x=alt.X("cac:Q", title=f"CAC per won deal, {MODEL_NAMES[chosen]}", axis=alt.Axis(format="$,.0f")),
            tooltip=[
                alt.Tooltip("channel:N", title="Channel"),
                alt.Tooltip("spend:Q", title="Spend", format="$,.0f"),
                alt.Tooltip("won_credit:Q", title="Won deals credited", format=",.2f"),
                alt.Tooltip("cac:Q", title="CAC", format="$,.0f"),
            ],
        ),
        width="stretch",
    )


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_cycle(first: dt.date, last: dt.date, view_filters: Filters) -> None:
    by_source = cache.kpis(first, last, "range", "source", view_filters)
    st.altair_chart(
        alt.Chart(by_source[by_source["median_cycle_days"].notna()])
        .mark_bar(color=NEUTRAL)
        .encode(
            y=alt.Y("group:N", title=None, sort="x"),
            x=alt.X("median_cycle_days:Q", title="Median days"),
            tooltip=[
                alt.Tooltip("group:N", title="Source"),
                alt.Tooltip("median_cycle_days:Q", title="Median days", format=".0f"),
                alt.Tooltip("won:Q", title="Won deals", format=","),
            ],
        ),
        width="stretch",
    )


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_velocity(last: dt.date, trend_grain: Grain, view_filters: Filters) -> None:
    trend = trend_frame(last, trend_grain, view_filters)
    st.altair_chart(
        alt.Chart(trend)
        .mark_line(point=True, color=GOOD)
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
        ),
        width="stretch",
    )


# --- Funnel and trend ----------------------------------------------------------------------------------
gate = float(now["conversion_gate"])
left, right = st.columns(2)
left.subheader("Funnel: leads created, then this period's MQLs")
with left:
    draw_funnel(first_day, last_day, filters)
left.caption("SQLs, opportunities and won count the period's MQLs that got there, whenever they did.")
right.subheader(f"MQLs by {grain} (bars) against target (black ticks)")
with right:
    draw_mqls_by_period(last_day, grain, filters)
st.subheader(f"MQL → SQL by {grain} against the {gate:.0%} gate (red dashes); bigger dots rest on more MQLs")
conversion_gone = unavailable(now).get("mql_to_sql")
if conversion_gone:
    st.info(f"MQL → SQL is not available: {conversion_gone}.", icon=":material/block:")
else:
    draw_conversion_by_period(last_day, grain, filters, gate)
st.caption(
    "* A partial period: only the days inside the chosen range. The latest MQLs have had less time to "
    "become SQLs, so their conversion is still rising."
)

# --- By source: marketing's view and sales's view of the same leads --------------------------------------
st.subheader("By source: the same MQLs, seen by each team")
draw_by_source(first_day, last_day, filters, gate)
for kpi, title in (("mql_to_sql", "Sales's view"), ("sla_compliance", "Follow-up")):
    if kpi in unavailable(now):
        st.caption(f"{title}: not available — {unavailable(now)[kpi]}.")
st.caption(f"Faded bars rest on fewer than {MIN_MQLS_FOR_A_FLAG} MQLs; the dashed line is the conversion gate.")

# --- Revenue: attribution, CAC, cycle and velocity -----------------------------------------------------
st.subheader("Won revenue by source")
model = st.radio(
    "Attribution model",
    MODELS,
    index=MODELS.index(linked.model),
    format_func=MODEL_NAMES.get,
    horizontal=True,
    key="sb_model",
    label_visibility="collapsed",
)
by_model = cache.revenue_models(first_day, last_day, filters)
chosen_model = by_model[by_model["model"] == model]
revenue_left, revenue_right = st.columns(2)
if chosen_model.empty:
    revenue_left.info("Nothing was won in this period.")
else:
    with revenue_left:
        draw_revenue(first_day, last_day, filters, model)
revenue_left.caption(ranking_note(by_model, model))
cac = cache.cac(first_day, last_day, model, filters)
cac = cac[cac["spend"] > 0]
if filters.segments or filters.owners or filters.campaigns:
    # Spend is recorded per channel only: a segment's or owner's CAC would divide all spend by part of the wins.
    revenue_right.info("CAC is shown for the whole company or a source filter: spend is recorded per channel only.")
elif cac.empty:
    revenue_right.info("No spend recorded for this period: CAC needs the spend table (Targets & spend page).")
else:
    with revenue_right:
        draw_cac(first_day, last_day, model, filters)
    revenue_right.caption("CAC: the channel's spend ÷ the won deals credited to it (fractional under multi-touch).")
    unwon = cac[cac["cac"].isna()]
    if not unwon.empty:
        revenue_right.caption(
            "Spent with no won deal credited: "
            + ", ".join(f"{row.channel} ({money(row.spend)})" for row in unwon.itertuples())
            + "."
        )

cycle_left, velocity_right = st.columns(2)
cycle_left.markdown("**Sales cycle by source** (median days, created to won)")
if not by_source["median_cycle_days"].notna().any():
    cycle_left.info("No deals won in this period.")
else:
    with cycle_left:
        draw_cycle(first_day, last_day, filters)
velocity_right.markdown(f"**Pipeline velocity by {grain}** (opportunities × average won deal × win rate ÷ cycle days)")
with velocity_right:
    draw_velocity(last_day, grain, filters)

# --- Table and exports ---------------------------------------------------------------------------------
st.subheader("The numbers behind the page")
group_by = st.selectbox(
    "One row per",
    ["period", "source", "segment", "owner", "campaign"],
    key="sb_table_by",
    help="Periods: the trend's; groups: the chosen period.",
)
table = (
    cache.kpis(*trend_range(last_day, grain, TREND_PERIODS[grain]), grain, None, filters)
    if group_by == "period"
    else cache.kpis(first_day, last_day, "range", group_by, filters)  # type: ignore[arg-type]
)
table = with_notes_as_text(table)
st.dataframe(table, hide_index=True, width="stretch", key="sb_table")
downloads = st.columns(2)
downloads[0].download_button(
    "KPI table (CSV)",
    to_safe_csv(table),
    file_name=f"onefunnel-kpis-{first_day}-{last_day}.csv",
    mime="text/csv",
    key="sb_csv",
    icon=":material/download:",
)
downloads[1].download_button(
    "One-page summary (Markdown)",
    summary_markdown(title, compared_with, shown, lines, funnel(now), fresh, filters),
    file_name=f"onefunnel-summary-{first_day}-{last_day}.md",
    mime="text/markdown",
    key="sb_markdown",
    icon=":material/summarize:",
)
