"""Scoreboard (first cut): the six shared numbers for a period and the MQL trend against target."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from core.periods import last_complete_month, previous_range
from ui import data

st.title("Scoreboard")

span = data.date_span()
if span is None:
    st.info("No data yet. Load the sample company with `python -m core seed`, or import your CRM export.")
    st.stop()

default_first, default_last = last_complete_month(dt.date.today())
if default_last < span[0] or default_first > span[1]:
    default_first, default_last = last_complete_month(span[1] + dt.timedelta(days=1))
first_day, last_day = (
    st.date_input(
        "Period", value=(default_first, default_last), min_value=span[0], key="scoreboard_period", format="YYYY-MM-DD"
    )
    if True
    else (default_first, default_last)
)

if not isinstance(first_day, dt.date) or not isinstance(last_day, dt.date):
    st.stop()
previous_first, previous_last = previous_range(first_day, last_day)
current = data.kpis(first_day, last_day, "quarter").sum(numeric_only=True)
now = data.kpis(first_day, last_day, "quarter")
before = data.kpis(previous_first, previous_last, "quarter")
settings = data.settings()


def total(frame: pd.DataFrame, numerator: str, denominator: str | None = None) -> float | None:
    top = float(frame[numerator].sum())
    if denominator is None:
        return top
    bottom = float(frame[denominator].sum())
    return top / bottom if bottom else None


def pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.0%}"


def delta_pct(value: float | None, previous: float | None) -> str | None:
    if value is None or previous is None:
        return None
    return f"{(value - previous) * 100:+.1f} pts"


mqls, mqls_before = total(now, "mqls"), total(before, "mqls")
target = float(now["mql_target"].sum()) if now["mql_target"].notna().any() else None
conversion, conversion_before = total(now, "sqls", "mqls"), total(before, "sqls", "mqls")
met = float(now["sla_met"].sum())
sla = total(now, "sla_met", None)
sla = met / (met + float(now["sla_breached"].sum())) if met + float(now["sla_breached"].sum()) else None
sla_prev_den = float(before["sla_met"].sum() + before["sla_breached"].sum())
sla_before = float(before["sla_met"].sum()) / sla_prev_den if sla_prev_den else None
pipeline, pipeline_before = total(now, "pipeline_created"), total(before, "pipeline_created")
win, win_before = total(now, "won", "closed"), total(before, "won", "closed")

columns = st.columns(5)
columns[0].metric(
    "MQLs",
    f"{mqls:,.0f}",
    f"{mqls - mqls_before:+,.0f} vs previous",
    help=None if target is None else f"Target {target:,.0f}",
)
columns[1].metric(
    "MQL → SQL", pct(conversion), delta_pct(conversion, conversion_before), help=f"Gate {settings.conversion_gate:.0%}"
)
columns[2].metric(
    "Response SLA met", pct(sla), delta_pct(sla, sla_before), help=f"Within {settings.sla_hours:g} business hours"
)
columns[3].metric("Pipeline created", f"{pipeline:,.0f}", f"{pipeline - pipeline_before:+,.0f}")
columns[4].metric("Win rate", pct(win), delta_pct(win, win_before))

if conversion is not None and conversion < settings.conversion_gate:
    st.error(f"MQL → SQL conversion is {conversion:.0%}, under the {settings.conversion_gate:.0%} gate.")

year_first = (last_day.replace(day=1) - dt.timedelta(days=335)).replace(day=1)
trend = data.kpis(year_first, last_day, "month")
trend = trend.assign(month=pd.to_datetime(trend["period_start"]))
bars = (
    alt.Chart(trend)
    .mark_bar(color="#2563eb")
    .encode(
        x=alt.X("month:T", title=None, timeUnit="yearmonth"),
        y=alt.Y("mqls:Q", title="MQLs"),
        tooltip=[
            alt.Tooltip("month:T", timeUnit="yearmonth", title="Month"),
            alt.Tooltip("mqls:Q", title="MQLs"),
            alt.Tooltip("mql_target:Q", title="Target", format=",.0f"),
        ],
    )
)
line = (
    alt.Chart(trend)
    .mark_line(color="#dc2626", strokeDash=[4, 3], point=True)
    .encode(x=alt.X("month:T", timeUnit="yearmonth"), y="mql_target:Q")
)
st.subheader("MQLs per month against target (red)")
st.altair_chart(bars + line, width="stretch")
