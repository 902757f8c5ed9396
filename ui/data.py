"""Cached reads through core. Pages call these; writes call `clear_after_write()`.

The engine is a cache_resource (one per process, never mutated); query results
are cache_data keyed by their arguments, bounded in size and age.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from core.db import open_database
from core.kpis import Filters, GroupBy, KpiQuery, data_range, kpi_table
from core.periods import Grain


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


def clear_after_write() -> None:
    st.cache_data.clear()
