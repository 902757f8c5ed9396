"""Columns computed when rows are written, so KPI queries stay plain aggregates.

Leads: the local day of creation, of MQL and of rejection (periods are bucketed
in the organisation's timezone), the response time in business or calendar
minutes, the moment the response SLA runs out, and the folded rejection reason. Opportunities: local created/closed
days and the cycle length in days. When the settings change, the columns they feed are recomputed
(`moved_by`, recompute_*) set-wise, so the stored values always match the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

import pandas as pd
from sqlalchemy import Connection, String, Table, column, select, text, type_coerce
from sqlalchemy.orm import Session

from core import audit, sql
from core.business_hours import BusinessClock, calendar_minutes_between
from core.funnel.rollups import refresh_after_settings
from core.models import Lead, Opportunity, Setting
from core.permissions import Actor
from core.settings import CLOCK_KEYS, ORGANISATION_KEY, OrgSettings, load, write_row
from core.text import reason_keys


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


# Every derived column of a lead, and the inputs each needs (created_day always: lead_columns starts from it).
LEAD_DERIVED = ("created_day", "rejected_day", "reason_key", "mql_day", "sla_due_at", "response_minutes")
OPPORTUNITY_DERIVED = ("created_day", "closed_day", "cycle_days")
_LEAD_NEEDS = {
    "rejected_day": ("rejected_at",),
    "reason_key": ("rejection_reason",),
    "mql_day": ("mql_at",),
    "sla_due_at": ("mql_at",),
    "response_minutes": ("mql_at", "first_response_at"),
}
RECOMPUTE_PAGE = 100_000
_DERIVED_STAGE = "derived_stage"


def moved_by(before: OrgSettings, after: OrgSettings) -> tuple[set[str], set[str]]:
    """The lead and the opportunity columns a settings change moves: local days follow the timezone, due times
    the SLA hours and the clock, response minutes the clock. Segment bands and gates move no stored column."""
    changed = before.differences(after)
    leads: set[str] = set()
    opportunities: set[str] = set()
    if "timezone" in changed:
        leads |= {"created_day", "rejected_day", "mql_day"}
        opportunities |= {"created_day", "closed_day"}
    if changed & CLOCK_KEYS:
        leads |= {"sla_due_at", "response_minutes"}
    if "sla_hours" in changed:
        leads.add("sla_due_at")
    return leads, opportunities


def _pages(
    connection: Connection, table: Table, key: str, columns: list[str], keys_from: str | None, only: Any = None
) -> Iterator[pd.DataFrame]:
    """The inputs in key order, a page at a time. SQLite's timestamps are read as their stored text and parsed
    by pandas at once: SQLAlchemy's converter per value cost more than the recompute."""
    sqlite = connection.dialect.name == "sqlite"
    selected = [
        type_coerce(table.c[name], String).label(name) if sqlite and name.endswith("_at") else table.c[name]
        for name in columns
    ]
    query = select(table.c[key], *selected).order_by(table.c[key]).limit(RECOMPUTE_PAGE)
    if keys_from:
        query = query.where(table.c[key].in_(select(column(key)).select_from(text(keys_from))))
    if only is not None:
        query = query.where(only)
    last_key: str | None = None
    while True:
        page = query if last_key is None else query.where(table.c[key] > last_key)
        rows = [tuple(row) for row in connection.execute(page)]
        if not rows:
            return
        frame = pd.DataFrame(rows, columns=[key, *columns])
        for name in columns:
            if name.endswith("_at"):
                frame[name] = pd.to_datetime(frame[name], format="ISO8601").astype("datetime64[us]")
        yield frame
        last_key = rows[-1][0]


def _column_kind(name: str) -> str:
    if name.endswith("_day"):
        return "date"
    if name.endswith("_at"):
        return "datetime"
    return "object" if name == "reason_key" else "float"


def _recompute(
    connection: Connection,
    table: Table,
    key: str,
    inputs: list[str],
    derive: Callable[[pd.DataFrame], dict[str, pd.Series]],
    keys_from: str | None,
    only: Any = None,
) -> None:
    """Set-wise: the derived values go, a page at a time, to a temporary table (no write to the rows meanwhile),
    then one UPDATE … FROM rewrites the rows whose values differ."""
    postgres = connection.dialect.name == "postgresql"
    connection.execute(text(f"DROP TABLE IF EXISTS {_DERIVED_STAGE}"))
    names: list[str] = []
    for frame in _pages(connection, table, key, inputs, keys_from, only):
        derived = derive(frame)
        if not names:
            names = list(derived)
            suffix = " ON COMMIT DROP" if postgres else ""
            connection.execute(
                text(
                    f"CREATE TEMPORARY TABLE {_DERIVED_STAGE}{suffix} AS "
                    f"SELECT {', '.join([key, *names])} FROM {table.name} WHERE 1 = 0"
                )
            )
        values = [frame[key].tolist(), *(sql.format_column(derived[name], _column_kind(name)) for name in names)]
        sql.bulk_insert(connection, _DERIVED_STAGE, [key, *names], list(zip(*values, strict=True)))
    if not names:
        return
    if postgres:
        connection.execute(text(f"ANALYZE {_DERIVED_STAGE}"))  # temporary tables are never auto-analysed
    distinct = "IS DISTINCT FROM" if postgres else "IS NOT"
    assignments = ", ".join(f"{name} = staged.{name}" for name in names)
    differs = " OR ".join(f"{table.name}.{name} {distinct} staged.{name}" for name in names)
    connection.execute(
        text(
            f"UPDATE {table.name} SET {assignments} FROM {_DERIVED_STAGE} AS staged "
            f"WHERE {table.name}.{key} = staged.{key} AND ({differs})"
        )
    )
    connection.execute(text(f"DROP TABLE {_DERIVED_STAGE}"))


def recompute_lead_derived(
    connection: Connection,
    settings: OrgSettings | None = None,
    keys_from: str | None = None,
    columns: Collection[str] = LEAD_DERIVED,
) -> None:
    """Recompute the derived lead `columns` (by default all) of every lead, or of those whose lead_id is in table
    `keys_from`. A lead without an MQL has no due time or response: only MQLs are read for those alone."""
    settings = settings or load(connection)
    wanted = set(columns)
    inputs = sorted({"created_at", *(need for name in wanted for need in _LEAD_NEEDS.get(name, ()))})
    only = Lead.mql_at.is_not(None) if wanted <= {"sla_due_at", "response_minutes"} else None

    def derive(frame: pd.DataFrame) -> dict[str, pd.Series]:
        return {name: values for name, values in lead_columns(frame, settings).items() if name in wanted}

    table: Table = Lead.__table__  # type: ignore[assignment]
    _recompute(connection, table, "lead_id", inputs, derive, keys_from, only)


def recompute_opportunity_derived(
    connection: Connection,
    settings: OrgSettings | None = None,
    keys_from: str | None = None,
    columns: Collection[str] = OPPORTUNITY_DERIVED,
) -> None:
    settings = settings or load(connection)
    wanted = set(columns)

    def derive(frame: pd.DataFrame) -> dict[str, pd.Series]:
        return {name: values for name, values in opportunity_columns(frame, settings).items() if name in wanted}

    table: Table = Opportunity.__table__  # type: ignore[assignment]
    _recompute(connection, table, "opportunity_id", ["created_at", "closed_at"], derive, keys_from)


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
    leads, opportunities = moved_by(current, updated)
    if leads:
        recompute_lead_derived(connection, updated, columns=leads)
    if opportunities:
        recompute_opportunity_derived(connection, updated, columns=opportunities)
    refresh_after_settings(connection, current, updated)
    return updated
