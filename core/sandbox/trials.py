"""The threshold sandbox: try MQL and SLA settings on a private copy of leads before proposing them.

A trial is one person's: the stored leads of a period (read, never written) or an uploaded CSV mapped and
validated like the Data page's, copied into `sandbox_leads` under the trial's id. Nothing a trial does
touches the shared tables; deleting a trial removes its rows. Every outcome is counted in SQL over the
trial's rows; the knobs only change the WHERE and CASE expressions.

The outcomes compare two rules on the same leads: the active definition and the knobs. A rule qualifies a
lead or not (core.replay.qualifies); volume is counted by the month the lead was created. Leads the
recorded rule never passed to sales have no SQL and no response: they count as not converted, and the
SLA is judged only on the leads that were MQLs (the page says so).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    not_,
    or_,
    select,
    text,
    update,
)

from core.audit import record
from core.business_hours import BusinessClock, calendar_minutes_between
from core.db import read_scope, retrying, session_scope, write_from_here
from core.definitions import versions
from core.definitions.replay import fits_besides_score, intent_hit, qualifies
from core.definitions.versions import IcpRules, MqlRules, SlaRules, VersionInfo
from core.imports.importer import CHUNK_ROWS, ImportResult, ProgressCallback, bulk_insert, format_column, import_csv
from core.imports.mapping import Mapping
from core.models import Lead, SandboxLead, SandboxTrial, utcnow
from core.permissions import Actor, PermissionDenied, require
from core.settings import OrgSettings, current, load
from core.sql import count_if

KEEP_DAYS = 30  # a trial not opened for this long is removed
MAX_ROWS = 1_000_000
THRESHOLDS = range(0, 101)
LEADS_TABLE = cast(Table, SandboxLead.__table__)
TRIALS_TABLE = cast(Table, SandboxTrial.__table__)
SANDBOX_COLUMNS = [column.name for column in LEADS_TABLE.columns]
PROPOSABLE = ("icp", "mql", "sla")
# The knobs each definition kind owns: proposing a kind takes these from the knobs, the rest from what is in force.
KIND_KNOBS = {
    "icp": ("company_size_min", "company_size_max", "industries", "countries"),
    "mql": ("score_threshold", "icp_fit_required", "seniorities", "intent_signals", "departments"),
    "sla": ("sla_hours", "sla_business_hours", "conversion_gate", "rejection_gate"),
}
STAGE = "sandbox_stage"  # a trial's rows are written here (a temporary table) and moved in when the file is good


class SandboxError(ValueError):
    """A sandbox request that cannot be done as asked; nothing was changed."""


# ------------------------------------------------------------------ knobs


@dataclass(frozen=True)
class Knobs:
    """Everything a trial can change. Lists are tuples so that knobs can key a cache."""

    score_threshold: int = 50
    icp_fit_required: bool = True
    company_size_min: int | None = None
    company_size_max: int | None = None
    seniorities: tuple[str, ...] = ()
    intent_signals: tuple[str, ...] = ()
    sla_hours: float = 4.0
    sla_business_hours: bool = True
    conversion_gate: float = 0.30
    rejection_gate: float = 0.30
    # Capacity assumptions: minutes a rep spends on a first response, hours a day a rep gives new MQLs.
    minutes_per_response: float = 15.0
    rep_hours_per_day: float = 2.0
    # Kept from the definitions in force: the sandbox does not change them.
    industries: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        low, high = self.company_size_min, self.company_size_max
        if low is not None and high is not None and low > high:
            raise SandboxError(f"the company-size range starts ({low}) above where it ends ({high})")
        if not 0 <= self.score_threshold <= 100:
            raise SandboxError(f"the score threshold is from 0 to 100, not {self.score_threshold}")
        if self.sla_hours <= 0:
            raise SandboxError("the response SLA needs some hours")
        for name in ("conversion_gate", "rejection_gate"):
            if not 0 <= getattr(self, name) <= 1:
                raise SandboxError(f"the {name.replace('_', ' ')} is a share from 0 to 1")

    def mql(self) -> MqlRules:
        return MqlRules(
            icp_fit_required=self.icp_fit_required,
            seniorities=list(self.seniorities),
            departments=list(self.departments),
            score_threshold=self.score_threshold,
            intent_signals=list(self.intent_signals),
        )

    def icp(self) -> IcpRules:
        return IcpRules(
            company_size_min=self.company_size_min,
            company_size_max=self.company_size_max,
            industries=list(self.industries),
            countries=list(self.countries),
        )

    def sla(self, base: SlaRules | None = None) -> SlaRules:
        return (base or SlaRules()).model_copy(
            update={
                "response_hours": self.sla_hours,
                "business_hours": self.sla_business_hours,
                "conversion_gate": self.conversion_gate,
                "rejection_gate": self.rejection_gate,
            }
        )


def active_knobs(engine: Engine) -> Knobs:
    """The knobs as the definitions in force set them (defaults where none is signed)."""
    settings = current(engine)
    icp_version, mql_version = versions.active(engine, "icp"), versions.active(engine, "mql")
    icp = IcpRules.model_validate(icp_version.rules) if icp_version else IcpRules()
    mql = MqlRules.model_validate(mql_version.rules) if mql_version else MqlRules()
    return Knobs(
        score_threshold=mql.score_threshold,
        icp_fit_required=mql.icp_fit_required,
        company_size_min=icp.company_size_min,
        company_size_max=icp.company_size_max,
        seniorities=tuple(mql.seniorities),
        intent_signals=tuple(mql.intent_signals),
        sla_hours=settings.sla_hours,
        sla_business_hours=settings.sla_business_hours,
        conversion_gate=settings.conversion_gate,
        rejection_gate=settings.rejection_gate,
        industries=tuple(icp.industries),
        countries=tuple(icp.countries),
        departments=tuple(mql.departments),
    )


def changed_kinds(knobs: Knobs, baseline: Knobs) -> tuple[str, ...]:
    """Which definitions the knobs differ from: what a proposal would change."""
    kinds = []
    if knobs.icp() != baseline.icp():
        kinds.append("icp")
    if knobs.mql() != baseline.mql():
        kinds.append("mql")
    if knobs.sla() != baseline.sla():
        kinds.append("sla")
    return tuple(kinds)


# ------------------------------------------------------------------ trials


@dataclass(frozen=True)
class TrialInfo:
    id: int
    owner: str
    name: str
    source: str
    file_name: str | None
    rows: int
    first_day: dt.date | None
    last_day: dt.date | None
    as_of: dt.datetime
    created_at: dt.datetime
    last_used_at: dt.datetime

    def describe(self) -> str:
        span = f", {self.first_day:%d %b %Y} – {self.last_day:%d %b %Y}" if self.first_day and self.last_day else ""
        return f"{self.name} ({self.rows:,} leads{span})"


def _info(trial: SandboxTrial) -> TrialInfo:
    return TrialInfo(
        trial.id,
        trial.owner,
        trial.name,
        trial.source,
        trial.file_name,
        trial.rows,
        trial.first_day,
        trial.last_day,
        trial.as_of,
        trial.created_at,
        trial.last_used_at,
    )


def _may_use(actor: Actor) -> None:
    """Trying thresholds leads to proposing one: the roles that may propose a definition."""
    require(actor, "propose_definition")


def _trial_rows(frame: pd.DataFrame, settings: OrgSettings, first_row: int) -> pd.DataFrame:
    """Canonical lead fields (timestamps naive UTC) → the sandbox's columns, the response timed both ways.
    Unanswered MQLs are timed later, once the data's end is known (_stage_waits)."""
    empty = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    mql_at = pd.to_datetime(frame["mql_at"]) if "mql_at" in frame else empty
    response_at = pd.to_datetime(frame["first_response_at"]) if "first_response_at" in frame else empty
    local_created = (
        pd.to_datetime(frame["created_at"]).dt.tz_localize("UTC").dt.tz_convert(settings.timezone).dt.tz_localize(None)
    )
    out = pd.DataFrame(index=frame.index)
    out["row_no"] = np.arange(first_row, first_row + len(frame))
    out["lead_id"] = frame["lead_id"].astype(str)
    out["created_day"] = local_created.dt.floor("D")
    out["month"] = local_created.dt.to_period("M").dt.to_timestamp()
    for name in ("company_size", "industry", "country", "seniority", "department", "score", "intent_signal", "owner"):
        out[name] = frame.get(name)
    out["mql_at"] = mql_at
    out["was_mql"] = mql_at.notna()
    out["is_sql"] = frame["sql_at"].notna() if "sql_at" in frame else False
    out["is_rejected"] = frame["rejected_at"].notna() if "rejected_at" in frame else False
    answered = response_at.notna() & mql_at.notna()
    clock = BusinessClock(settings.business_calendar())
    business = pd.Series(clock.minutes_between(mql_at, response_at), index=frame.index)
    calendar = pd.Series(calendar_minutes_between(mql_at, response_at), index=frame.index)
    out["response_business_minutes"] = business.where(answered)
    out["response_calendar_minutes"] = calendar.where(answered)
    out["wait_business_minutes"] = np.nan
    out["wait_calendar_minutes"] = np.nan
    return out


def _kind_of(name: str) -> str:
    if name in ("created_day", "month"):
        return "date"
    if name == "mql_at":
        return "datetime"
    if name in ("company_size", "score", "row_no", "trial_id"):
        return "int"
    if name.endswith("_minutes"):
        return "float"
    return "object"


def _stage_open(connection: Connection) -> None:
    """A temporary table for the rows: on SQLite, writing it takes no lock on the database, so a long upload does
    not block everyone else's writes; the rows move into sandbox_leads in one statement at the end."""
    suffix = " ON COMMIT DROP" if connection.dialect.name == "postgresql" else ""
    connection.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    connection.execute(text(f"CREATE TEMPORARY TABLE {STAGE}{suffix} AS SELECT * FROM sandbox_leads WHERE 1 = 0"))
    # The unanswered MQLs' waits are updated by row number once the data's end is known.
    connection.execute(text(f"CREATE INDEX {STAGE}_row_no ON {STAGE} (row_no)"))


def _stage_write(connection: Connection, rows: pd.DataFrame) -> None:
    rows = rows.assign(trial_id=0)  # the trial's id is known only once the whole file is good
    values = []
    for name in SANDBOX_COLUMNS:
        if name in ("was_mql", "is_sql", "is_rejected"):
            values.append([bool(value) for value in rows[name]])
        else:
            values.append(format_column(rows[name], _kind_of(name)))
    bulk_insert(connection, STAGE, SANDBOX_COLUMNS, list(zip(*values, strict=True)))


def _stage_waits(connection: Connection, as_of: dt.datetime, settings: OrgSettings) -> None:
    """Unanswered MQLs: how long they had waited when the data was taken, in chunks."""
    stage = sa.table(
        STAGE, sa.column("row_no"), sa.column("mql_at"), sa.column("was_mql"), sa.column("response_calendar_minutes")
    )
    stage_update = sa.table(
        STAGE, sa.column("row_no"), sa.column("wait_business_minutes"), sa.column("wait_calendar_minutes")
    )
    waiting = connection.execute(
        select(stage.c.row_no, stage.c.mql_at).where(
            stage.c.was_mql.is_(True), stage.c.response_calendar_minutes.is_(None)
        )
    ).all()
    clock = BusinessClock(settings.business_calendar())
    for start in range(0, len(waiting), CHUNK_ROWS):
        part = pd.DataFrame(waiting[start : start + CHUNK_ROWS], columns=["row_no", "mql_at"])
        mql_at = pd.to_datetime(part["mql_at"])
        end = pd.Series(pd.Timestamp(as_of), index=part.index)
        business = clock.minutes_between(mql_at, end)
        calendar = calendar_minutes_between(mql_at, end)
        connection.execute(
            update(stage_update)
            .where(stage_update.c.row_no == bindparam("row"))
            .values(wait_business_minutes=bindparam("business"), wait_calendar_minutes=bindparam("calendar")),
            [
                {"row": int(row), "business": float(b), "calendar": float(c)}
                for row, b, c in zip(part["row_no"], business, calendar, strict=True)
            ],
        )


def _stage_close(connection: Connection, trial_id: int) -> None:
    others = ", ".join(name for name in SANDBOX_COLUMNS if name != "trial_id")
    connection.execute(
        text(f"INSERT INTO sandbox_leads (trial_id, {others}) SELECT :trial_id, {others} FROM {STAGE}"),
        {"trial_id": trial_id},
    )
    if connection.dialect.name != "postgresql":
        connection.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))


def _new_trial(
    connection: Connection, actor: Actor, name: str, source: str, file_name: str | None, mapping_name: str | None
) -> int:
    now = utcnow()
    inserted = connection.execute(
        TRIALS_TABLE.insert().values(
            owner=actor.username,
            name=name,
            source=source,
            file_name=file_name,
            mapping_name=mapping_name,
            rows=0,
            as_of=now,
            created_at=now,
            last_used_at=now,
        )
    )
    return int(inserted.inserted_primary_key[0])  # type: ignore[index]


def _close_trial(
    connection: Connection,
    trial_id: int,
    rows: int,
    span: tuple[dt.date | None, dt.date | None],
    as_of: dt.datetime,
    settings: OrgSettings,
    actor: Actor,
    detail: dict[str, Any],
) -> None:
    """The staged rows are good: time the unanswered MQLs, move the rows in, complete the trial, audit it."""
    _stage_waits(connection, as_of, settings)
    _stage_close(connection, trial_id)
    trials_table = TRIALS_TABLE
    connection.execute(
        update(trials_table)
        .where(trials_table.c.id == trial_id)
        .values(rows=rows, first_day=span[0], last_day=span[1], as_of=as_of)
    )
    record(
        connection,
        actor=actor.username,
        action="create",
        entity="sandbox_trial",
        entity_key=str(trial_id),
        detail={**detail, "rows": rows},
    )


class _TrialSink:
    """Receives an upload's validated lead rows (core.imports.importer) and keeps them in a new trial."""

    def __init__(self, actor: Actor, name: str, file_name: str, mapping_name: str | None) -> None:
        self.actor, self.name, self.file_name, self.mapping_name = actor, name, file_name, mapping_name
        self.trial_id: int | None = None
        self.rows = 0
        self.first: dt.date | None = None
        self.last: dt.date | None = None
        self.latest: pd.Timestamp | None = None
        self.settings: OrgSettings | None = None

    def write(self, connection: Connection, frame: pd.DataFrame) -> None:
        if frame.empty:  # a chunk whose every row the mapping skips
            return
        if self.settings is None:
            self.settings = load(connection)
            _stage_open(connection)
        if self.rows + len(frame) > MAX_ROWS:
            raise SandboxError(f"a trial holds at most {MAX_ROWS:,} leads; this file has more")
        assert self.settings is not None
        # The data was taken at the latest moment the file mentions: unanswered MQLs had waited until then.
        for column in ("created_at", "mql_at", "first_response_at", "sql_at", "rejected_at"):
            if column in frame:
                latest = pd.to_datetime(frame[column]).max()
                if pd.notna(latest) and (self.latest is None or latest > self.latest):
                    self.latest = latest
        rows = _trial_rows(frame, self.settings, self.rows + 1)
        self.rows += len(rows)
        days = pd.to_datetime(rows["created_day"])
        first, last = days.min().date(), days.max().date()
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        _stage_write(connection, rows)

    def finish(self, connection: Connection, result: ImportResult) -> None:
        if self.rows == 0 or self.settings is None:
            raise SandboxError("the file has no leads to try thresholds on")
        self.trial_id = _new_trial(connection, self.actor, self.name, "upload", self.file_name, self.mapping_name)
        as_of = self.latest.to_pydatetime() if self.latest is not None else utcnow()
        detail = {"name": self.name, "file": self.file_name, "source": "upload", "skipped": result.rows_skipped}
        _close_trial(
            connection, self.trial_id, self.rows, (self.first, self.last), as_of, self.settings, self.actor, detail
        )


def _trial_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise SandboxError("a trial needs a name, e.g. 'Score 65 on the Q3 export'")
    return name[:255]


def upload_trial(
    engine: Engine,
    actor: Actor,
    name: str,
    source: BinaryIO,
    *,
    mapping: Mapping | None = None,
    file_name: str | None = None,
    progress: ProgressCallback | None = None,
    sheet: str | None = None,
) -> TrialInfo:
    """A new trial from a leads CSV (or gzip-compressed CSV, or a sheet of a workbook), mapped and validated as
    the Data page imports (ImportRefused with the report if any row is bad, and then nothing is kept).
    The rows go to the trial only, never the shared tables."""
    _may_use(actor)
    require(actor, "import_data")  # uploads are ops' (PRODUCT.md, roles)
    shown_name = file_name or Path(str(getattr(source, "name", "upload.csv"))).name
    sink = _TrialSink(actor, _trial_name(name), shown_name, mapping.name if mapping is not None else None)
    import_csv(
        engine,
        "leads",
        source,
        actor=actor,
        mapping=mapping,
        file_name=file_name,
        progress=progress,
        sink=sink,
        sheet=sheet,
    )
    assert sink.trial_id is not None
    return get_trial(engine, actor, sink.trial_id)


_STORED_COLUMNS = (
    "lead_id",
    "created_at",
    "company_size",
    "industry",
    "country",
    "seniority",
    "department",
    "score",
    "intent_signal",
    "owner",
    "mql_at",
    "sql_at",
    "rejected_at",
    "first_response_at",
)


@retrying
def stored_trial(engine: Engine, actor: Actor, name: str, first_day: dt.date, last_day: dt.date) -> TrialInfo:
    """A new trial on the stored leads created from first_day to last_day (organisation days): read and copied
    into the trial, so the shared tables are never written and later imports do not move the trial's numbers."""
    _may_use(actor)
    if last_day < first_day:
        raise SandboxError(f"the period ends ({last_day}) before it starts ({first_day})")
    name = _trial_name(name)
    columns = [getattr(Lead, column) for column in _STORED_COLUMNS]
    in_period = and_(Lead.created_day >= first_day, Lead.created_day <= last_day)
    with engine.connect() as reader, engine.connect() as writer:
        # The copy goes to a temporary table first, which on SQLite takes no lock on the database; the write
        # lock is taken only for the last statements (as an import does), so a big trial blocks no one's writes.
        transaction = writer.begin()
        try:
            settings = load(writer)
            count = reader.execute(select(func.count()).where(in_period)).scalar_one()
            if count == 0:
                raise SandboxError(f"no stored leads were created from {first_day} to {last_day}")
            if count > MAX_ROWS:
                raise SandboxError(f"a trial holds at most {MAX_ROWS:,} leads; the period has {count:,}")
            _stage_open(writer)
            result = reader.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(
                select(*columns).where(in_period).order_by(Lead.created_at, Lead.lead_id)
            )
            written, latest = 0, None
            for part in result.partitions(CHUNK_ROWS):
                frame = pd.DataFrame(part, columns=list(_STORED_COLUMNS))
                for column in ("created_at", "mql_at", "sql_at", "rejected_at", "first_response_at"):
                    frame[column] = pd.to_datetime(frame[column])
                    top = frame[column].max()
                    if pd.notna(top) and (latest is None or top > latest):
                        latest = top
                _stage_write(writer, _trial_rows(frame, settings, written + 1))
                written += len(frame)
            if writer.dialect.name == "sqlite":
                transaction = write_from_here(writer, transaction)
                if load(writer) != settings:
                    raise SandboxError("the organisation's settings changed while the leads were copied; try again")
            as_of = latest.to_pydatetime() if latest is not None else utcnow()
            detail = {"name": name, "source": "stored", "from": str(first_day), "to": str(last_day)}
            trial_id = _new_trial(writer, actor, name, "stored", None, None)
            _close_trial(writer, trial_id, written, (first_day, last_day), as_of, settings, actor, detail)
            transaction.commit()
        except BaseException:
            transaction.rollback()
            if writer.dialect.name == "sqlite":
                writer.invalidate()  # with the temporary table and its rows
            raise
    return get_trial(engine, actor, trial_id)


def _owned(session: Any, actor: Actor, trial_id: int) -> SandboxTrial:
    trial = session.get(SandboxTrial, trial_id)
    if trial is None or trial.deleted_at is not None:
        raise SandboxError(f"there is no trial {trial_id}")
    if trial.owner != actor.username:
        raise PermissionDenied(f"trial {trial_id} is {trial.owner}'s; trials are private")
    return trial


def get_trial(engine: Engine, actor: Actor, trial_id: int) -> TrialInfo:
    _may_use(actor)
    with read_scope(engine) as session:
        return _info(_owned(session, actor, trial_id))


@retrying
def touch_trial(engine: Engine, actor: Actor, trial_id: int) -> None:
    """Opening a trial keeps it another KEEP_DAYS."""
    _may_use(actor)
    with session_scope(engine) as session:
        _owned(session, actor, trial_id).last_used_at = utcnow()


def _remove(session: Any, trial: SandboxTrial, by: str, action: str) -> None:
    """Only the first of two removals at once does anything (the UPDATE's condition), so one audit entry."""
    marked = session.execute(
        update(TRIALS_TABLE)
        .where(TRIALS_TABLE.c.id == trial.id, TRIALS_TABLE.c.deleted_at.is_(None))
        .values(deleted_at=utcnow(), deleted_by=by)
    )
    if marked.rowcount != 1:
        return
    session.execute(delete(SandboxLead).where(SandboxLead.trial_id == trial.id))
    detail = {"name": trial.name, "owner": trial.owner, "rows": trial.rows}
    record(session, actor=by, action=action, entity="sandbox_trial", entity_key=str(trial.id), detail=detail)


@retrying
def delete_trial(engine: Engine, actor: Actor, trial_id: int) -> None:
    """Removes the trial's rows; its record stays, marked deleted, and the audit log says who."""
    _may_use(actor)
    with session_scope(engine) as session:
        _remove(session, _owned(session, actor, trial_id), actor.username, "delete")


@retrying
def trials(engine: Engine, actor: Actor) -> list[TrialInfo]:
    """The actor's trials, newest first. Anyone's trials not opened for KEEP_DAYS are removed first."""
    _may_use(actor)
    expired = and_(
        SandboxTrial.deleted_at.is_(None), SandboxTrial.last_used_at < utcnow() - dt.timedelta(days=KEEP_DAYS)
    )
    with read_scope(engine) as session:
        anything_expired = session.scalar(select(SandboxTrial.id).where(expired).limit(1)) is not None
    if anything_expired:  # a write transaction only when there is something to remove
        with session_scope(engine) as session:
            for trial in session.scalars(select(SandboxTrial).where(expired)).all():
                _remove(session, trial, "system", "expire")
    with read_scope(engine) as session:
        mine = (
            select(SandboxTrial)
            .where(SandboxTrial.owner == actor.username, SandboxTrial.deleted_at.is_(None))
            .order_by(SandboxTrial.created_at.desc(), SandboxTrial.id.desc())
        )
        return [_info(trial) for trial in session.scalars(mine)]


# ------------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class Outcome:
    """What a rule would have given on a trial's leads."""

    label: str
    leads: int
    mqls: int
    months: int
    sqls: int
    rejected: int
    lost_sqls: int  # SQLs the rule leaves out: good leads lost
    saved_rejections: int  # rejected leads it leaves out: sales time saved
    sla_met: int
    sla_breached: int
    sla_hours: float
    sla_business_hours: bool
    busiest_day_mqls: float  # MQLs on the 90th-percentile day among days with any
    reps_needed: float
    responders: int  # owners who answered an MQL in the data: the team there was
    monthly: pd.DataFrame = field(repr=False, compare=False)  # month, mqls, sqls

    @property
    def mqls_per_month(self) -> float:
        return self.mqls / self.months if self.months else math.nan

    @property
    def conversion(self) -> float:
        return self.sqls / self.mqls if self.mqls else math.nan

    @property
    def rejection_share(self) -> float:
        return self.rejected / (self.sqls + self.rejected) if self.sqls + self.rejected else math.nan

    @property
    def sla_compliance(self) -> float:
        judged = self.sla_met + self.sla_breached
        return self.sla_met / judged if judged else math.nan


def _sla(knobs: Knobs) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Met: answered within the hours. Breached: answered later, or unanswered after waiting longer."""
    limit = knobs.sla_hours * 60.0
    business = knobs.sla_business_hours
    response = SandboxLead.response_business_minutes if business else SandboxLead.response_calendar_minutes
    wait = SandboxLead.wait_business_minutes if business else SandboxLead.wait_calendar_minutes
    met = and_(response.is_not(None), response <= limit)
    breached = or_(and_(response.is_not(None), response > limit), and_(response.is_(None), wait > limit))
    return met, breached


MONTHLY_COLUMNS = ("leads", "mqls", "sqls", "rejected", "lost_sqls", "saved_rejections", "sla_met", "sla_breached")


def outcome(engine: Engine, actor: Actor, trial_id: int, knobs: Knobs, label: str = "Your knobs") -> Outcome:
    """The rule the knobs make, counted over the trial's leads in SQL (the trial's owner only)."""
    get_trial(engine, actor, trial_id)
    rule = qualifies(knobs.mql(), knobs.icp() if knobs.icp_fit_required else None, SandboxLead)
    met, breached = _sla(knobs)
    mine = SandboxLead.trial_id == trial_id
    counts = {
        "leads": func.count(),
        "mqls": count_if(rule),
        "sqls": count_if(and_(rule, SandboxLead.is_sql)),
        "rejected": count_if(and_(rule, SandboxLead.is_rejected)),
        "lost_sqls": count_if(and_(not_(rule), SandboxLead.is_sql)),
        "saved_rejections": count_if(and_(not_(rule), SandboxLead.is_rejected)),
        "sla_met": count_if(and_(rule, SandboxLead.was_mql, met)),
        "sla_breached": count_if(and_(rule, SandboxLead.was_mql, breached)),
    }
    with engine.connect() as connection:
        monthly = pd.DataFrame(
            connection.execute(
                select(SandboxLead.month, *(value.label(key) for key, value in counts.items()))
                .where(mine)
                .group_by(SandboxLead.month)
                .order_by(SandboxLead.month)
            ).all(),
            columns=["month", *MONTHLY_COLUMNS],
        )
        daily = [
            int(n)
            for (n,) in connection.execute(select(func.count()).where(mine, rule).group_by(SandboxLead.created_day))
        ]
        responders, answered = connection.execute(
            select(
                func.count(func.distinct(case((SandboxLead.owner.is_not(None), SandboxLead.owner)))),
                func.count(),
            ).where(mine, SandboxLead.response_calendar_minutes.is_not(None))
        ).one()
    for column in MONTHLY_COLUMNS:
        monthly[column] = pd.to_numeric(monthly[column]).fillna(0).astype(int)
    totals = {column: int(monthly[column].sum()) for column in MONTHLY_COLUMNS}
    if not answered:  # a file without response times: every MQL would look unanswered, so the SLA is unknown
        totals["sla_met"] = totals["sla_breached"] = 0
    busiest = float(np.percentile(daily, 90)) if daily else 0.0
    per_rep = knobs.rep_hours_per_day * 60.0
    return Outcome(
        label=label,
        leads=totals["leads"],
        mqls=totals["mqls"],
        months=len(monthly),
        sqls=totals["sqls"],
        rejected=totals["rejected"],
        lost_sqls=totals["lost_sqls"],
        saved_rejections=totals["saved_rejections"],
        sla_met=totals["sla_met"],
        sla_breached=totals["sla_breached"],
        sla_hours=knobs.sla_hours,
        sla_business_hours=knobs.sla_business_hours,
        busiest_day_mqls=busiest,
        reps_needed=busiest * knobs.minutes_per_response / per_rep if per_rep > 0 else math.nan,
        responders=int(responders or 0),
        monthly=monthly[["month", "mqls", "sqls"]],
    )


@dataclass(frozen=True)
class Curve:
    """Volume and conversion at every score threshold, the other knobs held; the threshold to recommend."""

    points: pd.DataFrame  # threshold, mqls, sqls, conversion
    gate: float
    recommended: int | None  # the most volume with conversion at or above the gate; None if none reaches it


def curve(engine: Engine, actor: Actor, trial_id: int, knobs: Knobs) -> Curve:
    """One grouped query (score × intent hit) over the leads that pass the rest of the rule; then, for each
    threshold, the leads with a score at or above it or an intent hit, summed in numpy."""
    get_trial(engine, actor, trial_id)
    mql = knobs.mql()
    rest = fits_besides_score(mql, knobs.icp() if knobs.icp_fit_required else None, SandboxLead)
    hit = case((intent_hit(mql, SandboxLead), 1), else_=0)
    score = func.coalesce(SandboxLead.score, -1)
    with engine.connect() as connection:
        groups = pd.DataFrame(
            connection.execute(
                select(score, hit, func.count(), count_if(SandboxLead.is_sql.is_(True)))
                .where(SandboxLead.trial_id == trial_id, rest)
                .group_by(score, hit)
            ).all(),
            columns=["score", "hit", "leads", "sqls"],
        )
    thresholds = np.array(list(THRESHOLDS))
    if groups.empty:
        empty = pd.DataFrame({"threshold": thresholds, "mqls": 0, "sqls": 0, "conversion": math.nan})
        return Curve(empty, knobs.conversion_gate, None)
    for column in groups.columns:
        groups[column] = pd.to_numeric(groups[column]).fillna(0).astype(int)
    passes = (groups["score"].to_numpy()[None, :] >= thresholds[:, None]) | groups["hit"].to_numpy()[None, :].astype(
        bool
    )
    mqls = passes.astype(int) @ groups["leads"].to_numpy()
    sqls = passes.astype(int) @ groups["sqls"].to_numpy()
    conversion = np.divide(sqls, mqls, out=np.full(len(thresholds), np.nan), where=mqls > 0)
    points = pd.DataFrame({"threshold": thresholds, "mqls": mqls, "sqls": sqls, "conversion": conversion})
    meeting = points[(points["mqls"] > 0) & (points["conversion"] >= knobs.conversion_gate - 1e-12)]
    recommended = None
    if not meeting.empty:
        recommended = int(meeting.sort_values(["mqls", "threshold"], ascending=[False, True]).iloc[0]["threshold"])
    return Curve(points, knobs.conversion_gate, recommended)


# ------------------------------------------------------------------ propose


def _figures(result: Outcome) -> dict[str, Any]:
    def rounded(value: float, digits: int) -> float | None:
        return None if math.isnan(value) else round(value, digits)

    return {
        "mqls": result.mqls,
        "mqls_per_month": rounded(result.mqls_per_month, 1),
        "mql_to_sql": rounded(result.conversion, 4),
        "rejection_share": rounded(result.rejection_share, 4),
        "lost_sqls": result.lost_sqls,
        "saved_rejections": result.saved_rejections,
        "sla_compliance": rounded(result.sla_compliance, 4),
        "reps_needed": rounded(result.reps_needed, 1),
    }


def evidence(trial: TrialInfo, knobs: Knobs, before: Outcome, after: Outcome) -> dict[str, Any]:
    """The trial's figures, attached to a proposal so that the signers see what it was tried on."""
    return {
        "source": "sandbox",
        "trial": trial.describe(),
        "trial_source": trial.source,
        "file": trial.file_name,
        "leads": trial.rows,
        "period": [str(trial.first_day), str(trial.last_day)] if trial.first_day and trial.last_day else None,
        "knobs": {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(knobs).items()},
        "active_definition": _figures(before),
        "proposed": _figures(after),
    }


def propose_from_trial(
    engine: Engine, actor: Actor, trial_id: int, knobs: Knobs, kinds: tuple[str, ...], prose: str = ""
) -> list[VersionInfo]:
    """Turns the knobs into proposed versions of `kinds` (icp, mql, sla), each with the trial's figures as its
    evidence; they then go through sign-off like any proposal."""
    _may_use(actor)
    if not kinds:
        raise SandboxError("pick what to propose: the MQL rule, the ICP's size range, the SLA, or several")
    unknown = sorted(set(kinds) - set(PROPOSABLE))
    if unknown:
        raise SandboxError(f"the sandbox proposes {', '.join(PROPOSABLE)}, not {', '.join(unknown)}")
    trial = get_trial(engine, actor, trial_id)
    baseline = active_knobs(engine)
    unchanged = [kind for kind in kinds if kind not in changed_kinds(knobs, baseline)]
    if unchanged:
        raise SandboxError(f"the knobs leave {', '.join(unchanged)} as in force: there is nothing to propose for it")
    # The evidence is for what is proposed: the picked kinds' knobs, everything else as in force.
    proposed_knobs = dataclasses.replace(
        baseline, **{name: getattr(knobs, name) for kind in kinds for name in KIND_KNOBS[kind]}
    )
    before = outcome(engine, actor, trial_id, baseline, "Active definition")
    attached = evidence(trial, proposed_knobs, before, outcome(engine, actor, trial_id, proposed_knobs))
    sla_version = versions.active(engine, "sla")
    rules = {
        "icp": knobs.icp().model_dump(),
        "mql": knobs.mql().model_dump(),
        "sla": knobs.sla(SlaRules.model_validate(sla_version.rules) if sla_version else None).model_dump(),
    }
    for kind in kinds:  # every version is checked before any is proposed
        versions.validate_rules(kind, rules[kind])
    note = prose.strip() or f"Tried in the sandbox on {trial.describe()}."
    proposed = []
    for kind in PROPOSABLE:
        if kind in kinds:
            in_force = versions.active(engine, kind)
            based_on = in_force.id if in_force else None
            proposed.append(
                versions.propose(engine, actor, kind, rules[kind], note, based_on=based_on, evidence=attached)
            )
    return proposed


EVIDENCE_LABELS = {
    "mqls": "MQLs",
    "mqls_per_month": "MQLs per month",
    "mql_to_sql": "MQL→SQL conversion",
    "rejection_share": "Rejection share",
    "lost_sqls": "SQLs it would have lost",
    "saved_rejections": "Rejected leads it would have kept from sales",
    "sla_compliance": "SLA compliance",
    "reps_needed": "Reps needed for first responses",
}


def evidence_rows(attached: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A proposal's sandbox evidence as (figure, under the active definition, under the proposal) for display."""

    def shown(key: str, value: Any) -> str:
        if value is None:
            return "—"
        if key in ("mql_to_sql", "rejection_share", "sla_compliance"):
            return f"{value:.1%}"
        return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"

    before, after = attached.get("active_definition", {}), attached.get("proposed", {})
    return [(label, shown(key, before.get(key)), shown(key, after.get(key))) for key, label in EVIDENCE_LABELS.items()]


def trial_options(engine: Engine, actor: Actor, trial_id: int) -> dict[str, list[str]]:
    """The intent signals and seniorities a trial's leads carry, for the knobs' pickers."""
    get_trial(engine, actor, trial_id)
    options: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for name in ("intent_signal", "seniority"):
            column = getattr(SandboxLead, name)
            values = connection.execute(
                select(column).where(SandboxLead.trial_id == trial_id, column.is_not(None), column != "").distinct()
            ).scalars()
            options[name] = sorted(str(value) for value in values)
    return options
