"""Roles and what each may do (PRODUCT.md, Roles). Checked in core on every write, not only by hiding a button."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["exec", "marketing", "sales", "marketing_lead", "sales_lead", "ops", "admin"]
ROLES: tuple[Role, ...] = ("exec", "marketing", "sales", "marketing_lead", "sales_lead", "ops", "admin")

Permission = Literal[
    "read",
    "answer_survey",
    "propose_definition",
    "approve_definition",
    "import_data",
    "run_sync",
    "view_audit",
    "edit_reasons",
    "manage_survey",
    "manage",
]

_EVERYONE = frozenset(ROLES)
GRANTS: dict[Permission, frozenset[str]] = {
    "read": _EVERYONE,
    "answer_survey": _EVERYONE,
    "propose_definition": frozenset({"marketing", "sales", "marketing_lead", "sales_lead", "ops", "admin"}),
    # Each lead signs for their own team's side; the definitions module checks which side.
    "approve_definition": frozenset({"marketing_lead", "sales_lead"}),
    "import_data": frozenset({"ops", "admin"}),
    "run_sync": frozenset({"ops", "admin"}),
    # Ops answer "who changed this number?"; the log names people and their actions, so not everyone.
    "view_audit": frozenset({"ops", "admin"}),
    # Ops keep the rejection-reason catalogue: which typed spellings mean which canonical reason.
    "edit_reasons": frozenset({"ops", "admin"}),
    # Ops run the self-diagnostic: open a round, close it early, import a past one.
    "manage_survey": frozenset({"ops", "admin"}),
    "manage": frozenset({"admin"}),
}


class PermissionDenied(Exception):
    """The acting user's role may not do this; nothing was changed."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or the command line (a shell on the server is an admin)."""

    username: str
    role: Role


def may(role: str, permission: Permission) -> bool:
    return role in GRANTS[permission]


def require(actor: Actor, permission: Permission) -> None:
    if not may(actor.role, permission):
        raise PermissionDenied(f"{actor.username} ({actor.role}) may not {permission.replace('_', ' ')}")


def may_upload(role: str | None) -> bool:
    """Whether a session may send files to the server: signed in, with a page that takes an upload (the Data page
    imports, the Sandbox's trials). Checked before the file is read (ui.serving)."""
    return role is not None and (may(role, "import_data") or may(role, "propose_definition"))


def may_clear_caches(role: str | None) -> bool:
    """Whether a session may empty every cache of the server process for everyone: those whose imports change
    what the caches hold."""
    return role is not None and may(role, "import_data")
