"""The audit log: every write in core records who did what, in the same transaction."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Select, func, insert, select
from sqlalchemy.orm import Session

from core.models import AuditEntry, utcnow
from core.permissions import Actor, require


def record(
    target: Session | Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    statement = insert(AuditEntry).values(
        at=utcnow(), actor=actor, action=action, entity=entity, entity_key=entity_key, detail=detail or {}
    )
    target.execute(statement)


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit-log view; None means any. Days are UTC calendar days, both ends included."""

    who: str | None = None
    entity: str | None = None
    action: str | None = None
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    key_contains: str | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: pd.DataFrame  # newest first: id, at, actor, action, entity, entity_key, detail (JSON text)
    total: int  # entries matching the filters, of which `rows` holds the newest `limit`


def _filtered(statement: Select[Any], query: AuditQuery) -> Select[Any]:
    if query.who:
        statement = statement.where(AuditEntry.actor == query.who)
    if query.entity:
        statement = statement.where(AuditEntry.entity == query.entity)
    if query.action:
        statement = statement.where(AuditEntry.action == query.action)
    if query.first_day:
        statement = statement.where(AuditEntry.at >= dt.datetime.combine(query.first_day, dt.time()))
    if query.last_day:
        statement = statement.where(
            AuditEntry.at < dt.datetime.combine(query.last_day + dt.timedelta(days=1), dt.time())
        )
    if query.key_contains:
        statement = statement.where(AuditEntry.entity_key.icontains(query.key_contains.strip(), autoescape=True))
    return statement


def entries(engine: Engine, actor: Actor, query: AuditQuery, *, limit: int = 500) -> AuditPage:
    require(actor, "view_audit")
    columns = (
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.entity,
        AuditEntry.entity_key,
        AuditEntry.detail,
    )
    with engine.connect() as connection:
        total = int(connection.scalar(_filtered(select(func.count()).select_from(AuditEntry), query)) or 0)
        rows = connection.execute(_filtered(select(*columns), query).order_by(AuditEntry.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=["id", "at", "actor", "action", "entity", "entity_key", "detail"])
    frame["detail"] = [json.dumps(detail, sort_keys=True, default=str) if detail else "" for detail in frame["detail"]]
    return AuditPage(frame, total)


def facets(engine: Engine, actor: Actor) -> dict[str, list[str]]:
    """The distinct actors, entities and actions in the log, for the filter pickers."""
    require(actor, "view_audit")
    pickers = {"who": AuditEntry.actor, "entity": AuditEntry.entity, "action": AuditEntry.action}
    with engine.connect() as connection:
        return {name: sorted(connection.scalars(select(column).distinct())) for name, column in pickers.items()}
