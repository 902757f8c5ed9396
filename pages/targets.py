"""Targets & spend (ops, admin): a year's monthly targets and marketing spend, edited in place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.admin.planning import (
    PlanChange,
    PlanError,
    save_spend,
    save_targets,
    spend_frame,
    targets_frame,
    years,
)
from core.formats import TARGET_METRICS
from core.formatting import MISSING
from core.vocabulary import kpi_label, value_name
from ui import auth, cache, feedback

user = auth.guard("import_data")
st.title("Targets & spend")
st.caption(
    "Edit a cell, add a row at the bottom or select rows to delete them, then save. A save is all or nothing: "
    "a table with any bad cell is refused with the cell to fix. Every change is recorded in the audit log."
)

MONEY_METRICS = ("pipeline", "won_revenue")
MONEY = "$%,.0f"
COUNT = "localized"

with_data = years(cache.engine())
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


def shown_table(section: str, read: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """The table as first put in front of this person, kept until they save or reload.

    The editor keeps edits as changes to numbered rows of its input, so the input must not shift under
    them when someone else saves; core compares it with the database to keep both people's changes.
    """
    key = f"{section}_shown_{year}"
    if key not in st.session_state:
        st.session_state[key] = read(cache.engine(), year)
    return st.session_state[key]


def start_over(section: str) -> None:
    st.session_state.pop(f"{section}_shown_{year}", None)
    st.session_state.pop(f"{section}_editor", None)


def save(saver: Callable[..., PlanChange], edited: pd.DataFrame, section: str, shown: pd.DataFrame) -> None:
    try:
        change = saver(cache.engine(), user.actor, edited, year=year, shown=shown)
    except PlanError as problem:
        st.error(str(problem))
        return
    start_over(section)
    feedback.after_write(f"targets_{section}", change.summary())  # the tables are re-read from the database


def buttons(section: str, saver: Callable[..., PlanChange], edited: pd.DataFrame, shown: pd.DataFrame) -> None:
    save_column, reload_column, _ = st.columns([1, 1, 3])
    if save_column.button(f"Save {section}", key=f"{section}_save", type="primary", icon=":material/save:"):
        save(saver, edited, section, shown)
    if reload_column.button("Reload", key=f"{section}_reload", icon=":material/refresh:", help="Drop unsaved edits"):
        start_over(section)
        st.rerun()


st.subheader("Monthly targets")
st.caption("One row per month. A blank cell means no target for that metric: clearing a cell removes its target.")
shown_targets = shown_table("targets", targets_frame)
targets = st.data_editor(
    shown_targets,
    key="targets_editor",
    placeholder=MISSING,  # a blank cell: no target
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    column_config={
        "month": month_column,
        **{
            metric: st.column_config.NumberColumn(
                kpi_label(metric),
                min_value=0,
                format=MONEY if metric in MONEY_METRICS else COUNT,
            )
            for metric in TARGET_METRICS
        },
    },
)
buttons("targets", save_targets, targets, shown_targets)
feedback.show_notice("targets_targets")

st.subheader("Marketing spend")
st.caption(
    "One row per month and channel. The channels offered are those of the touch data, so that CAC can match "
    "spend to them, and those spend is already saved under."
)
shown_spend = shown_table("spend", spend_frame)
channel_names = cache.display_names()
spend = st.data_editor(
    shown_spend,
    key="spend_editor",
    placeholder=MISSING,
    num_rows="dynamic",
    hide_index=True,
    width="stretch",
    column_config={
        "month": month_column,
        "channel": st.column_config.SelectboxColumn(
            "Channel",
            options=cache.channels(),
            format_func=lambda channel: value_name(channel, channel_names),  # the stored key is what is saved
            required=True,
        ),
        "amount": st.column_config.NumberColumn("Amount", min_value=0, format=MONEY, required=True),
    },
)
buttons("spend", save_spend, spend, shown_spend)
feedback.show_notice("targets_spend")
