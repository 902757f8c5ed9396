"""Scoreboard (minimal, until the scoreboard issue): one month's shared numbers, the gates, the trend."""

from __future__ import annotations

import datetime as dt
import math

import altair as alt
import pandas as pd
import streamlit as st

from core.periods import last_complete_month, month_start
from ui import auth, data

auth.guard("read")
st.title("Scoreboard")

span = data.date_span()
if span is None:
    st.info("No data yet. Load the sample company with `python -m core seed`, or import a CRM export.")
    st.stop()

# The default is the last complete month of the data, so a demo database far in the past still opens on numbers.
latest_first, _ = last_complete_month(min(dt.date.today(), span[1] + dt.timedelta(days=1)))
months = list(pd.date_range(month_start(span[0]), latest_first, freq="MS").date)[::-1] or [month_start(span[1])]
picker, _ = st.columns([1, 3])
first_day = picker.selectbox("Month", months, format_func=lambda day: day.strftime("%B %Y"), key="scoreboard_month")
last_day = (pd.Timestamp(first_day) + pd.offsets.MonthEnd(0)).date()
previous_last = first_day - dt.timedelta(days=1)
previous_first = month_start(previous_last)

now = data.kpis(first_day, last_day, "range").iloc[0]
before = data.kpis(previous_first, previous_last, "range").iloc[0]


def known(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def percent(value: object) -> str:
    return f"{value:.0%}" if known(value) else "no data"


def point_change(key: str) -> str | None:
    if not (known(now[key]) and known(before[key])):
        return None
    return f"{(now[key] - before[key]) * 100:+.1f} pts"


def money(value: float) -> str:
    """Compact enough for six metrics in a row: $4.57M, $35k, $900."""
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.2f}M"
    if abs(value) >= 10_000:
        return f"${value / 1_000:,.0f}k"
    return f"${value:,.0f}"


def count_change(key: str, in_money: bool = False) -> str | None:
    if not (known(now[key]) and known(before[key])):
        return None
    change = now[key] - before[key]
    return ("+" if change >= 0 else "−") + (money(abs(change)) if in_money else f"{abs(change):,.0f}")


target_note = f" of {now['mql_target']:,.0f} target" if known(now["mql_target"]) else ""
cycle = f"{now['median_cycle_days']:.0f} days" if known(now["median_cycle_days"]) else "no data"
cycle_change = (
    f"{now['median_cycle_days'] - before['median_cycle_days']:+.0f} days"
    if known(now["median_cycle_days"]) and known(before["median_cycle_days"])
    else None
)

st.caption(f"{first_day:%B %Y} compared with {previous_first:%B %Y}. Rates follow the month's MQL cohort.")
row = st.columns(6)
row[0].metric("MQLs", f"{now['mqls']:,.0f}", count_change("mqls"), help=f"MQLs created this month{target_note}.")
row[1].metric(
    "MQL → SQL",
    percent(now["mql_to_sql"]),
    point_change("mql_to_sql"),
    help=f"MQLs of the month with an SQL date ÷ MQLs of the month. Gate {now['conversion_gate']:.0%}.",
)
row[2].metric(
    "Response SLA met",
    percent(now["sla_compliance"]),
    point_change("sla_compliance"),
    help=f"First response within {now['sla_hours']:g} business hours of becoming an MQL; pending ones left out.",
)
row[3].metric(
    "Pipeline created",
    money(now["pipeline_created"]),
    count_change("pipeline_created", in_money=True),
    help=f"Amount of opportunities created this month: ${now['pipeline_created']:,.0f}.",
)
row[4].metric("Win rate", percent(now["win_rate"]), point_change("win_rate"), help="Won ÷ closed this month.")
row[5].metric("Sales cycle", cycle, cycle_change, delta_color="inverse", help="Median days, created to won.")

by_source = data.kpis(first_day, last_day, "range", "source")
flags = []
if known(now["mql_attainment"]) and now["mql_attainment"] < 1:
    flags.append(f"MQLs are at {now['mql_attainment']:.0%} of target.")
for source in by_source.itertuples():
    if known(source.mql_to_sql) and source.mql_to_sql < source.conversion_gate and source.mqls >= 20:
        flags.append(
            f"{source.group} converts {source.mql_to_sql:.0%} of {source.mqls:,} MQLs to SQL — "
            f"gate is {source.conversion_gate:.0%}."
        )
if known(now["sla_compliance"]) and now["sla_compliance"] < 0.9:
    flags.append(f"Only {now['sla_compliance']:.0%} of MQLs got a response within {now['sla_hours']:g} business hours.")
for flag in flags:
    st.error(flag, icon=":material/flag:")

left, right = st.columns(2)
year_first = month_start(first_day - dt.timedelta(days=334))
trend = data.kpis(year_first, last_day, "month")
trend = trend.assign(month=pd.to_datetime(trend["period_start"]))
mql_bars = (
    alt.Chart(trend)
    .mark_bar(color="#2563eb")
    .encode(
        x=alt.X("yearmonth(month):O", title=None, axis=alt.Axis(format="%b %Y", labelAngle=0)),
        y=alt.Y("mqls:Q", title="MQLs"),
        tooltip=[
            alt.Tooltip("yearmonth(month):O", title="Month", format="%B %Y"),
            alt.Tooltip("mqls:Q", title="MQLs", format=","),
            alt.Tooltip("mql_target:Q", title="Target", format=",.0f"),
            alt.Tooltip("mql_attainment:Q", title="Attainment", format=".0%"),
        ],
    )
)
target_ticks = (
    alt.Chart(trend)
    .mark_tick(color="#111827", thickness=3, size=28)
    .encode(
        x="yearmonth(month):O", y="mql_target:Q", tooltip=[alt.Tooltip("mql_target:Q", title="Target", format=",.0f")]
    )
)
left.subheader("MQLs per month (bars) against target (black ticks)")
left.altair_chart(mql_bars + target_ticks, width="stretch")

by_source = by_source[by_source["mqls"] > 0].assign(
    against_gate=lambda frame: (frame["mql_to_sql"] < frame["conversion_gate"]).map(
        {True: "under the gate", False: "meets the gate"}
    )
)
conversion_bars = (
    alt.Chart(by_source)
    .mark_bar()
    .encode(
        y=alt.Y("group:N", title=None, sort="-x"),
        x=alt.X("mql_to_sql:Q", title="MQL → SQL conversion", axis=alt.Axis(format="%")),
        color=alt.Color(
            "against_gate:N",
            scale=alt.Scale(domain=["meets the gate", "under the gate"], range=["#16a34a", "#dc2626"]),
            legend=alt.Legend(title=None, orient="bottom"),
        ),
        opacity=alt.condition(alt.datum.mqls >= 20, alt.value(1.0), alt.value(0.35)),
        tooltip=[
            alt.Tooltip("group:N", title="Source"),
            alt.Tooltip("mql_to_sql:Q", title="Conversion", format=".1%"),
            alt.Tooltip("sqls:Q", title="SQLs", format=","),
            alt.Tooltip("mqls:Q", title="MQLs", format=","),
        ],
    )
)
gate_rule = (
    alt.Chart(pd.DataFrame({"gate": [float(now["conversion_gate"])]}))
    .mark_rule(color="#111827", strokeDash=[6, 3])
    .encode(x="gate:Q")
)
right.subheader(f"MQL → SQL by source, {first_day:%B} (dashed line: {now['conversion_gate']:.0%} gate)")
right.altair_chart(conversion_bars + gate_rule, width="stretch")
right.caption("Faded bars rest on fewer than 20 MQLs.")
