"""An admin's change of the organisation's settings: validated, audited, and every derived column recomputed.

The SLA's hours and gates are not among them: they come only from a signed SLA version (core.definitions.versions).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db import retrying, session_scope
from core.funnel.derived import store_settings
from core.permissions import Actor, require
from core.settings import SLA_KEYS, OrgSettings, SettingsError


@retrying
def update(engine: Engine, changes: dict[str, Any], *, actor: Actor) -> OrgSettings:
    """`save` in its own transaction, with a validation failure as one readable SettingsError.

    The SLA's hours and gates are not settings an admin types: they come only from a signed SLA version.
    """
    signed_only = sorted(set(changes) & SLA_KEYS)
    if signed_only:
        raise SettingsError(f"{', '.join(signed_only)} come from the signed SLA definition, not from settings")
    try:
        with session_scope(engine) as session:
            return save(session, changes, actor=actor)
    except ValidationError as exc:
        reasons = "; ".join(
            (f"{'.'.join(str(p) for p in error['loc'])}: " if error["loc"] else "")
            + str(error["msg"]).removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise SettingsError(reasons) from exc


def save(session: Session, changes: dict[str, Any], *, actor: Actor) -> OrgSettings:
    """Validate and store changed settings (admins only), then recompute what depends on them."""
    require(actor, "manage")
    return store_settings(session, changes, actor_name=actor.username)
