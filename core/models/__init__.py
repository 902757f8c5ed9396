"""Typed SQLAlchemy 2.0 models: the one schema every page reads.

Timestamps are naive UTC. Columns marked "derived" are computed when rows are
written (see core.funnel.derived) so that KPI queries aggregate plain columns instead of
doing timezone and business-hour arithmetic per row at query time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class Lead(Base):
    __tablename__ = "leads"

    lead_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(255))
    company_size: Mapped[int | None] = mapped_column(Integer)
    industry: Mapped[str | None] = mapped_column(String(128))
    country: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(255))
    seniority: Mapped[str | None] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str | None] = mapped_column(String(255))
    score: Mapped[int | None] = mapped_column(Integer)
    intent_signal: Mapped[str | None] = mapped_column(String(128))
    mql_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sql_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rejected_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rejection_reason: Mapped[str | None] = mapped_column(String(255))
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    owner: Mapped[str | None] = mapped_column(String(128))
    touch_attempts: Mapped[int | None] = mapped_column(Integer)
    # derived
    created_day: Mapped[dt.date] = mapped_column(Date)
    mql_day: Mapped[dt.date | None] = mapped_column(Date)
    response_minutes: Mapped[float | None] = mapped_column(Float)
    sla_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rejected_day: Mapped[dt.date | None] = mapped_column(Date)
    # The rejection reason folded (core.reasons.fold); NULL when nothing is left of it. The catalogue maps
    # keys to canonical reasons at query time, so editing the catalogue never rewrites leads.
    reason_key: Mapped[str | None] = mapped_column(String(255))
    # Provenance only, not a foreign key: a per-row constraint check costs a fifth of a million-row
    # import, and import runs are never deleted.
    import_id: Mapped[int | None] = mapped_column(Integer)
    # The fields the imports that wrote this row carried, one bit each (core.coverage).
    carried: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        # Covers the median response time of a cohort, total or by source: the median reads the index alone.
        Index("ix_leads_mql_day_source_response", "mql_day", "source", "response_minutes"),
        Index("ix_leads_created_day", "created_day"),
        Index("ix_leads_owner", "owner"),
        # The rejected leads only, with every column the Rejections page groups, filters or counts by and the
        # fields its reason profiles test: its queries read this index alone (migration 0017).
        Index(
            "ix_leads_rejections",
            "rejected_day",
            "reason_key",
            "source",
            "campaign",
            "owner",
            "company_size",
            "touch_attempts",
            "mql_at",
            "carried",
            "industry",
            "country",
            "seniority",
            sqlite_where=text("rejected_day IS NOT NULL"),
            postgresql_where=text("rejected_day IS NOT NULL"),
        ),
        # The leads sales accepted, by MQL day: the reason profiles compare the rejected leads with these.
        Index(
            "ix_leads_accepted",
            "mql_day",
            "source",
            "campaign",
            "owner",
            "company_size",
            "industry",
            "country",
            "seniority",
            sqlite_where=text("sql_at IS NOT NULL"),
            postgresql_where=text("sql_at IS NOT NULL"),
        ),
        # The unanswered leads by due time: a view splits them into SLA breached and pending "now" from these
        # few rows, while the counts of everything else are kept per day (core.models.rollups).
        Index(
            "ix_leads_unanswered_due",
            "sla_due_at",
            sqlite_where=text("first_response_at IS NULL"),
            postgresql_where=text("first_response_at IS NULL"),
        ),
    )


class Opportunity(Base):
    __tablename__ = "opportunities"

    opportunity_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Not a foreign key: CRM exports arrive in any order and an opportunity may have no lead.
    lead_id: Mapped[str | None] = mapped_column(String(128), index=True)
    account: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    stage: Mapped[str | None] = mapped_column(String(128))
    amount: Mapped[float | None] = mapped_column(Float)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    is_won: Mapped[bool | None] = mapped_column(Boolean)
    origin: Mapped[str | None] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(128))
    # derived
    created_day: Mapped[dt.date] = mapped_column(Date, index=True)
    closed_day: Mapped[dt.date | None] = mapped_column(Date, index=True)
    cycle_days: Mapped[float | None] = mapped_column(Float)
    import_id: Mapped[int | None] = mapped_column(Integer)  # provenance, see Lead.import_id
    carried: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # see Lead.carried


class Touch(Base):
    __tablename__ = "touches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # '' rather than NULL so that the natural key can be a plain unique constraint.
    lead_id: Mapped[str] = mapped_column(String(128), default="")
    opportunity_id: Mapped[str] = mapped_column(String(128), default="")
    touched_at: Mapped[dt.datetime] = mapped_column(DateTime)
    channel: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str | None] = mapped_column(String(255))
    touch_type: Mapped[str | None] = mapped_column(String(64))
    import_id: Mapped[int | None] = mapped_column(Integer)  # provenance, see Lead.import_id

    __table_args__ = (
        UniqueConstraint("lead_id", "opportunity_id", "touched_at", "channel", name="uq_touches_key"),
        # The touches of a deal only (a few in a hundred carry one): keeping every touch's '' in order cost an
        # import of millions of touches most of its merge. Queries by deal say `opportunity_id <> ''` to use it.
        Index(
            "ix_touches_opportunity",
            "opportunity_id",
            "touched_at",
            sqlite_where=text("opportunity_id <> ''"),
            postgresql_where=text("opportunity_id <> ''"),
        ),
    )


class Spend(Base):
    __tablename__ = "spend"

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount: Mapped[float] = mapped_column(Float)
    import_id: Mapped[int | None] = mapped_column(Integer)  # provenance, see Lead.import_id


class Target(Base):
    __tablename__ = "targets"

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    import_id: Mapped[int | None] = mapped_column(Integer)  # provenance, see Lead.import_id


class AttributionCredit(Base):
    """Each won opportunity's credit per channel under each attribution model (core.funnel.attribution):
    written in the transaction of the import that changed the deal or its touches, so that a view sums
    credits instead of ranking every touch. The credits of one deal and model add up to 1."""

    __tablename__ = "attribution_credits"

    opportunity_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    credit: Mapped[float] = mapped_column(Float)


class FilterValue(Base):
    """The values the pickers offer for a lead field (core.funnel.segments.filter_options): written in each
    import's transaction, so that opening a page does not scan every lead for its distinct values. A blank
    is stored as the pickers show it, "(not set)"."""

    __tablename__ = "filter_values"

    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128))


class ImportRun(Base):
    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    mapping_name: Mapped[str | None] = mapped_column(String(128))
    # The mapping's content (not its name, which an edit keeps): a file is "unchanged" only read the same way.
    mapping_sha256: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime)
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_skipped: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SavedMapping(Base):
    __tablename__ = "saved_mappings"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128))


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_key: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CalendarDay(Base):
    """One row per day so that week/month/quarter bucketing is a join on any database."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    week_start: Mapped[dt.date] = mapped_column(Date)
    month_start: Mapped[dt.date] = mapped_column(Date)
    quarter_start: Mapped[dt.date] = mapped_column(Date)
    days_in_month: Mapped[int] = mapped_column(Integer)


class User(Base):
    """A person who signs in. The password is a bcrypt hash; wrong passwords are rows of `LoginFailure`,
    not a counter here, so that a lockout holds across sessions and replicas."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Login cookies issued before this moment are refused (logout, password change, deactivation).
    sessions_valid_after: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # A demo account (core.admin.demo): its password is in the README, so it signs in in demo mode only.
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class LoginFailure(Base):
    """One wrong password. Rows rather than a counter, so that two wrong passwords at once both count; the lock
    is a sliding window over them (core.admin.logins). Never deleted: a sign-in, a new password or an admin's unlock
    marks the rows of the window cleared, and by whom."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The user name tried, or for a name that is no account a digest of it (core.admin.logins.failure_key); no foreign
    # key, because names that are no account are counted too.
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    via: Mapped[str] = mapped_column(String(16))  # sign_in, change_password, or migrated (from the old counter)
    # Where the try came from: a keyed digest of the client's address (core.admin.logins.client_key), never the address.
    client: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cleared_by: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)


class DefinitionVersion(Base):
    """One version of a written definition (icp, mql, sql, stages, sla). Never deleted: a replaced
    version is superseded, a refused one rejected. `revision` counts edits of a proposal; sign-offs are
    for one revision, so an edit needs them again."""

    __tablename__ = "definition_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 … per kind, as people cite it ("MQL v4")
    state: Mapped[str] = mapped_column(String(16))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    prose: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(128))
    based_on: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # superseded or rejected
    # What the proposer measured to back it, e.g. a sandbox trial's figures (core.sandbox.proposals); None for most.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Optimistic lock: every UPDATE checks and bumps it, so two writers that read the same row cannot both
    # win, on SQLite too, where SELECT … FOR UPDATE does nothing.
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 — SQLAlchemy's declarative attribute

    __table_args__ = (
        UniqueConstraint("kind", "number", name="uq_definition_versions_kind_number"),
        # The database, not the code, keeps one active version per kind, also under concurrent sign-offs.
        Index(
            "uq_definition_versions_one_active",
            "kind",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )


class DefinitionSignoff(Base):
    """A lead's approval or rejection of one revision of a version, for their team's side."""

    __tablename__ = "definition_signoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"))
    revision: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(16))  # marketing or sales
    decision: Mapped[str] = mapped_column(String(16))  # approve or reject
    signer: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        # One sign-off per side and revision: a double click or two tabs cannot sign twice.
        UniqueConstraint("version_id", "revision", "side", name="uq_definition_signoffs_once"),
    )


class RejectionReason(Base):
    """A canonical rejection reason of the catalogue ops keep. Never deleted: people cite the names."""

    __tablename__ = "rejection_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # targeting, qualification, timing, data or follow_up: what kind of fix a reason asks for.
    category: Mapped[str] = mapped_column(String(32))
    # The lead field a targeting reason is about (company_size, industry, country, seniority), for the ICP
    # comparison; NULL for reasons no lead field explains.
    lead_field: Mapped[str | None] = mapped_column(String(32))
    # Whether the SLA's minimum touch attempts apply before sales may use this reason (not for a duplicate
    # or a competitor, which the record itself shows).
    attempts_required: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128))


class ReasonSynonym(Base):
    """A folded spelling (core.reasons.fold) and the canonical reason it means."""

    __tablename__ = "reason_synonyms"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    reason_id: Mapped[int] = mapped_column(ForeignKey("rejection_reasons.id"), index=True)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    added_by: Mapped[str] = mapped_column(String(128))


class SurveyRound(Base):
    """One round of the misalignment self-diagnostic: open from opens_on to closes_on (organisation days, both
    included), or until ops close it early (closed_on). Rounds do not overlap, so "the current round" is one."""

    __tablename__ = "survey_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    # Closed early: the organisation's day it was closed (its last day of answers), and when and by whom.
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))


class SurveyResponse(Base):
    """One person's answer to a round. A changed answer supersedes the earlier row instead of overwriting it
    (nothing is deleted); the partial unique index keeps one answer in force per person per round. The
    respondent is stored so that they can change their answer; results never show it."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id"))
    respondent: Mapped[str] = mapped_column(String(128))
    team: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index(
            "uq_survey_responses_in_force",
            "round_id",
            "respondent",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )


class SurveyAnswer(Base):
    """A response's agreement (1-5) with one statement; the area is stored so old rounds keep their grouping."""

    __tablename__ = "survey_answers"

    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id"), primary_key=True)
    statement: Mapped[str] = mapped_column(String(64), primary_key=True)
    area: Mapped[str] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(Integer)


class SandboxTrial(Base):
    """One person's trial of thresholds: their own copy of leads (an upload, or the stored leads of a period),
    kept SANDBOX_DAYS after its last use so it can be reopened, its rows removed when it is deleted."""

    __tablename__ = "sandbox_trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # "upload" or "stored"
    file_name: Mapped[str | None] = mapped_column(String(255))
    mapping_name: Mapped[str | None] = mapped_column(String(128))
    rows: Mapped[int] = mapped_column(Integer)
    first_day: Mapped[dt.date | None] = mapped_column(Date)
    last_day: Mapped[dt.date | None] = mapped_column(Date)
    as_of: Mapped[dt.datetime] = mapped_column(DateTime)  # the moment the data was taken: unanswered MQLs wait until it
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(128))


class SandboxLead(Base):
    """A lead of a trial, reduced to what the knobs and outcomes need. Never read by the shared numbers."""

    __tablename__ = "sandbox_leads"

    trial_id: Mapped[int] = mapped_column(ForeignKey("sandbox_trials.id"), primary_key=True)
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(128))
    created_day: Mapped[dt.date] = mapped_column(Date)
    month: Mapped[dt.date] = mapped_column(Date)
    company_size: Mapped[int | None] = mapped_column(Integer)
    industry: Mapped[str | None] = mapped_column(String(128))
    country: Mapped[str | None] = mapped_column(String(128))
    seniority: Mapped[str | None] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(128))
    score: Mapped[int | None] = mapped_column(Integer)
    intent_signal: Mapped[str | None] = mapped_column(String(128))
    owner: Mapped[str | None] = mapped_column(String(128))
    mql_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    was_mql: Mapped[bool] = mapped_column(Boolean)
    is_sql: Mapped[bool] = mapped_column(Boolean)
    is_rejected: Mapped[bool] = mapped_column(Boolean)
    # Minutes from the MQL to the first response, both ways of counting; unanswered: to the trial's as_of.
    response_business_minutes: Mapped[float | None] = mapped_column(Float)
    response_calendar_minutes: Mapped[float | None] = mapped_column(Float)
    wait_business_minutes: Mapped[float | None] = mapped_column(Float)
    wait_calendar_minutes: Mapped[float | None] = mapped_column(Float)


class SyncMeeting(Base):
    """One week's sync (core.alignment.sync): notes per section, attendees, and its actions. Editable until closed."""

    __tablename__ = "sync_meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    week: Mapped[dt.date] = mapped_column(Date, unique=True)  # Monday of the ISO week
    status: Mapped[str] = mapped_column(String(16))  # "open" or "closed"
    notes: Mapped[dict[str, Any]] = mapped_column(JSON)
    attendees: Mapped[list[str]] = mapped_column(JSON)
    numbers: Mapped[dict[str, Any]] = mapped_column(JSON)  # the agenda's lines per section, kept at the close
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))


class SyncAction(Base):
    """A next action of one team, from a weekly sync; carried over, it is copied into the next meeting."""

    __tablename__ = "sync_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("sync_meetings.id"), index=True)
    team: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(128))
    due: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # open, done, carried over, dropped
    carried_from: Mapped[int | None] = mapped_column(Integer)  # the earlier action this one continues
    reviewed_in: Mapped[int | None] = mapped_column(Integer)  # the meeting that marked it done/carried/dropped
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128))


# The counts kept beside the rows at import share the metadata (migrations compare against it).
from core.models.rollups import (  # noqa: E402, F401
    CreatedDayFacts,
    DealDayFacts,
    MaturityLag,
    MqlDayFacts,
    PeriodMedian,
)
