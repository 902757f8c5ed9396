"""Columns computed when rows are written, so KPI queries stay plain aggregates.

Leads: the local day of creation, of MQL and of rejection (periods are bucketed
in the organisation's timezone), the response time in business or calendar
minutes, the moment the response SLA runs out, and the folded rejection reason. Opportunities: local created/closed
days and the cycle length in days. When the settings change, everything is
recomputed (recompute_*), so the stored values always match the settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, bindparam, column, select, text, update
from sqlalchemy.orm import Session

from core import audit
from core.business_hours import BusinessClock, calendar_minutes_between
from core.funnel.rollups import refresh_rollups
from core.models import Lead, Opportunity, Setting
from core.permissions import Actor
from core.settings import ORGANISATION_KEY, OrgSettings, load, write_row
from core.text import reason_keys

RECOMPUTE_CHUNK = 50_000


def local_day(utc: pd.Series, timezone: str) -> pd.Series:
    """The calendar day in the organisation's timezone of each naive-UTC timestamp."""
    return utc.dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None).dt.floor("D")


# The lead columns the derived ones are computed from.
LEAD_INPUTS = ("created_at", "mql_at", "first_response_at", "rejected_at", "rejection_reason")


def lead_columns(frame: pd.DataFrame, settings: OrgSettings) -> dict[str, pd.Series]:
    """Derived lead columns from those of LEAD_INPUTS the frame has (timestamps datetime64, naive UTC)."""
    result: dict[str, pd.Series] = {"created_day": local_day(frame["created_at"], settings.timezone)}
    if "rejected_at" in frame:
        result["rejected_day"] = local_day(frame["rejected_at"], settings.timezone)
    if "rejection_reason" in frame:
        result["reason_key"] = reason_keys(frame["rejection_reason"])
    if "mql_at" in frame:
        mql_at = frame["mql_at"]
        result["mql_day"] = local_day(mql_at, settings.timezone)
        sla_minutes = settings.sla_hours * 60.0
        if settings.sla_business_hours:
            clock = BusinessClock(settings.business_calendar())
            result["sla_due_at"] = clock.add_minutes(mql_at, sla_minutes)
            if "first_response_at" in frame:
                minutes = clock.minutes_between(mql_at, frame["first_response_at"])
                result["response_minutes"] = pd.Series(minutes, index=frame.index)
        else:
            result["sla_due_at"] = mql_at + pd.Timedelta(minutes=sla_minutes)
            if "first_response_at" in frame:
                minutes = calendar_minutes_between(mql_at, frame["first_response_at"])
                result["response_minutes"] = pd.Series(minutes, index=frame.index)
    return result


def opportunity_columns(frame: pd.DataFrame, settings: OrgSettings) -> dict[str, pd.Series]:
    result: dict[str, pd.Series] = {"created_day": local_day(frame["created_at"], settings.timezone)}
    if "closed_at" in frame:
        result["closed_day"] = local_day(frame["closed_at"], settings.timezone)
        cycle = (frame["closed_at"] - frame["created_at"]).dt.total_seconds() / 86_400.0
        result["cycle_days"] = cycle
    return result


def _chunks(
    connection: Connection, table: Table, key: str, columns: list[str], keys_from: str | None
) -> Iterator[pd.DataFrame]:
    """Rows in key order, a page at a time, so that writes between pages never disturb an open cursor."""
    query = select(table.c[key], *(table.c[name] for name in columns)).order_by(table.c[key]).limit(RECOMPUTE_CHUNK)
    if keys_from:
        query = query.where(table.c[key].in_(select(column(key)).select_from(text(keys_from))))
    last_key: str | None = None
    while True:
        page = query if last_key is None else query.where(table.c[key] > last_key)
        rows = connection.execute(page).all()
        if not rows:
            return
        frame = pd.DataFrame(rows, columns=[key, *columns])
        for name in columns:
            if name.endswith("_at"):
                frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
        yield frame
        last_key = rows[-1][0]


def _python_values(name: str, series: pd.Series) -> list[object]:
    """A derived column as the driver takes it: dates for *_day, datetimes, floats, None for missing."""
    missing = series.isna().to_numpy()
    values: list[object]
    if pd.api.types.is_datetime64_any_dtype(series):
        values = list(series.dt.date) if name.endswith("_day") else list(series.dt.to_pydatetime())
    elif pd.api.types.is_float_dtype(series):
        values = series.astype("float64").tolist()
    else:
        values = series.tolist()
    return [None if gone else value for value, gone in zip(values, missing, strict=True)]


def _write(connection: Connection, table: Table, key: str, frame: pd.DataFrame, derived: dict[str, pd.Series]) -> None:
    # Column by column rather than cell by cell: a settings change rewrites every row, and reading cells one at
    # a time cost three quarters of the time (and of the write lock held meanwhile).
    names = list(derived)
    columns = [_python_values(name, derived[name]) for name in names]
    params = [
        {"_key": row_key, **dict(zip(names, values, strict=True))}
        for row_key, *values in zip(frame[key].tolist(), *columns, strict=True)
    ]
    if params:
        statement = (
            update(table).where(table.c[key] == bindparam("_key")).values({name: bindparam(name) for name in derived})
        )
        connection.execute(statement, params)


def recompute_lead_derived(
    connection: Connection, settings: OrgSettings | None = None, keys_from: str | None = None
) -> None:
    """Recompute derived lead columns for all leads, or those whose lead_id is in table `keys_from`."""
    settings = settings or load(connection)
    table: Table = Lead.__table__  # type: ignore[assignment]
    for frame in _chunks(connection, table, "lead_id", list(LEAD_INPUTS), keys_from):
        _write(connection, table, "lead_id", frame, lead_columns(frame, settings))


def recompute_opportunity_derived(
    connection: Connection, settings: OrgSettings | None = None, keys_from: str | None = None
) -> None:
    settings = settings or load(connection)
    table: Table = Opportunity.__table__  # type: ignore[assignment]
    for frame in _chunks(connection, table, "opportunity_id", ["created_at", "closed_at"], keys_from):
        _write(connection, table, "opportunity_id", frame, opportunity_columns(frame, settings))


def store_settings(session: Session, changes: dict[str, Any], *, actor_name: str) -> OrgSettings:
    """Stores changed settings and recomputes every derived column they feed, without a role check: for an
    admin's save (core.admin.settings) and for a change someone else authorised, the two leads' sign-off of an
    SLA version carrying its hours and gates into the settings every KPI reads. It lives here, beside the
    recomputation, so that settings (read by everything) imports nothing that reads them."""

    actor = Actor(actor_name, "admin")  # only a name for the records below; the caller checked the right
    # Row-locked on PostgreSQL: an SLA coming into force and an admin's save at once must not undo each other.
    session.get(Setting, ORGANISATION_KEY, with_for_update=True)
    current = load(session)
    updated = OrgSettings.model_validate({**current.model_dump(), **changes})
    payload = updated.model_dump(mode="json")
    write_row(session, ORGANISATION_KEY, payload, actor.username)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="update",
        entity="settings",
        entity_key=ORGANISATION_KEY,
        detail={"before": current.model_dump(mode="json"), "after": payload},
    )
    connection = session.connection()
    recompute_lead_derived(connection, updated)
    recompute_opportunity_derived(connection, updated)
    refresh_rollups(connection, updated)  # the segments and the SLA split move with the settings
    return updated
