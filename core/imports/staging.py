"""The staged copy and the merge: a good file's typed rows (with their derived columns) go to a temporary table,
then one INSERT … ON CONFLICT DO UPDATE rewrites only the rows whose values differ, so importing the same file
twice changes nothing. How the database is held meanwhile (SQLite's write lock taken only for the merge,
PostgreSQL's imports of one kind merging in turn) and how a failed import leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from sqlalchemy import Connection, RootTransaction, select, text

from core import coverage
from core.db import write_from_here
from core.formats import KINDS, KindSpec
from core.funnel.derived import (
    LEAD_INPUTS,
    lead_columns,
    opportunity_columns,
    recompute_lead_derived,
    recompute_opportunity_derived,
)
from core.imports.import_warnings import WarningCollector
from core.imports.problems import refuse
from core.settings import OrgSettings, load
from core.sql import bulk_insert, format_column

IMPORT_CACHE_KIB = 128 * 1024


def _column_kind(spec: KindSpec, name: str) -> str:
    if name in spec.field_names:
        field_type = spec.field(name).type
        return {"datetime": "datetime", "month": "date", "int": "int", "float": "float"}.get(field_type, "object")
    if name.endswith("_day"):
        return "date"
    if name.endswith("_at"):
        return "datetime"
    if name.endswith("_key"):
        return "object"
    return "float"


class Stage:
    """The temporary table an import is written to before the merge."""

    def __init__(self, connection: Connection, spec: KindSpec, columns: list[str]) -> None:
        self.connection = connection
        self.spec = spec
        self.columns = columns
        self.postgres = connection.dialect.name == "postgresql"
        names = ", ".join(columns)
        table = spec.table.name
        connection.execute(text("DROP TABLE IF EXISTS import_stage"))
        suffix = " ON COMMIT DROP" if self.postgres else ""
        connection.execute(
            text(f"CREATE TEMPORARY TABLE import_stage{suffix} AS SELECT {names} FROM {table} WHERE 1 = 0")
        )
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        values = [format_column(frame[name], _column_kind(self.spec, name)) for name in self.columns]
        records = list(zip(*values, strict=True))
        self.rows += len(records)
        bulk_insert(self.connection, "import_stage", self.columns, records)

    def merge(self, import_id: int | None, carried: int | None = None) -> tuple[int, int]:
        """Counts (inserted, updated), then the upsert itself unless import_id is None (dry run).

        `carried`: the fields this file carried (core.coverage), added to each row's mask; a row whose mask
        grows counts as updated even when its values do not change (what is known about it did).
        """
        table = self.spec.table.name
        key = list(self.spec.key)
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        if self.postgres:
            # Temporary tables are never auto-analysed; without statistics the planner guesses a few rows
            # and picks nested loops for a million.
            self.connection.execute(text("ANALYZE import_stage"))
            self.connection.execute(text("SET LOCAL work_mem = '64MB'"))
        on_key, changed = self._on_key(), self._changed(carried)
        compared = [name for name in self.columns if name not in key]
        inserted = self.connection.execute(
            text(f"SELECT count(*) FROM import_stage s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on_key})")
        ).scalar_one()
        updated = self.connection.execute(
            text(f"SELECT count(*) FROM import_stage s JOIN {table} t ON {on_key} WHERE {changed}")
        ).scalar_one()
        if import_id is not None and (inserted or updated):
            extra = ["import_id"] + (["carried"] if carried is not None else [])
            names = ", ".join([*self.columns, *extra])
            values = ", ".join([*self.columns, ":import_id"] + ([":carried"] if carried is not None else []))
            assignments = [f"{name} = excluded.{name}" for name in [*compared, "import_id"]]
            differs = [f"{table}.{name} {distinct} excluded.{name}" for name in compared]
            if carried is not None:
                assignments.append(f"carried = {table}.carried | excluded.carried")
                differs.append(f"({table}.carried | excluded.carried) <> {table}.carried")
            conflict = (
                f"DO UPDATE SET {', '.join(assignments)} WHERE {' OR '.join(differs)}" if differs else "DO NOTHING"
            )
            self.connection.execute(
                text(
                    f"INSERT INTO {table} ({names}) "
                    f"SELECT {values} FROM import_stage WHERE 1 = 1 "
                    f"ON CONFLICT ({', '.join(key)}) {conflict}"
                ),
                {"import_id": import_id, "carried": carried},
            )
        return int(inserted), int(updated)

    def _on_key(self) -> str:
        return " AND ".join(f"t.{name} = s.{name}" for name in self.spec.key)

    def _changed(self, carried: int | None) -> str:
        """The condition on a stored row `t` and its staged row `s` under which the merge rewrites it."""
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        changes = [f"t.{name} {distinct} s.{name}" for name in self.columns if name not in self.spec.key]
        if carried is not None:
            changes.append(f"(t.carried | {int(carried)}) <> t.carried")
        return " OR ".join(changes) or "1 = 0"

    def rewrites_most(self) -> bool:
        """Whether the merge may rewrite most of what its table holds (a first import, a full re-export): then
        what is kept beside the rows is cheaper rewritten whole than for each row the merge changes."""
        stored = self.connection.execute(text(f"SELECT count(*) FROM {self.spec.table.name}")).scalar_one()
        return self.rows * 2 >= stored

    def keys_to_change(self, carried: int | None) -> str:
        """SQL selecting the key of each stored row the merge will rewrite (before it does: what was there)."""
        key = self.spec.key[0]
        table = self.spec.table.name
        return f"SELECT t.{key} FROM import_stage s JOIN {table} t ON {self._on_key()} WHERE {self._changed(carried)}"

    def drop(self) -> None:
        if not self.postgres:
            self.connection.execute(text("DROP TABLE IF EXISTS import_stage"))


@contextmanager
def bulk_cache(connection: Connection) -> Iterator[None]:
    """A larger SQLite page cache while importing: index maintenance on a million rows is mostly cache misses."""
    if connection.dialect.name != "sqlite":
        yield
        return
    # On the driver connection: a SQLAlchemy execute would open the transaction the import begins itself.
    raw: Any = connection.connection.dbapi_connection
    previous = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        if not connection.invalidated:  # a failed import closed the connection (see `abandon`)
            raw.execute(f"PRAGMA cache_size={int(previous)}")


KEY_BATCH = 5_000


def coverage_bits(spec: KindSpec, columns: dict[str, str | None], warnings: WarningCollector) -> int | None:
    """The coverage bits of this file's rows: the fields it carried, and for deals whether it held a loss."""
    if spec.kind not in coverage.TRACKED:
        return None
    bits = coverage.mask(spec.kind, columns)
    if spec.kind == "opportunities" and warnings.closed > warnings.won:
        bits |= coverage.LOSSES_BIT
    return bits


def keep_stored(connection: Connection, spec: KindSpec, frame: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Rows already stored keep the date an `import_day` field gave them when they first came, so that importing
    the same file again on another day changes nothing."""
    table = spec.table
    (key,) = spec.key
    keys = frame[key].dropna().astype(str).tolist()
    stored: list[Any] = []
    for start in range(0, len(keys), KEY_BATCH):
        batch = keys[start : start + KEY_BATCH]
        stored += connection.execute(
            select(table.c[key], *(table.c[field] for field in fields)).where(table.c[key].in_(batch))
        ).all()
    if not stored:
        return frame
    kept = pd.DataFrame(stored, columns=[key, *fields]).set_index(key)
    frame = frame.copy()
    for field_name in fields:
        earlier = frame[key].map(kept[field_name].dropna())
        earlier = pd.to_datetime(earlier).astype("datetime64[us]")
        frame[field_name] = earlier.where(earlier.notna(), frame[field_name])
    return frame


def abandon(connection: Connection, transaction: RootTransaction) -> None:
    """Nothing of a failed import stays: its transaction is rolled back and, on SQLite, where the staged rows
    may have been committed to a temporary table before the merge, the connection is closed with them. (After
    SQLite's staged rows were committed, the transaction in hand may be the earlier one: the connection's own
    is rolled back.)"""
    current = connection.get_transaction()
    (current or transaction).rollback()
    if connection.dialect.name == "sqlite":
        connection.invalidate()


def take_write_lock(
    connection: Connection, transaction: RootTransaction, settings: OrgSettings, name: str
) -> RootTransaction:
    """SQLite: the parse wrote only this connection's temporary tables, without the database's write lock;
    the merge takes it now, in a transaction of its own, so that nobody waits on a file being read and a
    write committed meanwhile cannot make the merge fail. The settings the rows were derived with must
    still be the ones in force."""
    transaction = write_from_here(connection, transaction)
    if load(connection) != settings:
        raise refuse(name, "the organisation's settings changed while the file was read; import it again")
    return transaction


# pg_advisory_xact_lock(this, kind's index): the merges of one kind of file take turns on PostgreSQL.
_MERGE_LOCK_ID = 4_242_017


def take_turns(connection: Connection, spec: KindSpec, settings: OrgSettings, name: str) -> None:
    """PostgreSQL: imports of one kind merge one at a time (the lock is held to the commit), so that each counts
    exactly what it inserts and updates against what the one before committed, and two imports sharing keys in
    opposite orders cannot deadlock. Then, as on SQLite, the settings the rows were derived with must still be
    the ones in force."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(CAST(:lock AS integer), CAST(:kind AS integer))"),
        {"lock": _MERGE_LOCK_ID, "kind": list(KINDS).index(spec.kind)},
    )
    if load(connection) != settings:
        raise refuse(name, "the organisation's settings changed while the file was read; import it again")


def with_derived(spec: KindSpec, frame: pd.DataFrame, settings: OrgSettings) -> pd.DataFrame:
    if spec.kind == "leads":
        inputs = [c for c in LEAD_INPUTS if c in frame]
        if not {"mql_at", "first_response_at"} <= set(frame):
            # The response columns need both; recompute_if_partial takes the missing one from the stored row.
            inputs = [c for c in inputs if c not in ("mql_at", "first_response_at")]
        return frame.assign(**lead_columns(frame[inputs], settings))
    if spec.kind == "opportunities":
        inputs = frame[[c for c in ("created_at", "closed_at") if c in frame]]
        return frame.assign(**opportunity_columns(inputs, settings))
    return frame


def recompute_if_partial(connection: Connection, spec: KindSpec, written: list[str], settings: OrgSettings) -> None:
    """Derived columns that need fields this file did not carry are recomputed from the stored rows."""
    if spec.kind == "leads" and not {"mql_at", "first_response_at"} <= set(written):
        recompute_lead_derived(connection, settings, keys_from="import_stage")
    if spec.kind == "opportunities" and "closed_at" not in written:
        recompute_opportunity_derived(connection, settings, keys_from="import_stage")
