"""Cached reads through core. Pages call these; writes call `clear_after_write()`.

The engine is a cache_resource (one per process, never mutated); query results
are cache_data keyed by their arguments, bounded in size and age.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from core.attribution import Model, cac_by_channel, revenue_by_model
from core.db import open_database
from core.definitions import get
from core.kpis import Filters, GroupBy, KpiQuery, data_range, filter_options, kpi_table
from core.periods import Grain
from core.replay import Replay, replay
from core.scoreboard import Freshness, freshness
from core.settings import OrgSettings, current


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    return open_database()


@st.cache_data(ttl=300, max_entries=128, show_spinner=False)
def kpis(
    first_day: dt.date, last_day: dt.date, grain: Grain, by: GroupBy | None = None, filters: Filters | None = None
) -> pd.DataFrame:
    return kpi_table(engine(), KpiQuery(first_day, last_day, grain, by, filters or Filters()))


@st.cache_data(ttl=300, max_entries=4, show_spinner=False)
def date_span() -> tuple[dt.date, dt.date] | None:
    return data_range(engine())


@st.cache_data(ttl=300, max_entries=4, show_spinner=False)
def options() -> dict[str, list[str]]:
    return filter_options(engine())


@st.cache_data(ttl=300, max_entries=2, show_spinner=False)
def org_settings() -> OrgSettings:
    return current(engine())


@st.cache_data(ttl=60, max_entries=2, show_spinner=False)
def data_freshness() -> Freshness:
    return freshness(engine())


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def revenue_models(first_day: dt.date, last_day: dt.date, filters: Filters | None = None) -> pd.DataFrame:
    return revenue_by_model(engine(), KpiQuery(first_day, last_day, "range", None, filters or Filters()))


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def cac(first_day: dt.date, last_day: dt.date, model: Model, filters: Filters | None = None) -> pd.DataFrame:
    return cac_by_channel(engine(), KpiQuery(first_day, last_day, "range", None, filters or Filters()), model)


@st.cache_data(ttl=600, max_entries=64, show_spinner="Replaying the rule on the stored leads…")
def replayed(version_id: int, revision: int, first_day: dt.date, last_day: dt.date) -> Replay:
    """Keyed by revision: an edited proposal is replayed again; an unchanged one comes from the cache."""
    return replay(engine(), get(engine(), version_id).rules, first_day, last_day)


def clear_after_write() -> None:
    st.cache_data.clear()
