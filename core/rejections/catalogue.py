"""The rejection-reason catalogue: canonical reasons and the spellings sales types for them.

CRMs hold free text ("Wrong size", "company too small", "too small co."). Each lead keeps its raw text and
a folded key (case, spacing and punctuation folded, see `core.text.reason_key`); the catalogue maps keys to canonical
reasons. A key no synonym covers is an unknown reason, shown as typed until ops map it. Ops edit the
catalogue; every change is audited and nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Text,
    column,
    func,
    insert,
    select,
    table,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.db import retrying, session_scope
from core.models import Lead, ReasonSynonym, RejectionReason, utcnow
from core.permissions import Actor, require
from core.sql import connection_of
from core.text import reason_key

CATEGORIES: dict[str, str] = {
    "targeting": "marketing reached the wrong people: fix the targeting",
    "qualification": "the right company, but no need, budget or authority: fix the scoring",
    "timing": "not now: nurture and come back",
    "follow_up": "sales could not reach the lead",
    "data": "the record itself is wrong: duplicates, bad contact data",
}
# Lead fields a targeting reason can be about; the explorer compares them with the active ICP.
LEAD_FIELDS: tuple[str, ...] = ("company_size", "industry", "country", "seniority")


@dataclass(frozen=True)
class DefaultReason:
    name: str
    category: str
    lead_field: str | None
    attempts_required: bool
    description: str
    synonyms: tuple[str, ...]


DEFAULT_CATALOGUE: tuple[DefaultReason, ...] = (
    DefaultReason(
        "Wrong company size",
        "targeting",
        "company_size",
        False,
        "The company is smaller or larger than the ICP's range.",
        ("company too small", "company size too small", "too small co.", "wrong size", "too small", "too big"),
    ),
    DefaultReason(
        "Wrong industry",
        "targeting",
        "industry",
        False,
        "An industry the ICP does not serve.",
        ("not our industry", "industry not supported"),
    ),
    DefaultReason(
        "Wrong country",
        "targeting",
        "country",
        False,
        "Outside the countries the ICP names or sales can serve.",
        ("wrong region", "wrong geography", "outside territory"),
    ),
    DefaultReason(
        "Not a decision maker",
        "qualification",
        "seniority",
        True,
        "The contact cannot buy and will not lead sales to who can.",
        ("not decision maker", "no authority", "too junior"),
    ),
    DefaultReason(
        "No budget",
        "qualification",
        None,
        True,
        "A fit, but no money for this now.",
        ("budget", "no funds"),
    ),
    DefaultReason(
        "Bad timing",
        "timing",
        None,
        True,
        "Interested later; hand back to nurture.",
        ("not now", "timing", "not the right time"),
    ),
    DefaultReason(
        "No response after attempts",
        "follow_up",
        None,
        True,
        "Sales made the SLA's touch attempts and never reached the lead.",
        ("no response after 6 attempts", "no response", "unresponsive", "no answer", "could not reach"),
    ),
    DefaultReason(
        "Bad contact data",
        "data",
        None,
        False,
        "Invalid e-mail or phone number: nobody to call.",
        ("invalid email", "wrong number", "bad data", "invalid contact"),
    ),
    DefaultReason(
        "Duplicate",
        "data",
        None,
        False,
        "The person is already in the CRM as another lead.",
        ("dupe", "duplicate lead"),
    ),
    DefaultReason(
        "Already a customer",
        "targeting",
        None,
        False,
        "An existing customer reached by acquisition marketing.",
        ("existing customer", "current customer"),
    ),
    DefaultReason(
        "Student / job seeker",
        "targeting",
        None,
        False,
        "Downloaded content for study or a job search, not to buy.",
        ("student", "job seeker", "student job seeker"),
    ),
    DefaultReason(
        "Competitor",
        "targeting",
        None,
        False,
        "Works for a competitor.",
        ("works for competitor",),
    ),
)


class CatalogueError(ValueError):
    """A catalogue change that cannot be made; nothing was changed."""


@contextmanager
def _one_editor_wins() -> Iterator[None]:
    """Two people adding the same name or spelling at once: the database's unique keys let one in; the
    other gets a readable conflict instead of a traceback."""
    try:
        yield
    except IntegrityError as exc:
        raise CatalogueError("someone changed the catalogue at the same moment; reload and try again") from exc


# The two tables as migration 0004 created them: the migration installs the catalogue through these, not
# the models, so that a column a later model adds cannot break an older migration.
_REASONS_0004 = table(
    "rejection_reasons",
    column("id", Integer),
    column("name", String),
    column("category", String),
    column("lead_field", String),
    column("attempts_required", Boolean),
    column("description", Text),
    column("created_at", DateTime),
    column("updated_at", DateTime),
    column("updated_by", String),
)
_SYNONYMS_0004 = table(
    "reason_synonyms",
    column("key", String),
    column("reason_id", Integer),
    column("added_at", DateTime),
    column("added_by", String),
)


def install_default_catalogue(connection: Connection, actor: str = "onefunnel") -> int:
    """The starting catalogue, into an empty one (a database's first migration, a test's fresh database).
    Returns how many reasons it added; a catalogue that has any reason is left alone."""
    if connection.execute(select(func.count()).select_from(_REASONS_0004)).scalar_one():
        return 0
    now = utcnow()
    for reason in DEFAULT_CATALOGUE:
        reason_id = connection.execute(
            insert(_REASONS_0004)
            .returning(_REASONS_0004.c.id)
            .values(
                name=reason.name,
                category=reason.category,
                lead_field=reason.lead_field,
                attempts_required=reason.attempts_required,
                description=reason.description,
                created_at=now,
                updated_at=now,
                updated_by=actor,
            )
        ).scalar_one()
        keys = dict.fromkeys(key for key in map(reason_key, (reason.name, *reason.synonyms)) if key)
        connection.execute(
            insert(_SYNONYMS_0004),
            [{"key": key, "reason_id": reason_id, "added_at": now, "added_by": actor} for key in keys],
        )
    return len(DEFAULT_CATALOGUE)


@dataclass(frozen=True)
class Reason:
    id: int
    name: str
    category: str
    lead_field: str | None
    attempts_required: bool
    description: str
    synonyms: tuple[str, ...]  # folded keys, the name's own key included


def catalogue(target: Engine | Connection) -> list[Reason]:
    """Every canonical reason with its synonyms, by name."""
    with connection_of(target) as connection:
        reasons = connection.execute(select(*RejectionReason.__table__.columns).order_by(RejectionReason.name)).all()
        keys = connection.execute(select(ReasonSynonym.reason_id, ReasonSynonym.key).order_by(ReasonSynonym.key)).all()
    by_reason: dict[int, list[str]] = {}
    for reason_id, key in keys:
        by_reason.setdefault(reason_id, []).append(key)
    return [
        Reason(
            reason.id,
            reason.name,
            reason.category,
            reason.lead_field,
            reason.attempts_required,
            reason.description,
            tuple(by_reason.get(reason.id, ())),
        )
        for reason in reasons
    ]


def unknown_reasons(target: Engine | Connection, limit: int = 200) -> pd.DataFrame:
    """Typed reasons no synonym covers: key, an example as typed, and how many rejected leads carry it."""
    statement = (
        select(
            Lead.reason_key.label("key"),
            func.min(Lead.rejection_reason).label("example"),
            func.count().label("leads"),
        )
        .outerjoin(ReasonSynonym, ReasonSynonym.key == Lead.reason_key)
        .where(Lead.rejected_at.is_not(None), Lead.reason_key.is_not(None), ReasonSynonym.key.is_(None))
        .group_by(Lead.reason_key)
        .order_by(func.count().desc(), Lead.reason_key)
        .limit(limit)
    )
    with connection_of(target) as connection:
        rows = connection.execute(statement).all()
    return pd.DataFrame(rows, columns=["key", "example", "leads"])


def _check(name: str, category: str, lead_field: str | None) -> str:
    name = " ".join(name.split())
    if not reason_key(name):
        raise CatalogueError("a reason needs a name with at least one letter or digit")
    if len(name) > 128:
        raise CatalogueError(f"a reason's name has at most 128 characters; this one has {len(name)}")
    if category not in CATEGORIES:
        raise CatalogueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    if lead_field is not None and lead_field not in LEAD_FIELDS:
        raise CatalogueError(f"unknown lead field {lead_field!r}; expected none or one of {', '.join(LEAD_FIELDS)}")
    return name


def _owner_of(session: Session, key: str) -> RejectionReason | None:
    synonym = session.get(ReasonSynonym, key)
    return None if synonym is None else session.get(RejectionReason, synonym.reason_id)


@retrying
def add_reason(
    engine: Engine,
    actor: Actor,
    *,
    name: str,
    category: str,
    lead_field: str | None = None,
    attempts_required: bool = True,
    description: str = "",
) -> Reason:
    """A new canonical reason; its own name becomes its first synonym."""
    require(actor, "edit_reasons")
    name = _check(name, category, lead_field)
    key = reason_key(name)
    assert key is not None  # _check refused names that fold to nothing
    with _one_editor_wins(), session_scope(engine) as session:
        taken = _owner_of(session, key)
        if taken is not None:
            raise CatalogueError(f"{name!r} already means {taken.name!r}; rename that reason or pick another name")
        if session.scalar(select(RejectionReason.id).where(func.lower(RejectionReason.name) == name.lower())):
            raise CatalogueError(f"a reason named {name!r} exists already")
        reason = RejectionReason(
            name=name,
            category=category,
            lead_field=lead_field,
            attempts_required=attempts_required,
            description=description.strip(),
            updated_by=actor.username,
        )
        session.add(reason)
        session.flush()
        session.add(ReasonSynonym(key=key, reason_id=reason.id, added_by=actor.username))
        audit.record(
            session,
            actor=actor.username,
            action="create",
            entity="rejection_reason",
            entity_key=name,
            detail={"category": category, "lead_field": lead_field, "attempts_required": attempts_required},
        )
        reason_id = reason.id
    return _get(engine, reason_id)


@retrying
def update_reason(
    engine: Engine,
    actor: Actor,
    reason_id: int,
    *,
    name: str,
    category: str,
    lead_field: str | None,
    attempts_required: bool,
    description: str,
) -> Reason:
    """Change a reason. A new name is added as a synonym; the old name stays one, so old texts still match."""
    require(actor, "edit_reasons")
    name = _check(name, category, lead_field)
    key = reason_key(name)
    assert key is not None
    with _one_editor_wins(), session_scope(engine) as session:
        reason = session.get(RejectionReason, reason_id, with_for_update=True)
        if reason is None:
            raise CatalogueError(f"there is no reason with id {reason_id}")
        taken = _owner_of(session, key)
        if taken is not None and taken.id != reason_id:
            raise CatalogueError(f"{name!r} already means {taken.name!r}; pick another name")
        clash = session.scalar(
            select(RejectionReason.name).where(
                func.lower(RejectionReason.name) == name.lower(), RejectionReason.id != reason_id
            )
        )
        if clash:
            raise CatalogueError(f"a reason named {clash!r} exists already")
        before = {
            "name": reason.name,
            "category": reason.category,
            "lead_field": reason.lead_field,
            "attempts_required": reason.attempts_required,
            "description": reason.description,
        }
        after = {
            "name": name,
            "category": category,
            "lead_field": lead_field,
            "attempts_required": attempts_required,
            "description": description.strip(),
        }
        if before == after:
            return _get(engine, reason_id)
        for field_name, value in after.items():
            setattr(reason, field_name, value)
        reason.updated_at, reason.updated_by = utcnow(), actor.username
        if taken is None:
            session.add(ReasonSynonym(key=key, reason_id=reason_id, added_by=actor.username))
        changed = {field: [before[field], after[field]] for field in after if before[field] != after[field]}
        audit.record(
            session,
            actor=actor.username,
            action="update",
            entity="rejection_reason",
            entity_key=before["name"],  # type: ignore[arg-type]
            detail=changed,
        )
    return _get(engine, reason_id)


@retrying
def map_spelling(engine: Engine, actor: Actor, text: str, reason_id: int) -> tuple[str, str | None]:
    """Make a typed reason mean a canonical one. Returns (key, the reason it meant before, if any): a
    spelling that meant another reason moves, and the audit log keeps what it meant."""
    require(actor, "edit_reasons")
    key = reason_key(text)
    if key is None:
        raise CatalogueError("a spelling needs at least one letter or digit")
    with _one_editor_wins(), session_scope(engine) as session:
        reason = session.get(RejectionReason, reason_id)
        if reason is None:
            raise CatalogueError(f"there is no reason with id {reason_id}")
        synonym = session.get(ReasonSynonym, key, with_for_update=True)
        before = None if synonym is None else session.get(RejectionReason, synonym.reason_id)
        if before is not None and before.id == reason_id:
            return key, reason.name
        if before is not None and reason_key(before.name) == key:
            raise CatalogueError(f"{text!r} is the name of the reason {before.name!r}; rename that reason first")
        if synonym is None:
            session.add(ReasonSynonym(key=key, reason_id=reason_id, added_by=actor.username))
        else:
            synonym.reason_id, synonym.added_at, synonym.added_by = reason_id, utcnow(), actor.username
        audit.record(
            session,
            actor=actor.username,
            action="map" if before is None else "remap",
            entity="reason_synonym",
            entity_key=key,
            detail={"reason": reason.name, **({"was": before.name} if before is not None else {})},
        )
        return key, None if before is None else before.name


def _get(engine: Engine, reason_id: int) -> Reason:
    return next(reason for reason in catalogue(engine) if reason.id == reason_id)
