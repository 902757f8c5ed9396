"""Ops' display names for sources: what people read for a source, while the stored value stays as imported.

The names live in one settings row (core.vocabulary.DISPLAY_NAMES_KEY, {"sources": {stored value: name}}) that
core.vocabulary reads. Setting, renaming and clearing need the import permission (those who import the sources
name them), happen in one transaction with one audit entry for each name changed, and a clearing is audited
like any other change: no name disappears without a record of who removed it and what it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import read_scope, retrying, session_scope
from core.models import Lead, Setting
from core.permissions import Actor, require
from core.settings import write_row
from core.vocabulary import DISPLAY_NAMES_KEY, display_names

FIELD = "sources"
# A name has to fit a chart's axis label and a filter chip.
MAX_NAME_LENGTH = 40


class DisplayNameError(ValueError):
    """A display name that cannot be saved, with why; nothing was changed."""


@dataclass(frozen=True)
class NameChange:
    """One source's display name before and after (None: no display name, the stored value shows)."""

    source: str
    before: str | None
    after: str | None


def source_names(engine: Engine) -> pd.DataFrame:
    """Every source the leads carry (and any source still named after its leads went), with its lead count and
    its display name ("" when it has none); most leads first."""
    with read_scope(engine) as session:
        counts: dict[str, int] = dict(session.execute(select(Lead.source, func.count()).group_by(Lead.source)).all())
        names = display_names(session.connection(), FIELD)
    rows = [(source, counts.get(source, 0), names.get(source, "")) for source in {*counts, *names}]
    frame = pd.DataFrame(rows, columns=["source", "leads", "display_name"])
    return frame.sort_values(["leads", "source"], ascending=[False, True], ignore_index=True)


def edited_names(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, str | None]:
    """The names an edit of `source_names`' table changed: source -> the new name, or None where it was emptied."""
    old = dict(zip(before["source"], before["display_name"].fillna(""), strict=True))
    changes: dict[str, str | None] = {}
    for source, typed in zip(after["source"], after["display_name"].fillna(""), strict=True):
        name = str(typed).strip()
        if name != str(old.get(source, "")).strip():
            changes[source] = name or None
    return changes


def set_name(engine: Engine, source: str, name: str, *, actor: Actor) -> NameChange | None:
    """Gives `source` the display name `name` (a new one or a rename); None when it already had it."""
    return next(iter(rename(engine, {source: name}, actor=actor)), None)


def clear_name(engine: Engine, source: str, *, actor: Actor) -> NameChange:
    """Removes `source`'s display name: the stored value shows again."""
    return rename(engine, {source: None}, actor=actor)[0]


@retrying
def rename(engine: Engine, changes: Mapping[str, str | None], *, actor: Actor) -> list[NameChange]:
    """Sets (a name) or clears (None) each source's display name, all or nothing, each change audited.

    Refused with DisplayNameError: a blank or over-long name, a source no lead carries, a name another source
    already shows under, clearing a name that is not set.
    """
    require(actor, "import_data")
    with session_scope(engine) as session:
        # Row-locked on PostgreSQL: two people saving names at once must not undo each other's.
        row = session.get(Setting, DISPLAY_NAMES_KEY, with_for_update=True)
        stored: dict[str, Any] = dict(row.value) if row is not None and isinstance(row.value, dict) else {}
        current = {str(key): str(value) for key, value in (stored.get(FIELD) or {}).items()}
        done = _checked(session, current, changes)
        if not done:
            return []
        names = dict(current)
        for change in done:
            if change.after is None:
                names.pop(change.source)
            else:
                names[change.source] = change.after
        value = {**stored, FIELD: names}
        write_row(session, DISPLAY_NAMES_KEY, value, actor.username)
        for change in done:
            audit.record(
                session,
                actor=actor.username,
                action="clear_display_name" if change.after is None else "set_display_name",
                entity="source",
                entity_key=change.source,
                detail={"before": change.before, "after": change.after},
            )
        return done


def _checked(session: Session, current: dict[str, str], changes: Mapping[str, str | None]) -> list[NameChange]:
    """The changes that change something, or DisplayNameError naming every one refused."""
    requested = {source: (None if name is None else name.strip()) for source, name in changes.items()}
    unnamed = sorted(source for source, name in requested.items() if name is None and source not in current)
    named = {source: name for source, name in requested.items() if name is not None}
    known = set(session.execute(select(Lead.source).where(Lead.source.in_(list(named))).distinct()).scalars())
    after = {**current, **named}
    for source in requested:
        if requested[source] is None:
            after.pop(source, None)
    problems = [f"{source!r} has no display name to clear" for source in unnamed]
    for source, name in named.items():
        if not name:
            problems.append(f"the display name of {source!r} is blank; clear it to show the stored value instead")
        elif len(name) > MAX_NAME_LENGTH:
            problems.append(
                f"the display name of {source!r} has {len(name)} characters; at most {MAX_NAME_LENGTH} fit a chart"
            )
        elif source not in known and source not in current:
            problems.append(f"no lead has the source {source!r}; names are for sources as they are stored")
        else:
            twins = sorted(other for other, shown in after.items() if other != source and _same(shown, name))
            if twins:
                problems.append(f"{name!r} is already the display name of {twins[0]!r}; two sources would read alike")
    if problems:
        raise DisplayNameError("; ".join(problems))
    return [
        NameChange(source, current.get(source), name)
        for source, name in requested.items()
        if current.get(source) != name
    ]


def _same(one: str, other: str) -> bool:
    return one.casefold() == other.casefold()
