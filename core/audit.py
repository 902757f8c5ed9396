"""The audit log: every write in core records who did what, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from core.models import AuditEntry, utcnow


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
