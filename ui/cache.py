"""Cached reads through core. Pages call these; writes call `clear_after_write()`.

The engine is a cache_resource (one per process, never mutated); query results
are cache_data keyed by their arguments, bounded in size and age.

The scoreboard's reads refresh in the background: once an entry is older than its ttl, the next run still
gets it at once while a worker thread reads it again. In the foreground a cold scoreboard is ~7 s of SQL on a
million leads, and every session showing that view waits for it (one computation per key), every five
minutes (bench/load.py, BENCHMARKS.md "Load"). Their ttl is half the former one, because an expired value
may be served for one more ttl: a write from another process or replica still shows within five minutes,
and a write here still clears everything at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from core import vocabulary
from core.admin import planning
from core.alignment.diagnostic.actions import Action
from core.alignment.diagnostic.report import diagnose
from core.alignment.diagnostic.results import Results, ResultsView
from core.alignment.diagnostic.signs import SignReading
from core.alignment.diagnostic.survey import RoundInfo, rounds
from core.db import open_database
from core.definitions.replay import Replay, replay
from core.definitions.rules import IcpRules, MqlRules
from core.definitions.versions import VersionInfo, active, get
from core.exports import to_safe_csv
from core.funnel import view
from core.funnel.attribution import Model, cac_by_channel, revenue_by_model
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.query import GroupBy
from core.funnel.scoreboard import Freshness, freshness
from core.funnel.segments import Filters, data_range, filter_options
from core.periods import Grain
from core.permissions import Actor
from core.rejections import explorer
from core.rejections.catalogue import Reason, catalogue, unknown_reasons
from core.rejections.explorer import (
    Drill,
    HeatmapBy,
    Overview,
    by_owner,
    by_reason,
    drill_leads,
    heatmap,
    overview,
    weekly,
)
from core.rejections.profiles import ReasonProfile, reason_profiles
from core.rejections.scope import RejectionQuery
from core.sandbox.outcome import Curve, Knobs, Outcome, curve, outcome, trial_options
from core.settings import OrgSettings, current


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    return open_database()


@st.cache_data(ttl=150, refresh_mode="background", max_entries=128, show_spinner=False)
def kpis(
    first_day: dt.date, last_day: dt.date, grain: Grain, by: GroupBy | None = None, filters: Filters | None = None
) -> pd.DataFrame:
    return kpi_table(engine(), KpiQuery(first_day, last_day, grain, by, filters or Filters()))


@st.cache_data(ttl=150, refresh_mode="background", max_entries=4, show_spinner=False)
def date_span() -> tuple[dt.date, dt.date] | None:
    return data_range(engine())


@st.cache_data(ttl=150, refresh_mode="background", max_entries=16, show_spinner=False)
def default_anchor(today: dt.date, unit: Grain) -> dt.date:
    """The day the "last …" presets count from: after the latest complete period with MQLs."""
    return view.default_anchor(engine(), today, unit)


@st.cache_data(ttl=150, refresh_mode="background", max_entries=16, show_spinner=False)
def explorer_anchor(preset: str, today: dt.date) -> dt.date:
    """The day a Rejections preset counts from (core.rejections.explorer_anchor)."""
    return explorer.explorer_anchor(engine(), preset, today)


@st.cache_data(ttl=150, refresh_mode="background", max_entries=4, show_spinner=False)
def options() -> dict[str, list[str]]:
    return filter_options(engine())


@st.cache_data(ttl=150, refresh_mode="background", max_entries=2, show_spinner=False)
def org_settings() -> OrgSettings:
    return current(engine())


@st.cache_data(ttl=150, refresh_mode="background", max_entries=4, show_spinner=False)
def display_names(field: str = "sources") -> dict[str, str]:
    """Ops' display names for one field's stored values; `core.vocabulary.value_name` reads them."""
    return vocabulary.display_names(engine(), field)


@st.cache_data(ttl=150, refresh_mode="background", max_entries=2, show_spinner=False)
def channels() -> list[str]:
    """The channels spend may be entered for (a distinct over every touch: cached)."""
    return planning.channels(engine())


@st.cache_data(ttl=150, refresh_mode="background", max_entries=2, show_spinner=False)
def people() -> dict[str, str]:
    """User name -> person's name, for showing who signed, wrote or changed something."""
    return vocabulary.people(engine())


@st.cache_data(ttl=30, refresh_mode="background", max_entries=2, show_spinner=False)
def data_freshness() -> Freshness:
    return freshness(engine())


@st.cache_data(ttl=150, refresh_mode="background", max_entries=32, show_spinner=False)
def revenue_models(first_day: dt.date, last_day: dt.date, filters: Filters | None = None) -> pd.DataFrame:
    return revenue_by_model(engine(), KpiQuery(first_day, last_day, "range", None, filters or Filters()))


@st.cache_data(ttl=150, refresh_mode="background", max_entries=32, show_spinner=False)
def cac(first_day: dt.date, last_day: dt.date, model: Model, filters: Filters | None = None) -> pd.DataFrame:
    return cac_by_channel(engine(), KpiQuery(first_day, last_day, "range", None, filters or Filters()), model)


@st.cache_data(ttl=600, max_entries=64, show_spinner="Replaying the rule on the stored leads…")
def replayed(version_id: int, revision: int, first_day: dt.date, last_day: dt.date) -> Replay:
    """Keyed by revision: an edited proposal is replayed again; an unchanged one comes from the cache."""
    return replay(engine(), get(engine(), version_id).rules, first_day, last_day)


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def in_force(kind: str) -> VersionInfo | None:
    return active(engine(), kind)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def rejection_overview(query: RejectionQuery) -> Overview:
    return overview(engine(), query)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def rejection_reasons(query: RejectionQuery) -> pd.DataFrame:
    return by_reason(engine(), query)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def rejections_by_week(query: RejectionQuery) -> pd.DataFrame:
    return weekly(engine(), query)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def rejection_heatmap(query: RejectionQuery, by: HeatmapBy) -> pd.DataFrame:
    return heatmap(engine(), query, by)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def rejections_by_owner(query: RejectionQuery) -> pd.DataFrame:
    return by_owner(engine(), query)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def rejection_profiles(
    query: RejectionQuery, icp_rules: dict[str, Any] | None, mql_rules: dict[str, Any] | None
) -> list[ReasonProfile]:
    """Keyed by the rules compared against, so a newly signed ICP or MQL rule is compared at once."""
    return reason_profiles(
        engine(),
        query,
        IcpRules.model_validate(icp_rules) if icp_rules is not None else None,
        MqlRules.model_validate(mql_rules) if mql_rules is not None else None,
    )


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def rejected_leads(
    query: RejectionQuery, drill: Drill, sort: str, descending: bool, offset: int, limit: int
) -> tuple[pd.DataFrame, int]:
    return drill_leads(engine(), query, drill, sort=sort, descending=descending, offset=offset, limit=limit)


def rejected_leads_csv(query: RejectionQuery, drill: Drill, sort: str, descending: bool, limit: int) -> bytes:
    """Not cached: a hundred thousand rows are built when asked for, not kept per view in every replica."""
    rows, _ = drill_leads(engine(), query, drill, sort=sort, descending=descending, limit=limit)
    return to_safe_csv(rows)


@st.cache_data(ttl=300, max_entries=4, show_spinner=False)
def reason_catalogue() -> list[Reason]:
    return catalogue(engine())


@st.cache_data(ttl=300, max_entries=4, show_spinner=False)
def unmapped_reasons() -> pd.DataFrame:
    return unknown_reasons(engine())


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def survey_rounds() -> list[RoundInfo]:
    return rounds(engine())


@st.cache_data(ttl=300, max_entries=64, show_spinner="Reading the answers and measuring the same signs in the data…")
def diagnosis(
    round_id: int, team: str | None, level: str | None, today: dt.date
) -> tuple[Results, list[SignReading], list[Action], tuple[dt.date, dt.date]]:
    """Keyed by round and view only: results are anonymous aggregates, the same for every viewer."""
    return diagnose(engine(), round_id, ResultsView(team, level), today=today)


# Sandbox reads are keyed by the trial's id and its owner, never by an uploaded frame (st.cache_data hashes
# large frames from a sample: two users' uploads could share an entry). core checks the owner again.
@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def trial_outcome(username: str, role: str, trial_id: int, knobs: Knobs, label: str) -> Outcome:
    return outcome(engine(), Actor(username, role), trial_id, knobs, label)  # type: ignore[arg-type]


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def trial_curve(username: str, role: str, trial_id: int, knobs: Knobs) -> Curve:
    return curve(engine(), Actor(username, role), trial_id, knobs)  # type: ignore[arg-type]


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def trial_choices(username: str, role: str, trial_id: int) -> dict[str, list[str]]:
    return trial_options(engine(), Actor(username, role), trial_id)  # type: ignore[arg-type]


def clear_after_write() -> None:
    st.cache_data.clear()
