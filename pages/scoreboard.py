"""Scoreboard (everyone): the shared KPIs of a period against targets and gates, the funnel, the trend, the
split by source, attribution, CAC and velocity. Numbers come from core; charts from ui.charts.funnel.

The view (period, grain, filters, attribution model) lives in the URL's query string, so a link opens the
same view for whoever it is sent to.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core.exports import inert, to_safe_csv
from core.formatting import known, percent
from core.funnel import frames
from core.funnel.attribution import MODELS, Model
from core.funnel.caveats import with_notes_as_text
from core.funnel.scoreboard import (
    FILTERS,
    LINK,
    MIN_MQLS_FOR_A_FLAG,
    View,
    flags,
    funnel,
    headlines,
    summary_markdown,
    unavailable,
)
from core.periods import (
    GRAINS,
    PERIOD_PRESETS,
    Grain,
    anchor_day,
    completed_unit,
    period_range,
    previous_range,
    shown_period_reason,
    span_label,
    trend_range,
)
from core.vocabulary import model_name
from ui import auth, cache, controls
from ui.charts import funnel as charts
from ui.panels import funnel as panels
from ui.tables import show_table

GROUPINGS = {"period": "Period", "source": "Source", "segment": "Segment", "owner": "Owner", "campaign": "Campaign"}

auth.guard("read")
st.title("Scoreboard")

span = controls.data_span()
today = cache.org_settings().today()
anchor = anchor_day(today, span[1])
names = cache.display_names()


def days(preset: str, custom: tuple[dt.date, dt.date] | None) -> tuple[dt.date, dt.date]:
    # The "last …" presets open on the latest complete period with MQLs, whatever was imported today.
    unit = completed_unit(preset)
    return period_range(preset, cache.default_anchor(today, unit) if unit else anchor, custom)  # type: ignore[arg-type]


linked: View = controls.linked("sb", LINK)
chosen = controls.view_controls("sb", linked, PERIOD_PRESETS, FILTERS, days, span, today)
grain: Grain = st.session_state.get("sb_grain", linked.grain)
preset, filters, first_day, last_day = chosen.preset, chosen.filters, chosen.first_day, chosen.last_day
previous_first, previous_last = previous_range(preset, first_day, last_day)  # type: ignore[arg-type]
model: Model = st.session_state.get("sb_model", linked.model)
controls.keep("sb", LINK, View(preset, chosen.custom, grain, filters, model))  # type: ignore[arg-type]

fresh = cache.data_freshness()
now = cache.kpis(first_day, last_day, "range", None, filters).iloc[0]
before = cache.kpis(previous_first, previous_last, "range", None, filters).iloc[0]
by_source = cache.kpis(first_day, last_day, "range", "source", filters)
title, compared_with = span_label(first_day, last_day), span_label(previous_first, previous_last)

# --- At a glance ---------------------------------------------------------------------------------------
filtered = f" Filtered to {chosen.summary}." if chosen.summary else ""
reason = shown_period_reason(preset, first_day, last_day, today, span[1])  # type: ignore[arg-type]
st.caption(
    f"**{reason}.** Compared with {compared_with}.{filtered} Rates follow the period's MQLs wherever they went "
    f"later. Data: {fresh.describe()}."
)
shown = headlines(now, before)
for column, headline in zip(st.columns(len(shown)), shown, strict=True):
    # "not available" does not fit a metric's width; the dash is explained right under it.
    value = headline.value if headline.available else "—"
    column.metric(headline.label, value, headline.delta, delta_color=headline.delta_color)
    note = headline.note if headline.available else f"Not available: {headline.note[0].lower()}{headline.note[1:]}"
    column.caption(note + (f" {headline.basis}." if headline.basis else ""))
    with column.popover("How counted", icon=":material/info:"):
        st.markdown(headline.formula)
        st.caption(f"Data: {fresh.describe()}. Definitions in force: the gates, SLA and targets in Settings.")
if fresh.stale():
    st.warning(
        f"The data may be out of date: {fresh.describe()}, more than a week ago. Ops import the latest CRM "
        "export on the Data page.",
        icon=":material/schedule:",
    )
lines = flags(now, by_source, names)
for line in lines:
    st.error(inert(line), icon=":material/flag:")
if not lines and known(now["mqls"]) and now["mqls"] > 0:
    st.success("No gate crossed in this period.", icon=":material/check_circle:")
if now["mqls"] == 0 and now["opportunities_created"] == 0 and now["closed"] == 0:
    st.info("Nothing happened in this period with these filters: no MQLs, deals created or closed.")
    st.stop()

# --- Charts --------------------------------------------------------------------------------------------
gate = float(now["conversion_gate"])
grain = st.columns(4)[0].selectbox(
    "Trend by", GRAINS, index=GRAINS.index(grain), format_func=str.capitalize, key="sb_grain"
)
left, right = st.columns(2)
left.subheader("Funnel: leads created, then this period's MQLs")
with left:
    panels.draw("funnel", first_day, last_day, filters)
left.caption("SQLs, opportunities and won count the period's MQLs that got there, whenever they did.")
right.subheader(f"MQLs by {grain} (bars) against target (black ticks)")
with right:
    panels.draw("mqls", last_day, grain, filters)
conversion_gone = unavailable(now).get("mql_to_sql")
st.subheader(f"MQL → SQL by {grain} against the {percent(gate)} gate (dashed); bigger dots rest on more MQLs")
if conversion_gone:
    st.info(f"MQL → SQL is not available: {conversion_gone}.", icon=":material/block:")
else:
    panels.draw("conversion", last_day, grain, filters, gate)
st.caption("\\* A partial period. The latest MQLs have had less time to become SQLs: their conversion still rises.")

st.subheader("By source: the same MQLs, seen by each team")
panels.draw_by_source(first_day, last_day, filters, gate)
for kpi, what in (("mql_to_sql", "Sales's view"), ("sla_compliance", "Follow-up")):
    if kpi in unavailable(now):
        st.caption(f"{what}: not available — {unavailable(now)[kpi]}.")
st.caption(f"Faded bars rest on fewer than {MIN_MQLS_FOR_A_FLAG} MQLs; the dashed line is the conversion gate.")

st.subheader("Won revenue by source")
model = st.radio(
    "Attribution model", MODELS, index=MODELS.index(linked.model), format_func=model_name, horizontal=True,
    key="sb_model", label_visibility="collapsed",
)  # fmt: skip
panels.revenue_and_cac(first_day, last_day, filters, model, names)

cycle_left, velocity_right = st.columns(2)
cycle_left.markdown("**Sales cycle by source** (median days, created to won)")
cycles = by_source[by_source["median_cycle_days"].notna()]
if cycles.empty:
    cycle_left.info("No deals won in this period.")
else:
    cycle_left.altair_chart(charts.cycle_chart(frames.named(cycles, "group", names, "source")), width="stretch")
velocity_right.markdown(f"**Pipeline velocity by {grain}** (opportunities × average won deal × win rate ÷ cycle days)")
with velocity_right:
    panels.draw("velocity", last_day, grain, filters)

# --- Table and exports ---------------------------------------------------------------------------------
st.subheader("The numbers behind the page")
group_by = st.selectbox(
    "One row per", list(GROUPINGS), format_func=lambda key: GROUPINGS[key], key="sb_table_by",
    help="Periods: the trend's; groups: the chosen period.",
)  # fmt: skip
table = (
    cache.kpis(*trend_range(last_day, grain, panels.TREND_PERIODS[grain]), grain, None, filters)
    if group_by == "period"
    else cache.kpis(first_day, last_day, "range", group_by, filters)  # type: ignore[arg-type]
)
show_table(frames.kpi_grid(table, names), key="sb_table")
downloads = st.columns(2)
downloads[0].download_button(
    "KPI table (CSV)", to_safe_csv(with_notes_as_text(table)), key="sb_csv", icon=":material/download:",
    file_name=f"onefunnel-kpis-{first_day}-{last_day}.csv", mime="text/csv",
)  # fmt: skip
downloads[1].download_button(
    "One-page summary (Markdown)", summary_markdown(title, compared_with, shown, lines, funnel(now), fresh, filters),
    file_name=f"onefunnel-summary-{first_day}-{last_day}.md", mime="text/markdown", key="sb_markdown",
    icon=":material/summarize:",
)  # fmt: skip
