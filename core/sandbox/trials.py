"""The threshold sandbox's trials: a person's private copy of leads to try MQL and SLA settings on.

A trial is one person's: the stored leads of a period (read, never written) or an uploaded CSV mapped and
validated like the Data page's, copied into `sandbox_leads` under the trial's id. Nothing a trial does
touches the shared tables; deleting a trial removes its rows. What the knobs give on a trial is
core.sandbox.outcome; proposing them is core.sandbox.proposals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, func, select, text, update

from core.audit import record
from core.business_hours import BusinessClock, calendar_minutes_between
from core.db import read_scope, retrying, session_scope, write_from_here
from core.imports.mapping import Mapping
from core.imports.reading import CHUNK_ROWS
from core.imports.runs import ImportResult, ProgressCallback, import_csv
from core.models import Lead, SandboxLead, SandboxTrial, utcnow
from core.permissions import Actor, PermissionDenied, require
from core.settings import OrgSettings, load
from core.sql import bulk_insert, format_column

KEEP_DAYS = 30  # a trial not opened for this long is removed
MAX_ROWS = 1_000_000
LEADS_TABLE = cast(Table, SandboxLead.__table__)
TRIALS_TABLE = cast(Table, SandboxTrial.__table__)
SANDBOX_COLUMNS = [column.name for column in LEADS_TABLE.columns]
STAGE = "sandbox_stage"  # a trial's rows are written here (a temporary table) and moved in when the file is good


class SandboxError(ValueError):
    """A sandbox request that cannot be done as asked; nothing was changed."""


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


def may_use(actor: Actor) -> None:
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
    """Receives an upload's validated lead rows (core.imports.runs) and keeps them in a new trial."""

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
    may_use(actor)
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
    may_use(actor)
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
    may_use(actor)
    with read_scope(engine) as session:
        return _info(_owned(session, actor, trial_id))


@retrying
def touch_trial(engine: Engine, actor: Actor, trial_id: int) -> None:
    """Opening a trial keeps it another KEEP_DAYS."""
    may_use(actor)
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
    may_use(actor)
    with session_scope(engine) as session:
        _remove(session, _owned(session, actor, trial_id), actor.username, "delete")


@retrying
def trials(engine: Engine, actor: Actor) -> list[TrialInfo]:
    """The actor's trials, newest first. Anyone's trials not opened for KEEP_DAYS are removed first."""
    may_use(actor)
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
