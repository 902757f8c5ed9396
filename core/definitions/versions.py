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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core import audit
from core.db import must_retry, read_scope, retrying, session_scope
from core.formats import SENIORITIES
from core.funnel.derived import store_settings
from core.models import DefinitionSignoff, DefinitionVersion, utcnow
from core.permissions import Actor, PermissionDenied, require

Kind = Literal["icp", "mql", "sql", "stages", "sla"]
KINDS: tuple[Kind, ...] = ("icp", "mql", "sql", "stages", "sla")
_KIND_LOCK_ID = 4_242_010  # pg_advisory_xact_lock(this, kind's index): one numbering or activation per kind
State = Literal["draft", "proposed", "active", "superseded", "rejected"]
Side = Literal["marketing", "sales"]
# Which side of the sign-off each lead role gives.
SIDES: dict[str, Side] = {"marketing_lead": "marketing", "sales_lead": "sales"}
OPEN_STATES = ("draft", "proposed")


class DefinitionError(ValueError):
    """A definition or a step that cannot be taken, with the reason; nothing was changed."""


class DefinitionConflict(DefinitionError):
    """Someone else changed the same definition at the same moment; nothing was changed."""


def _names(values: list[str]) -> list[str]:
    cleaned = [value.strip() for value in values if value and value.strip()]
    return list(dict.fromkeys(cleaned))


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IcpRules(_Rules):
    company_size_min: int | None = Field(default=None, ge=0)
    company_size_max: int | None = Field(default=None, ge=0)
    industries: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)

    @field_validator("industries", "countries")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return _names(value)

    @model_validator(mode="after")
    def _range(self) -> IcpRules:
        low, high = self.company_size_min, self.company_size_max
        if low is not None and high is not None and low > high:
            raise ValueError(f"the company-size range starts ({low}) above where it ends ({high})")
        return self


class MqlRules(_Rules):
    icp_fit_required: bool = True
    seniorities: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    score_threshold: int = Field(default=50, ge=0, le=100)
    intent_signals: list[str] = Field(default_factory=list)

    @field_validator("departments", "intent_signals")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return _names(value)

    @field_validator("seniorities")
    @classmethod
    def _known_seniorities(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip().lower() for item in value]
        unknown = [item for item in cleaned if item not in SENIORITIES]
        if unknown:
            raise ValueError(f"unknown seniorities {', '.join(unknown)}; expected some of {', '.join(SENIORITIES)}")
        return list(dict.fromkeys(cleaned))


class SqlRules(_Rules):
    criteria: list[str] = Field(default_factory=lambda: ["confirmed need", "budget access", "timeline"])

    @field_validator("criteria")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return _names(value)


class Stage(_Rules):
    name: str = Field(min_length=1)
    entry: str = ""
    exit: str = ""


class StagesRules(_Rules):
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> StagesRules:
        names = [stage.name.strip().casefold() for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("each stage name must appear once")
        return self


class SlaRules(_Rules):
    response_hours: float = Field(default=4.0, gt=0)
    business_hours: bool = True
    min_touch_attempts: int = Field(default=6, ge=0)
    min_touch_days: int = Field(default=14, ge=0)
    monthly_mql_target: int | None = Field(default=None, ge=0)
    conversion_gate: float = Field(default=0.30, ge=0, le=1)
    rejection_gate: float = Field(default=0.30, ge=0, le=1)
    review_interval_days: int = Field(default=90, gt=0)


RULES: dict[str, type[_Rules]] = {
    "icp": IcpRules,
    "mql": MqlRules,
    "sql": SqlRules,
    "stages": StagesRules,
    "sla": SlaRules,
}


def validate_rules(kind: str, rules: dict[str, Any]) -> dict[str, Any]:
    """The rules in their stored form, or DefinitionError naming every problem."""
    model = RULES.get(kind)
    if model is None:
        raise DefinitionError(f"unknown definition kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        return model.model_validate(rules).model_dump(mode="json")
    except ValidationError as exc:
        reasons = "; ".join(
            (f"{'.'.join(str(part) for part in error['loc'])}: " if error["loc"] else "")
            + str(error["msg"]).removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise DefinitionError(f"the {kind} rules are not valid: {reasons}") from exc


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
        return f"{self.kind.upper()} v{self.number}"

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
        version = _locked(session, version_id)
        if version.state != "proposed":
            raise DefinitionError(f"{version.kind} v{version.number} is {version.state}; only a proposal is signed")
        _same_revision(version, revision)
        if _signed_by(session, version, side):
            raise DefinitionError(f"the {side} side has already signed revision {version.revision}")
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
        version = _locked(session, version_id)
        if version.state != "proposed":
            raise DefinitionError(f"{version.kind} v{version.number} is {version.state}; only a proposal is rejected")
        _same_revision(version, revision)
        if _signed_by(session, version, side):
            raise DefinitionError(f"the {side} side has already signed revision {version.revision}")
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


def _listed(values: list[str]) -> str:
    return ", ".join(values) if values else "any"


def describe(kind: str, rules: dict[str, Any]) -> list[str]:
    """A version's rules as the sentences a person reads on the one-pager."""
    if kind == "icp":
        icp = IcpRules.model_validate(rules)
        low, high = icp.company_size_min, icp.company_size_max
        size = (
            "any size"
            if low is None and high is None
            else f"{low:,}–{high:,} employees"
            if low is not None and high is not None
            else f"at least {low:,} employees"
            if low is not None
            else f"at most {high:,} employees"
        )
        return [
            f"Company size: {size}",
            f"Industries: {_listed(icp.industries)}",
            f"Countries: {_listed(icp.countries)}",
        ]
    if kind == "mql":
        mql = MqlRules.model_validate(rules)
        signal = f"Score of {mql.score_threshold} or more"
        if mql.intent_signals:
            signal += f", or an intent signal: {', '.join(mql.intent_signals)}"
        return [
            signal,
            "Must fit the ICP" if mql.icp_fit_required else "ICP fit not required",
            f"Seniority: {_listed(mql.seniorities)}",
            f"Department: {_listed(mql.departments)}",
        ]
    if kind == "sql":
        return [f"Sales confirms: {criterion}" for criterion in SqlRules.model_validate(rules).criteria]
    if kind == "stages":
        return [
            f"{position}. {stage.name}"
            + (f" — enters when {stage.entry}" if stage.entry else "")
            + (f"; leaves when {stage.exit}" if stage.exit else "")
            for position, stage in enumerate(StagesRules.model_validate(rules).stages, start=1)
        ]
    sla = SlaRules.model_validate(rules)
    return [
        f"First response within {sla.response_hours:g} {'business' if sla.business_hours else 'calendar'} hours",
        f"At least {sla.min_touch_attempts} touch attempts over {sla.min_touch_days} days before a rejection",
        f"MQL→SQL conversion gate {sla.conversion_gate:.0%}; rejection-share gate {sla.rejection_gate:.0%}",
        "Monthly MQL target: "
        + (f"{sla.monthly_mql_target:,}" if sla.monthly_mql_target is not None else "from the targets table"),
        f"Reviewed every {sla.review_interval_days} days",
    ]


def diff(kind: str, left: dict[str, Any], right: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(rule, left value, right value, changed) for every rule of two versions of one kind."""
    model = RULES[kind]
    a, b = model.model_validate(left).model_dump(mode="json"), model.model_validate(right).model_dump(mode="json")

    def shown(value: Any) -> str:
        if isinstance(value, list):
            return "; ".join(shown(item) for item in value) or "—"
        if isinstance(value, dict):
            return " / ".join(str(item) for item in value.values() if item not in ("", None))
        return "—" if value is None else str(value)

    return [(name, shown(a[name]), shown(b[name]), a[name] != b[name]) for name in model.model_fields]
