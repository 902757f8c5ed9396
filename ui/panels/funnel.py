"""The Scoreboard's larger panels and its cached chart drawers, kept out of the page so that the page reads as
the list of what is on the screen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

from core.formatting import money
from core.funnel import frames
from core.funnel.attribution import Model
from core.funnel.scoreboard import funnel, ranking_note
from core.funnel.segments import Filters
from core.periods import Grain, trend_range
from ui import cache
from ui.charts import funnel as charts

TREND_PERIODS = {"week": 12, "month": 12, "quarter": 8}

# Building a chart (Altair objects, their schema-validated spec, the data as Arrow) costs more CPU than
# everything else on a cached run, and a Streamlit process runs one script's Python at a time: each chart is
# drawn by a cached call keyed by the view's explicit values (never a DataFrame), so a hit replays the
# finished element. A minute's life: after a write elsewhere a chart lags its numbers by at most a minute.


def trend(last: dt.date, trend_grain: Grain, view_filters: Filters) -> pd.DataFrame:
    rows = cache.kpis(*trend_range(last, trend_grain, TREND_PERIODS[trend_grain]), trend_grain, None, view_filters)
    return frames.trend(rows, trend_grain)


def one_row(first: dt.date, last: dt.date, view_filters: Filters) -> pd.Series:
    return cache.kpis(first, last, "range", None, view_filters).iloc[0]


CHARTS: dict[str, Callable[..., alt.TopLevelMixin]] = {
    "funnel": lambda first, last, f: charts.funnel_chart(frames.funnel_labels(funnel(one_row(first, last, f)))),
    "mqls": lambda last, g, f: charts.mqls_chart(trend(last, g, f)),
    "conversion": lambda last, g, f, gate: charts.conversion_chart(trend(last, g, f), gate),
    "velocity": lambda last, g, f: charts.velocity_chart(trend(last, g, f)),
}


@st.cache_data(ttl=60, max_entries=256, show_spinner=False)
def draw(name: str, *key: object) -> None:
    st.altair_chart(CHARTS[name](*key), width="stretch")


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def draw_by_source(first: dt.date, last: dt.date, view_filters: Filters, gate: float) -> None:
    sources = frames.sources(cache.kpis(first, last, "range", "source", view_filters), cache.display_names())
    for column, chart in zip(st.columns(3), charts.source_charts(sources, gate), strict=True):
        column.altair_chart(chart, width="stretch")


def revenue_and_cac(
    first_day: dt.date, last_day: dt.date, filters: Filters, model: Model, names: dict[str, str]
) -> None:
    """Won revenue by channel under the chosen attribution model, beside each channel's CAC (spend per won deal)."""
    by_model = cache.revenue_models(first_day, last_day, filters)
    revenue = frames.named(by_model[by_model["model"] == model], "channel", names, "channel_name")
    revenue_left, revenue_right = st.columns(2)
    if revenue.empty:
        revenue_left.info("Nothing was won in this period.")
    else:
        revenue_left.altair_chart(charts.revenue_chart(revenue, model), width="stretch")
    revenue_left.caption(ranking_note(by_model, model, names))
    cac = frames.named(cache.cac(first_day, last_day, model, filters), "channel", names, "channel_name")
    cac = cac[cac["spend"] > 0]
    if filters.segments or filters.owners or filters.campaigns:
        # Spend is recorded per channel only: a segment's or owner's CAC would divide all spend by part of the wins.
        revenue_right.info("CAC is shown for the whole company or a source filter: spend is recorded per channel only.")
    elif cac.empty:
        revenue_right.info("No spend recorded for this period: CAC needs the spend table (Targets & spend page).")
    else:
        revenue_right.altair_chart(charts.cac_chart(cac, model), width="stretch")
        revenue_right.caption("CAC: the channel's spend ÷ the won deals credited to it (fractional under multi-touch).")
        if not (unwon := cac[cac["cac"].isna()]).empty:
            spent = ", ".join(f"{row.channel_name} ({money(row.spend)})" for row in unwon.itertuples())
            revenue_right.caption(f"Spent with no won deal credited: {spent}.")
