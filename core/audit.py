"""The audit log: every write in core records who did what, in the same transaction.

On screen an entry reads in words (`AuditPage.in_words`, `detail_in_words`); the CSV keeps what is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Select, func, insert, select
from sqlalchemy.orm import Session

from core import formatting
from core.formatting import MISSING
from core.models import AuditEntry, utcnow
from core.permissions import Actor, require
from core.vocabulary import (
    KPI_KINDS,
    KPI_LABELS,
    LEAD_FIELD_LABELS,
    ROLE_LABELS,
    RULE_LABELS,
    audit_word,
    category_label,
    humanise,
    kpi_label,
    person,
    value_name,
)


def record(
    target: Session | Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    statement = insert(AuditEntry).values(
        at=utcnow(), actor=actor, action=action, entity=entity, entity_key=entity_key, detail=detail or {}
    )
    target.execute(statement)


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit-log view; None means any. Days are UTC calendar days, both ends included."""

    who: str | None = None
    entity: str | None = None
    action: str | None = None
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    key_contains: str | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: pd.DataFrame  # newest first: id, at, actor, action, entity, entity_key, detail (JSON text)
    total: int  # entries matching the filters, of which `rows` holds the newest `limit`

    def in_words(self, people: Mapping[str, str]) -> pd.DataFrame:
        """`rows` as a person reads them (`people`: user name -> name): who by name, the action and what it
        was done to in words, a user's key as the person's name, the detail in words. Same columns as `rows`,
        which keeps the stored values for the CSV."""
        rows = self.rows
        return rows.assign(
            actor=[actor_in_words(name, people) for name in rows["actor"]],
            action=[audit_word(key) for key in rows["action"]],
            entity=[audit_word(key) for key in rows["entity"]],
            entity_key=[
                key_in_words(entity, key, people)
                for entity, key in zip(rows["entity"], rows["entity_key"], strict=True)
            ],
            detail=[
                detail_in_words(_paired(entity, action, json.loads(text) if text else None), people)
                for entity, action, text in zip(rows["entity"], rows["action"], rows["detail"], strict=True)
            ],
        )


USER_ENTITY = "user"  # entries about an account: their key is a user name
PART = " · "  # between an entry's facts
WITHIN = " › "  # from a nested fact's outer key to its own
CHANGE = " → "  # from before to after

# Detail keys whose label elsewhere in the vocabulary would not say what the entry means.
DETAIL_LABELS: dict[str, str] = {
    "sha256": "SHA-256",
    "version_id": "Version",
    "action_id": "Action",
    "replaces": "Replaces version",
    "failures": "Wrong passwords",
    "failures_cleared": "Wrong passwords cleared",
    "opens_on": "Opens",
    "closes_on": "Closes",
    "lead_field": "Lead field",
    "attempts_required": "Needs the SLA's touch attempts first",
    "business_start": "Business hours start",
    "business_end": "Business hours end",
    "holiday_country": "Holiday calendar",
    "holiday_subdivision": "Holiday region",
    "mid_market_from": "Mid-market from (employees)",
    "enterprise_from": "Enterprise from (employees)",
    "sla": "SLA",  # a weekly sync's section
}

# Values kept exactly as typed even when they look like machine keys: names, file and column names, free text.
AS_TYPED = frozenset(
    {
        "name",
        "was",
        "reason",
        "file",
        "sha256",
        "email",
        "column",
        "columns",
        "candidates",
        "ignore_columns",
        "null_values",
        "text",
        "prose",
        "comment",
        "description",
        "notes",
        "attendees",
        "owner",
        "timezone",
    }
)
ROLE_KEYS = frozenset({"role", "from", "to"})  # a role change records {"from": role, "to": role}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MACHINE_KEY = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_PLAN_KEY = re.compile(r"^(\d{4}-\d{2}) (\S+)$")  # core.admin.planning's "2026-01 won_revenue"
_ON_BEHALF = re.compile(r"^(\S+) \((.+)\)$")  # "sales_lead (signed sla v1)": a write a signature caused
# Entries whose detail maps each changed field to [before, after] (core.rejections.catalogue.update_reason).
PAIRED = frozenset({("rejection_reason", "update")})


def actor_in_words(name: str | None, people: Mapping[str, str]) -> str:
    """Who wrote an entry: `core.vocabulary.person`, and a write someone's signature caused by their name too."""
    caused = _ON_BEHALF.match(name or "")
    if caused and caused[1] in people and name not in people:
        return f"{people[caused[1]]} ({caused[2]})"
    return person(name, people)


def key_in_words(entity: str, key: Any, people: Mapping[str, str]) -> str:
    """What an entry is about, as people read it: an account by the person's name, a target's metric and a
    source or spend channel in words; any other key (a file's import id, a mapping's name) as stored."""
    if entity == USER_ENTITY:
        return person(key if isinstance(key, str) else None, people)
    text = formatting.text(key)
    planned = _PLAN_KEY.match(text)
    if entity == "target" and planned:
        return f"{planned[1]} {kpi_label(planned[2])}"
    if entity == "spend" and planned:
        return f"{planned[1]} {value_name(planned[2])}"
    if entity == "source" and text != MISSING:
        return value_name(text)
    return text


def _paired(entity: str, action: str, detail: Any) -> Any:
    if (entity, action) not in PAIRED or not isinstance(detail, Mapping):
        return detail
    pairs = {key: value for key, value in detail.items() if isinstance(value, list) and len(value) == 2}
    if len(pairs) != len(detail):
        return detail
    return {
        "before": {key: value[0] for key, value in pairs.items()},
        "after": {key: value[1] for key, value in pairs.items()},
    }


def detail_label(key: str) -> str:
    """A detail's key as words: "score_threshold" -> "Score threshold", "sla_hours" -> "SLA hours"."""
    return (
        DETAIL_LABELS.get(key)
        or KPI_LABELS.get(key)  # before the rules' "MQL → SQL gate", whose arrow would read as a change
        or RULE_LABELS.get(key)
        or LEAD_FIELD_LABELS.get(key)
        or humanise(key)
    )


def _number(value: float, key: str | None) -> str:
    kind = KPI_KINDS.get(key or "")
    if kind == "percent":
        return formatting.percent(value)
    if kind == "money":
        return formatting.money(value)
    if not formatting.known(value):
        return MISSING
    if isinstance(value, int) or float(value).is_integer():
        return formatting.count(value)
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def _text(value: str, key: str | None, people: Mapping[str, str]) -> str:
    value = " ".join(value.split())  # one line in a table cell
    if not value:
        return MISSING
    if key == "owner" and value in people:  # a sandbox trial's owner is a user name; an action's, a name
        return people[value]
    if key in AS_TYPED:
        return value
    if key in ROLE_KEYS and value in ROLE_LABELS:
        return ROLE_LABELS[value]
    if key == "category":
        return category_label(value)
    if key == "lead_field":
        return LEAD_FIELD_LABELS.get(value) or humanise(value)
    if _ISO_MOMENT.match(value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC)
        return f"{moment:%Y-%m-%d %H:%M} UTC"  # the log stores UTC, naive or not
    if _MACHINE_KEY.match(value):
        return humanise(value)
    return value


def _value(value: Any, key: str | None, people: Mapping[str, str]) -> str:
    """One stored value in words; a dict inside a list reads as its facts in brackets."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "business_days" and isinstance(value, list) and all(isinstance(day, int) for day in value):
        return ", ".join(WEEKDAYS[day] if 0 <= day < len(WEEKDAYS) else str(day) for day in value) or MISSING
    if isinstance(value, int | float):
        return _number(value, key)
    if isinstance(value, str):
        return _text(value, key, people)
    if isinstance(value, Mapping):
        return "(" + "; ".join(_parts(value, people)) + ")" if value else MISSING
    if isinstance(value, list | tuple):
        return ", ".join(_value(item, key, people) for item in value) or MISSING
    return str(value)


def _parts(detail: Mapping[str, Any], people: Mapping[str, str], outer: str = "") -> list[str]:
    """Each fact as "Key: value"; a nested dict's facts each as "Outer › Key: value"."""
    parts: list[str] = []
    for key, value in detail.items():
        label = outer + detail_label(str(key))
        if isinstance(value, Mapping) and value:
            parts += _parts(value, people, label + WITHIN)
        else:
            parts.append(f"{label}: {_value(value, str(key), people)}")
    return parts


def _changes(
    before: Mapping[str, Any], after: Mapping[str, Any], people: Mapping[str, str], outer: str = ""
) -> list[str]:
    """Only what differs, each as "Key: before → after"."""
    parts: list[str] = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        label = outer + detail_label(str(key))
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            parts += _changes(old, new, people, label + WITHIN)
        else:
            parts.append(f"{label}: {_value(old, str(key), people)}{CHANGE}{_value(new, str(key), people)}")
    return parts


def detail_in_words(detail: Any, people: Mapping[str, str] | None = None) -> str:
    """An entry's stored detail as a person reads it, e.g. {"demo": true, "name": "Sasha Sales Lead", "role":
    "sales_lead"} -> "Demo: yes · Name: Sasha Sales Lead · Role: Sales lead".

    Keys in words; yes/no; a missing value is MISSING; lists joined by commas; a nested dict's facts flattened
    ("Rules › Score threshold: 60"). A before and an after read before first; when both are dicts only what
    changed ("SLA hours: 4 → 6"), when only one is, its facts. Text that is a machine key is humanised, other
    text (names, files, free text) is as typed.
    """
    people = people or {}
    if detail is None or (isinstance(detail, Mapping | list | str) and not detail):
        return MISSING
    if not isinstance(detail, Mapping):
        return _value(detail, None, people)
    if "before" not in detail or "after" not in detail:
        return PART.join(_parts(detail, people))
    before, after = detail["before"], detail["after"]
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        change = _changes(before, after, people) or ["No change"]
    elif before is None and isinstance(after, Mapping):  # created: what it is
        change = _parts(after, people)
    elif after is None and isinstance(before, Mapping):  # removed: what it was
        change = _parts(before, people)
    else:
        change = _parts({"before": before, "after": after}, people)
    parts: list[str] = []
    for key, value in detail.items():
        if key not in ("before", "after"):
            parts += _parts({key: value}, people)
        elif change:  # where the first of the two is
            parts, change = parts + change, []
    return PART.join(parts)


def _filtered(statement: Select[Any], query: AuditQuery) -> Select[Any]:
    if query.who:
        statement = statement.where(AuditEntry.actor == query.who)
    if query.entity:
        statement = statement.where(AuditEntry.entity == query.entity)
    if query.action:
        statement = statement.where(AuditEntry.action == query.action)
    if query.first_day:
        statement = statement.where(AuditEntry.at >= dt.datetime.combine(query.first_day, dt.time()))
    if query.last_day:
        statement = statement.where(
            AuditEntry.at < dt.datetime.combine(query.last_day + dt.timedelta(days=1), dt.time())
        )
    if query.key_contains:
        statement = statement.where(AuditEntry.entity_key.icontains(query.key_contains.strip(), autoescape=True))
    return statement


def entries(engine: Engine, actor: Actor, query: AuditQuery, *, limit: int = 500) -> AuditPage:
    require(actor, "view_audit")
    columns = (
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.entity,
        AuditEntry.entity_key,
        AuditEntry.detail,
    )
    with engine.connect() as connection:
        total = int(connection.scalar(_filtered(select(func.count()).select_from(AuditEntry), query)) or 0)
        rows = connection.execute(_filtered(select(*columns), query).order_by(AuditEntry.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=["id", "at", "actor", "action", "entity", "entity_key", "detail"])
    frame["detail"] = [json.dumps(detail, sort_keys=True, default=str) if detail else "" for detail in frame["detail"]]
    return AuditPage(frame, total)


def facets(engine: Engine, actor: Actor) -> dict[str, list[str]]:
    """The distinct actors, entities and actions in the log, for the filter pickers."""
    require(actor, "view_audit")
    pickers = {"who": AuditEntry.actor, "entity": AuditEntry.entity, "action": AuditEntry.action}
    with engine.connect() as connection:
        return {name: sorted(connection.scalars(select(column).distinct())) for name, column in pickers.items()}
