"""Written, versioned definitions (ICP, MQL, SQL, stages, SLA) that both leads sign off.

A version is drafted or proposed by anyone who may propose, edited until it is decided (an edit starts a
new revision and voids the sign-offs of the old one), and becomes active only once the marketing lead
and the sales lead have both approved the same revision; either may reject it with a comment. The
version it replaces is superseded. Nothing is deleted and every step is in the audit log.

One active version per kind is kept by a partial unique index, so two final approvals of different
proposals arriving at the same moment cannot both win: the second gets a DefinitionConflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core import audit
from core.db import must_retry, read_scope, retrying, session_scope
from core.definitions.rules import KIND_NAMES, KINDS, DefinitionError, Kind, SlaRules, validate_rules
from core.funnel.derived import store_settings
from core.models import DefinitionSignoff, DefinitionVersion, utcnow
from core.permissions import Actor, PermissionDenied, require

_KIND_LOCK_ID = 4_242_010  # pg_advisory_xact_lock(this, kind's index): one numbering or activation per kind
State = Literal["draft", "proposed", "active", "superseded", "rejected"]
Side = Literal["marketing", "sales"]
# Which side of the sign-off each lead role gives.
SIDES: dict[str, Side] = {"marketing_lead": "marketing", "sales_lead": "sales"}
OPEN_STATES = ("draft", "proposed")


class DefinitionConflict(DefinitionError):
    """Someone else changed the same definition at the same moment; nothing was changed."""


@dataclass(frozen=True)
class Signoff:
    side: Side
    decision: Literal["approve", "reject"]
    signer: str
    comment: str
    revision: int
    at: dt.datetime


@dataclass(frozen=True)
class VersionInfo:
    id: int
    kind: Kind
    number: int
    state: State
    rules: dict[str, Any]
    prose: str
    author: str
    based_on: int | None
    revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    activated_at: dt.datetime | None
    closed_at: dt.datetime | None
    signoffs: tuple[Signoff, ...] = ()
    evidence: dict[str, Any] | None = None  # what the proposer measured, e.g. a sandbox trial's figures

    @property
    def label(self) -> str:
        return f"{KIND_NAMES[self.kind]} v{self.number}"

    def approved_by(self) -> set[Side]:
        """The sides that approved the current revision."""
        return {s.side for s in self.signoffs if s.revision == self.revision and s.decision == "approve"}


def _info(session: Session, version: DefinitionVersion) -> VersionInfo:
    signoffs = session.scalars(
        select(DefinitionSignoff).where(DefinitionSignoff.version_id == version.id).order_by(DefinitionSignoff.id)
    )
    return VersionInfo(
        version.id,
        version.kind,  # type: ignore[arg-type]
        version.number,
        version.state,  # type: ignore[arg-type]
        dict(version.rules),
        version.prose,
        version.author,
        version.based_on,
        version.revision,
        version.created_at,
        version.updated_at,
        version.activated_at,
        version.closed_at,
        tuple(
            Signoff(s.side, s.decision, s.signer, s.comment, s.revision, s.at)  # type: ignore[arg-type]
            for s in signoffs
        ),
        dict(version.evidence) if version.evidence else None,
    )


def _locked(session: Session, version_id: int) -> DefinitionVersion:
    """The version, row-locked on PostgreSQL so that concurrent sign-offs of it take turns."""
    version = session.scalar(select(DefinitionVersion).where(DefinitionVersion.id == version_id).with_for_update())
    if version is None:
        raise DefinitionError(f"no definition version {version_id}")
    return version


@contextmanager
def _one_writer_wins() -> Iterator[None]:
    """Another writer changed the version between our read and our write: a clear conflict, nothing half-done.

    PostgreSQL row locks make most of these wait instead; SQLite has none, so the row version (or SQLite's
    own refusal of a stale write transaction) is what catches them there.
    """
    try:
        yield
    except (IntegrityError, StaleDataError) as exc:
        raise DefinitionConflict(
            "someone changed or signed this definition at the same moment; nothing was changed, read it again"
        ) from exc
    except OperationalError as exc:
        # Only SQLite's busy timeout running out; a PostgreSQL deadlock ("… blocked by process …") goes up to
        # `retrying`, which runs the sign-off again.
        if must_retry(exc) or "database is locked" not in str(exc.orig).lower():
            raise
        raise DefinitionConflict("the definition is being changed by someone else; try again in a moment") from exc


def _open_to_sign(session: Session, version_id: int, side: Side, revision: int | None, verb: str) -> DefinitionVersion:
    """The proposal, row-locked, that this side may still sign (approve or reject) at the revision it read."""
    version = _locked(session, version_id)
    if version.state != "proposed":
        raise DefinitionError(f"{version.kind} v{version.number} is {version.state}; only a proposal is {verb}")
    _same_revision(version, revision)
    if _signed_by(session, version, side):
        raise DefinitionError(f"the {side} side has already signed revision {version.revision}")
    return version


def _same_revision(version: DefinitionVersion, seen: int | None) -> None:
    """A sign-off or edit is for the text the person read: refuse it if the proposal changed since."""
    if seen is not None and seen != version.revision:
        raise DefinitionConflict(
            f"{version.kind} v{version.number} was edited since you read it (now revision {version.revision}); "
            "read it again before you sign"
        )


def _record(session: Session, actor: Actor, action: str, version: DefinitionVersion, **detail: Any) -> None:
    audit.record(
        session,
        actor=actor.username,
        action=action,
        entity="definition",
        entity_key=f"{version.kind} v{version.number}",
        detail={"version_id": version.id, "revision": version.revision, "state": version.state, **detail},
    )


@retrying
def propose(
    engine: Engine,
    actor: Actor,
    kind: str,
    rules: dict[str, Any],
    prose: str = "",
    *,
    based_on: int | None = None,
    draft: bool = False,
    evidence: dict[str, Any] | None = None,
) -> VersionInfo:
    """A new version of `kind`, proposed for sign-off (or kept as a draft), with what backs it if given."""
    require(actor, "propose_definition")
    stored = validate_rules(kind, rules)
    with session_scope(engine) as session:
        _one_writer_per_kind(session, kind)
        number = (
            session.scalar(select(func.max(DefinitionVersion.number)).where(DefinitionVersion.kind == kind)) or 0
        ) + 1
        now = utcnow()
        version = DefinitionVersion(
            kind=kind,
            number=number,
            state="draft" if draft else "proposed",
            rules=stored,
            prose=prose.strip(),
            author=actor.username,
            based_on=based_on,
            revision=1,
            created_at=now,
            updated_at=now,
            evidence=evidence,
        )
        session.add(version)
        try:
            session.flush()
        except IntegrityError as exc:
            raise DefinitionConflict(f"someone proposed {kind} v{number} at the same moment; try again") from exc
        _record(session, actor, "draft" if draft else "propose", version, rules=stored, prose=version.prose)
        return _info(session, version)


@retrying
def edit(
    engine: Engine, actor: Actor, version_id: int, rules: dict[str, Any], prose: str, *, revision: int | None = None
) -> VersionInfo:
    """Changes an open version. Its sign-offs so far were for the old text: both are needed again."""
    require(actor, "propose_definition")
    with _one_writer_wins(), session_scope(engine) as session:
        version = _locked(session, version_id)
        _same_revision(version, revision)
        stored = validate_rules(version.kind, rules)
        if version.state not in OPEN_STATES:
            raise DefinitionError(f"{version.kind} v{version.number} is {version.state}; only an open proposal changes")
        before = {"rules": dict(version.rules), "prose": version.prose}
        version.rules, version.prose = stored, prose.strip()
        if version.evidence is not None and stored != before["rules"]:
            version.evidence = None  # its figures were measured for the old rules
        version.revision += 1
        version.updated_at = utcnow()
        _record(session, actor, "edit", version, before=before, after={"rules": stored, "prose": version.prose})
        return _info(session, version)


@retrying
def submit(engine: Engine, actor: Actor, version_id: int) -> VersionInfo:
    """A draft goes up for sign-off."""
    require(actor, "propose_definition")
    with _one_writer_wins(), session_scope(engine) as session:
        version = _locked(session, version_id)
        if version.state != "draft":
            raise DefinitionError(f"{version.kind} v{version.number} is {version.state}, not a draft")
        version.state = "proposed"
        version.updated_at = utcnow()
        _record(session, actor, "propose", version)
        return _info(session, version)


def _signed_by(session: Session, version: DefinitionVersion, side: Side) -> bool:
    signed = select(DefinitionSignoff.id).where(
        DefinitionSignoff.version_id == version.id,
        DefinitionSignoff.revision == version.revision,
        DefinitionSignoff.side == side,
    )
    return session.scalar(signed) is not None


def _sign(
    session: Session,
    version: DefinitionVersion,
    side: Side,
    decision: str,
    actor: Actor,
    comment: str,
    now: dt.datetime,
) -> None:
    session.add(
        DefinitionSignoff(
            version_id=version.id,
            revision=version.revision,
            side=side,
            decision=decision,
            signer=actor.username,
            comment=comment,
            at=now,
        )
    )
    session.flush()  # the unique sign-off constraint speaks here, inside the conflict handling


def _side(actor: Actor) -> Side:
    require(actor, "approve_definition")
    side = SIDES.get(actor.role)
    if side is None:  # a role granted approve_definition without a side would be a configuration error
        raise PermissionDenied(f"{actor.username} ({actor.role}) signs for no team")
    return side


def _one_writer_per_kind(session: Session, kind: str) -> None:
    """PostgreSQL: two proposals of one kind getting their last sign-off at once take turns, so the later one
    finds the earlier already in force and supersedes it, as it would a minute later. Without this both would
    see the same old version, and the database's one-active-per-kind index would refuse the second. Two new
    proposals of one kind likewise take turns for their numbers. (SQLite's write transactions already do.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:lock, :kind)"), {"lock": _KIND_LOCK_ID, "kind": KINDS.index(kind)}
        )


@retrying
def approve(
    engine: Engine, actor: Actor, version_id: int, *, revision: int | None = None, now: dt.datetime | None = None
) -> VersionInfo:
    """The lead's approval of the current revision for their side; with both sides in, the version becomes
    active and the one it replaces is superseded, in the same transaction."""
    side = _side(actor)
    now = now or utcnow()
    with _one_writer_wins(), session_scope(engine) as session:
        version = _open_to_sign(session, version_id, side, revision, "signed")
        _sign(session, version, side, "approve", actor, "", now)
        _record(session, actor, "approve", version, side=side)
        sides = set(
            session.scalars(
                select(DefinitionSignoff.side).where(
                    DefinitionSignoff.version_id == version.id,
                    DefinitionSignoff.revision == version.revision,
                    DefinitionSignoff.decision == "approve",
                )
            )
        )
        if sides == {"marketing", "sales"}:
            _one_writer_per_kind(session, version.kind)
            replaced = session.scalar(
                select(DefinitionVersion)
                .where(DefinitionVersion.kind == version.kind, DefinitionVersion.state == "active")
                .with_for_update()
            )
            if replaced is not None:
                replaced.state, replaced.closed_at, replaced.updated_at = "superseded", now, now
                _record(session, actor, "supersede", replaced, by=version.id)
                session.flush()
            version.state, version.activated_at, version.updated_at = "active", now, now
            session.flush()
            _record(session, actor, "activate", version, replaces=replaced.id if replaced else None)
            if version.kind == "sla":
                _put_sla_in_force(session, version, actor)
        return _info(session, version)


# SLA rule -> the organisation setting the KPI engine and the derived response times read.
_SLA_SETTINGS = {
    "response_hours": "sla_hours",
    "business_hours": "sla_business_hours",
    "min_touch_attempts": "min_touch_attempts",
    "min_touch_days": "min_touch_days",
    "conversion_gate": "conversion_gate",
    "rejection_gate": "rejection_gate",
    "review_interval_days": "review_interval_days",
}


def _put_sla_in_force(session: Session, version: DefinitionVersion, actor: Actor) -> None:
    """The signed SLA's hours and gates become the settings every number is counted by, in the same
    transaction as the activation; response deadlines are recomputed for every stored lead."""
    rules = SlaRules.model_validate(version.rules)
    changes = {setting: getattr(rules, rule) for rule, setting in _SLA_SETTINGS.items()}
    store_settings(session, changes, actor_name=f"{actor.username} (signed {version.kind} v{version.number})")


@dataclass(frozen=True)
class Review:
    version: VersionInfo
    due: dt.date

    def overdue(self, today: dt.date) -> bool:
        """`today` in the organisation's timezone; the due day counts as on time."""
        return today > self.due


def sla_review(engine: Engine) -> Review | None:
    """When the active SLA is due for its review (its review interval after activation); None before one is signed."""
    version = active(engine, "sla")
    if version is None or version.activated_at is None:
        return None
    interval = SlaRules.model_validate(version.rules).review_interval_days
    return Review(version, version.activated_at.date() + dt.timedelta(days=interval))


@retrying
def reject(engine: Engine, actor: Actor, version_id: int, comment: str, *, revision: int | None = None) -> VersionInfo:
    """Either lead refuses a proposal, saying why; it is closed and kept."""
    side = _side(actor)
    if not comment.strip():
        raise DefinitionError("a rejection needs a comment saying why")
    with _one_writer_wins(), session_scope(engine) as session:
        version = _open_to_sign(session, version_id, side, revision, "rejected")
        now = utcnow()
        _sign(session, version, side, "reject", actor, comment.strip(), now)
        version.state, version.closed_at, version.updated_at = "rejected", now, now
        _record(session, actor, "reject", version, side=side, comment=comment.strip())
        return _info(session, version)


def active(engine: Engine, kind: str) -> VersionInfo | None:
    with read_scope(engine) as session:
        version = session.scalar(
            select(DefinitionVersion).where(DefinitionVersion.kind == kind, DefinitionVersion.state == "active")
        )
        return None if version is None else _info(session, version)


def versions(engine: Engine, kind: str | None = None) -> list[VersionInfo]:
    """Every version, newest first within each kind."""
    with read_scope(engine) as session:
        query = select(DefinitionVersion).order_by(DefinitionVersion.kind, DefinitionVersion.number.desc())
        if kind is not None:
            query = query.where(DefinitionVersion.kind == kind)
        return [_info(session, version) for version in session.scalars(query)]


def get(engine: Engine, version_id: int) -> VersionInfo:
    with read_scope(engine) as session:
        version = session.get(DefinitionVersion, version_id)
        if version is None:
            raise DefinitionError(f"no definition version {version_id}")
        return _info(session, version)
