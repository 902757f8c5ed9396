"""Targets & spend (ops, admin): a year's monthly targets and marketing spend, edited in place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.planning import PlanChange, PlanError, save_spend, save_targets, spend_frame, targets_frame, years
from core.schema import TARGET_METRICS
from ui import auth, data

user = auth.guard("import_data")
st.title("Targets & spend")
st.caption(
    "Edit a cell, add a row at the bottom or select rows to delete them, then save. A save is all or nothing: "
    "a table with any bad cell is refused with the cell to fix. Every change is recorded in the audit log."
)

LABELS = {"mqls": "MQLs", "sqls": "SQLs"}
MONEY_METRICS = ("pipeline", "won_revenue")
MONEY = "$%,.0f"
COUNT = "localized"
SAVED_KEY = "targets_saved"  # the summary outlives the rerun that reloads the saved tables

with_data = years(data.engine())
this_year = dt.date.today().year
options = sorted({*with_data, this_year, this_year + 1})
picker, _ = st.columns([1, 3])
year = picker.selectbox(
    "Year", options, index=options.index(with_data[-1] if with_data else this_year), key="targets_year"
)
first_day, last_day = dt.date(year, 1, 1), dt.date(year, 12, 31)
month_column = st.column_config.DateColumn(
    "Month", format="MMM YYYY", min_value=first_day, max_value=last_day, required=True
)


def save(saver: Callable[..., PlanChange], edited: pd.DataFrame, section: str) -> None:
    try:
        change = saver(data.engine(), user.actor, edited, year=year)
    except PlanError as problem:
        st.error(str(problem))
        return
    data.clear_after_write()
    st.session_state[SAVED_KEY] = (section, change.summary())
    st.rerun()


def saved_message(section: str) -> None:
    saved = st.session_state.get(SAVED_KEY)
    if saved is not None and saved[0] == section:
        del st.session_state[SAVED_KEY]
        st.success(saved[1])


st.subheader("Monthly targets")
st.caption("One row per month. A blank cell means no target for that metric: clearing a cell removes its target.")
targets = st.data_editor(
    targets_frame(data.engine(), year),
    key="targets_editor",
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    column_config={
        "month": month_column,
        **{
            metric: st.column_config.NumberColumn(
                LABELS.get(metric, metric.replace("_", " ").capitalize()),
                min_value=0,
                format=MONEY if metric in MONEY_METRICS else COUNT,
            )
            for metric in TARGET_METRICS
        },
    },
)
if st.button("Save targets", key="targets_save", type="primary", icon=":material/save:"):
    save(save_targets, targets, "targets")
saved_message("targets")

st.subheader("Marketing spend")
st.caption("One row per month and channel; use the channel names of the touch data so that CAC can match them.")
spend = st.data_editor(
    spend_frame(data.engine(), year),
    key="spend_editor",
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    column_config={
        "month": month_column,
        "channel": st.column_config.TextColumn("Channel", max_chars=64, required=True),
        "amount": st.column_config.NumberColumn("Amount", min_value=0, format=MONEY, required=True),
    },
)
if st.button("Save spend", key="spend_save", type="primary", icon=":material/save:"):
    save(save_spend, spend, "spend")
saved_message("spend")
