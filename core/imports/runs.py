"""An import run, the public entry point: `import_csv` reads a file (`reading`), checks every row (`validation`)
and, when all are good, merges them (`staging`) and records the run and its audit entry in the same
transaction, or refuses the file whole with its report (`ImportRefused`). Importing the same file again is a
re-import that changes nothing; a deadlock reads the file again and retries. The import history lists the runs.

Callers import `import_csv`, `ImportResult` and `ImportRefused` from here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from core import audit
from core.db import RETRY_ATTEMPTS, must_retry, retry_pause, writing
from core.formats import KIND_LABELS, KindSpec, kind_spec
from core.formatting import MISSING
from core.funnel.attribution import refresh_credits_after_import
from core.funnel.rollups import REFRESHED_BY as ROLLED_UP
from core.funnel.rollups import note_touched_days, refresh_rollups, refresh_touched_days
from core.funnel.segments import refresh_filter_values
from core.imports.import_warnings import ImportWarning
from core.imports.mapping import Mapping, identity_mapping
from core.imports.problems import ImportRefused, refuse
from core.imports.reading import (
    CHUNK_ROWS,
    DELIMITER_NAMES,
    FileShape,
    as_table,
    chunks,
    file_shape,
    number_format_of,
    open_source,
    text_stream,
)
from core.imports.staging import (
    Stage,
    abandon,
    bulk_cache,
    coverage_bits,
    keep_stored,
    recompute_if_partial,
    take_turns,
    take_write_lock,
    with_derived,
)
from core.imports.validation import ChunkValidator, resolve_columns
from core.models import ImportRun, utcnow
from core.permissions import Actor, require
from core.settings import load
from core.text import fold_spaces
from core.vocabulary import people, person

__all__ = ["ImportRefused", "ImportResult", "ProgressCallback", "RowSink", "import_csv", "import_history"]

ProgressCallback = Callable[[float, str], None]


@dataclass
class ImportResult:
    """What an import did (or, in a dry run, would do), for the page, the CLI and the history."""

    kind: str
    file_name: str
    sha256: str
    encoding: str
    delimiter: str
    rows_read: int
    rows_skipped: int
    skipped_reasons: dict[str, int]
    inserted: int
    updated: int
    unchanged: int
    dry_run: bool
    import_id: int | None = None
    notes: list[str] = field(default_factory=list)
    number_format: str = ""  # how numbers were read, when the file has numeric columns
    warnings: list[ImportWarning] = field(default_factory=list)
    same_as: int | None = None  # the import whose file and mapping this one repeated, recognised unread

    def summary(self, *, with_warnings: bool = True) -> str:
        """What was read and changed, line by line (the CLI prints it; the Data page shows warnings apart)."""
        verb = "would insert" if self.dry_run else "inserted"
        read = (
            f"the same {self.rows_read} rows as import #{self.same_as}, recognised by checksum and not read again"
            if self.same_as is not None
            else f"{self.rows_read} rows read"
        )
        lines = [
            f"{self.file_name}: {read} "
            f"({self.encoding}, {DELIMITER_NAMES[self.delimiter]}-separated); "
            f"{verb} {self.inserted}, {'would update' if self.dry_run else 'updated'} {self.updated}, "
            f"unchanged {self.unchanged}, skipped {self.rows_skipped}"
        ]
        lines += [f"  skipped {count}: {reason}" for reason, count in self.skipped_reasons.items()]
        if self.number_format:
            lines.append(f"  numbers: {self.number_format}")
        lines += [f"  warning: {warning}" for warning in self.warnings if with_warnings]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


class RowSink(Protocol):
    """Where an import's validated rows go instead of the shared table (the sandbox's trials)."""

    def write(self, connection: Connection, frame: pd.DataFrame) -> None:
        """One chunk of validated, typed rows (the file's canonical fields), in the import's transaction."""

    def finish(self, connection: Connection, result: ImportResult) -> None:
        """The whole file was good: last writes before the transaction commits."""


def import_csv(
    engine: Engine,
    kind: str,
    source: str | Path | BinaryIO,
    *,
    actor: Actor,
    mapping: Mapping | None = None,
    file_name: str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    chunk_rows: int = CHUNK_ROWS,
    sink: RowSink | None = None,
    sheet: str | None = None,
) -> ImportResult:
    """Import one CSV file of `kind` (or gzip-compressed CSV, or a `sheet` of an Excel workbook, by default its
    first), all or nothing. Raises ImportRefused with the report.

    A dry run only reads, so anyone may validate a file; writing needs the import permission. With a `sink`,
    the validated rows go to it instead of the shared table (no import history, no merge), all or nothing
    too; the sink's owner checks permissions and audits.
    """
    if not dry_run and sink is None:
        require(actor, "import_data")
    spec = kind_spec(kind)
    handle, default_name, owned = open_source(source)
    name = file_name or Path(str(default_name)).name
    try:
        handle = as_table(handle, name, sheet)
        for tries in range(1, RETRY_ATTEMPTS + 1):
            try:
                return _import(
                    engine,
                    spec,
                    handle,
                    name,
                    actor=actor,
                    mapping=mapping,
                    dry_run=dry_run,
                    progress=progress,
                    chunk_rows=chunk_rows,
                    sink=sink,
                )
            except DBAPIError as error:
                # A deadlock or serialization failure rolled the whole import back: read the file again and
                # retry, as every other write does. Any other database error is a refusal with its report.
                if not (must_retry(error) and tries < RETRY_ATTEMPTS and handle.seekable()):
                    raise refuse(name, f"the database stopped the import ({_first_line(error)})") from error
                handle.seek(0)
                retry_pause(tries)
        raise AssertionError("unreachable")
    finally:
        if owned:
            handle.close()


def _first_line(error: DBAPIError) -> str:
    return (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]


def _import(
    engine: Engine,
    spec: KindSpec,
    handle: BinaryIO,
    name: str,
    *,
    actor: Actor,
    mapping: Mapping | None,
    dry_run: bool,
    progress: ProgressCallback | None,
    chunk_rows: int,
    sink: RowSink | None = None,
) -> ImportResult:
    started = utcnow()
    report = progress or (lambda _fraction, _message: None)
    shape = file_shape(handle, name)
    sha256, encoding, size, delimiter, header = shape.sha256, shape.encoding, shape.size, shape.delimiter, shape.header
    header_index = {fold_spaces(column): column for column in header}
    mapping = mapping or identity_mapping(spec.kind, header)
    columns, notes = resolve_columns(spec, mapping, header, name)
    number_format = number_format_of(spec, mapping, columns, handle, shape, name)
    first_day_fields = [field for field, source in mapping.fields.items() if source.import_day]
    fingerprint = mapping_fingerprint(mapping)
    if not dry_run and sink is None:
        again = _same_as_last_run(engine, spec, shape, name, fingerprint, actor, started)
        if again is not None:
            report(1.0, "done: the same file as the last import, nothing changed")
            return again

    with engine.connect() as connection, bulk_cache(connection):
        transaction = connection.begin()
        stage: Stage | None = None
        try:
            settings = load(connection)
            validator = ChunkValidator(spec, mapping, columns, settings, number_format)
            validator.header_index = header_index
            validator.check_mapping(name)
            stream, counter = text_stream(handle, encoding)
            rows_read, first_row, sink_rows = 0, 2, 0
            for chunk in chunks(stream, delimiter, chunk_rows, name, header, handle=handle):
                rows_read += len(chunk)
                frame = validator.validate(chunk, first_row)
                first_row += len(chunk)
                if frame is not None and validator.log.total == 0 and sink is not None:
                    sink.write(connection, frame)
                    sink_rows += len(frame)
                elif frame is not None and validator.log.total == 0:
                    if first_day_fields:
                        frame = keep_stored(connection, spec, frame, first_day_fields)
                    frame = with_derived(spec, frame, settings)
                    if stage is None:
                        stage = Stage(connection, spec, list(frame.columns))
                    stage.write(frame)
                report(0.85 * min(counter.count / max(size, 1), 1.0), f"validated {rows_read:,} rows")
            if rows_read == 0:
                raise refuse(name, "the file has a header but no data rows")
            duplicates = validator.duplicate_rows()
            if duplicates:
                # A refused file only: read it again for the reported rows' keys as the file spells them.
                wanted, texts, row = {pair[0] for pair in duplicates}, {}, 2
                stream, _ = text_stream(handle, encoding)
                for chunk in chunks(stream, delimiter, chunk_rows, name, header, handle=handle):
                    texts.update(validator.key_texts(chunk, np.arange(row, row + len(chunk)), wanted))
                    row += len(chunk)
                validator.report_duplicates(duplicates, texts)
            if validator.log.total:
                raise ImportRefused(name, validator.log.problems, validator.log.total)

            def outcome(inserted: int, updated: int, unchanged: int, import_id: int | None) -> ImportResult:
                return ImportResult(
                    kind=spec.kind,
                    file_name=name,
                    sha256=sha256,
                    encoding=encoding,
                    delimiter=delimiter,
                    rows_read=rows_read,
                    rows_skipped=sum(validator.skipped.values()),
                    skipped_reasons=dict(validator.skipped),
                    inserted=inserted,
                    updated=updated,
                    unchanged=unchanged,
                    dry_run=dry_run,
                    import_id=import_id,
                    notes=notes,
                    number_format=number_format.describe()
                    if number_format.declared or validator.parser.read_numbers
                    else "",
                    warnings=validator.warnings.warnings(),
                )

            if connection.dialect.name == "sqlite" and not dry_run:
                transaction = take_write_lock(connection, transaction, settings, name)
            elif not dry_run and sink is None:
                take_turns(connection, spec, settings, name)
            if sink is not None:
                result = outcome(sink_rows, 0, 0, None)
                sink.finish(connection, result)
                transaction.commit()
                report(1.0, "done")
                return result
            report(0.9, "merging into the database")
            import_id = None
            if not dry_run:
                import_id = connection.execute(
                    insert(ImportRun).values(
                        kind=spec.kind,
                        file_name=name,
                        file_sha256=sha256,
                        mapping_name=mapping.name,
                        mapping_sha256=fingerprint,
                        actor=actor.username,
                        started_at=started,
                        finished_at=started,
                        rows_read=rows_read,
                        rows_skipped=sum(validator.skipped.values()),
                        inserted=0,
                        updated=0,
                        unchanged=0,
                        notes={},
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            carried = coverage_bits(spec, columns, validator.warnings)
            rolled_up = stage is not None and not dry_run and spec.kind in ROLLED_UP
            rewrite_all = stage is not None and not dry_run and stage.rewrites_most()
            if stage and rolled_up and not rewrite_all:
                # The days the rows to be rewritten held: their cells in the kept counts move too.
                note_touched_days(connection, spec.kind, stage.keys_to_change(carried))
            inserted, updated = stage.merge(import_id, carried) if stage else (0, 0)
            staged = stage.rows if stage else 0
            if rewrite_all and (inserted or updated) and connection.dialect.name == "postgresql":
                # The planner's statistics still describe the table as it was before this import (autovacuum
                # cannot see into the transaction): the credits and counts below were planned as for an empty
                # table, nested loops over millions of touches.
                connection.execute(text(f"ANALYZE {spec.table.name}"))
            if stage and not dry_run:
                recompute_if_partial(connection, spec, stage.columns, settings)
                refresh_filter_values(connection, spec.kind)
                if import_id is not None:
                    everything = rewrite_all and bool(inserted or updated)
                    refresh_credits_after_import(connection, spec.kind, import_id, everything=everything)
                if rolled_up and rewrite_all and (inserted or updated):
                    refresh_rollups(connection, settings)
                elif rolled_up and (inserted or updated):
                    key = spec.key[0]
                    written = f"SELECT {key} FROM {spec.table.name} WHERE import_id = :written_by"
                    note_touched_days(connection, spec.kind, written, {"written_by": import_id})
                    refresh_touched_days(connection, spec.kind)
            result = outcome(inserted, updated, staged - inserted - updated, import_id)
            if stage:
                stage.drop()
            if dry_run:
                transaction.rollback()
                return result
            connection.execute(
                ImportRun.__table__.update()  # type: ignore[attr-defined]
                .where(ImportRun.__table__.c.id == import_id)
                .values(
                    finished_at=utcnow(),
                    inserted=inserted,
                    updated=updated,
                    unchanged=result.unchanged,
                    notes={
                        "skipped": result.skipped_reasons,
                        "notes": notes,
                        "encoding": encoding,
                        "numbers": result.number_format,
                        "warnings": [warning.as_dict() for warning in result.warnings],
                    },
                )
            )
            audit.record(
                connection,
                actor=actor.username,
                action="import",
                entity=spec.kind,
                entity_key=str(import_id),
                detail={
                    "file": name,
                    "sha256": sha256,
                    "inserted": inserted,
                    "updated": updated,
                    "unchanged": result.unchanged,
                },
            )
            transaction.commit()
            report(1.0, "done")
            return result
        except (IntegrityError, DataError) as exc:
            abandon(connection, transaction)
            detail = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            raise refuse(name, f"the database refused the rows ({detail}); nothing was changed") from exc
        except BaseException:
            abandon(connection, transaction)
            raise


def mapping_fingerprint(mapping: Mapping) -> str:
    """The mapping's content as a hash: two mappings read a file the same way when their fingerprints agree."""
    return hashlib.sha256(json.dumps(mapping.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def _same_as_last_run(
    engine: Engine,
    spec: KindSpec,
    shape: FileShape,
    name: str,
    fingerprint: str,
    actor: Actor,
    started: dt.datetime,
) -> ImportResult | None:
    """When the last import of this kind read these very bytes with the same mapping, importing them again can
    change nothing: every row it would write holds what that run wrote (settings changes rewrite the derived
    columns of every row, as an import would). The run is recorded and audited, without reading the file.

    The check holds the kind's merge lock (the write lock on SQLite), so no import of the kind can commit
    between the check and the record. None: import the file as usual."""
    with writing(engine).connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            take_turns(connection, spec, load(connection), name)
        last = connection.execute(
            select(*ImportRun.__table__.c).where(ImportRun.kind == spec.kind).order_by(ImportRun.id.desc()).limit(1)
        ).first()
        sha256 = shape.sha256
        if last is None or (last.file_sha256, last.mapping_sha256) != (sha256, fingerprint):
            return None
        kept = last.rows_read - last.rows_skipped
        notes = dict(last.notes or {})
        notes["same_as_import"] = last.id
        import_id = connection.execute(
            insert(ImportRun).values(
                kind=spec.kind,
                file_name=name,
                file_sha256=sha256,
                mapping_name=last.mapping_name,
                mapping_sha256=fingerprint,
                actor=actor.username,
                started_at=started,
                finished_at=utcnow(),
                rows_read=last.rows_read,
                rows_skipped=last.rows_skipped,
                inserted=0,
                updated=0,
                unchanged=kept,
                notes=notes,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        audit.record(
            connection,
            actor=actor.username,
            action="import",
            entity=spec.kind,
            entity_key=str(import_id),
            detail={"file": name, "sha256": sha256, "inserted": 0, "updated": 0, "unchanged": kept},
        )
    warnings = [
        ImportWarning(code=w["code"], message=w["message"], count=w["count"], field=w.get("field"))
        for w in notes.get("warnings", [])
    ]
    return ImportResult(
        kind=spec.kind,
        file_name=name,
        sha256=sha256,
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        rows_read=last.rows_read,
        rows_skipped=last.rows_skipped,
        skipped_reasons=dict(notes.get("skipped", {})),
        inserted=0,
        updated=0,
        unchanged=kept,
        dry_run=False,
        import_id=import_id,
        notes=list(notes.get("notes", [])),
        same_as=last.id,
        number_format=str(notes.get("numbers", "")),
        warnings=warnings,
    )


def import_history(engine: Engine, limit: int = 100) -> pd.DataFrame:
    """The most recent imports, newest first: when, who (the person's name), which kind of file (as people call
    it), which file and mapping, and what changed."""
    statement = (
        select(
            ImportRun.finished_at.label("when"),
            ImportRun.actor.label("who"),
            ImportRun.kind,
            ImportRun.file_name.label("file"),
            ImportRun.mapping_name.label("mapping"),
            ImportRun.rows_read.label("rows"),
            ImportRun.inserted,
            ImportRun.updated,
            ImportRun.unchanged,
            ImportRun.rows_skipped.label("skipped"),
            ImportRun.file_sha256.label("sha256"),
        )
        .order_by(ImportRun.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        result = connection.execute(statement)
        history = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        names = people(connection)
    return history.assign(
        who=[person(username, names) for username in history["who"]],
        kind=[KIND_LABELS.get(kind, kind) for kind in history["kind"]],
        mapping=history["mapping"].fillna(MISSING),
    )
