"""Which fields each stored row's imports carried: the difference between "did not happen" and "unknown".

A blank `sql_at` on a lead whose file had an SQL date column means the lead never became an SQL; on a lead
whose file had no such column it means nobody knows. Every lead and opportunity keeps a bitmask (`carried`)
of the fields any import that wrote it carried; KPIs that need a field count only the rows that carried it,
and are "not available" when none did.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import QueryableAttribute

from core.formats import kind_spec

# Kinds whose rows keep what their imports carried (touches, spend and targets carry all their fields).
TRACKED = ("leads", "opportunities")
# Set on an opportunity whose deals file held at least one lost deal: a file of wins alone (Olist's closed
# deals) says nothing about how many deals were lost, so no win rate can come from it.
LOSSES_BIT = 1 << 30


def bit(kind: str, field: str) -> int:
    """The bit of `field` in a row's `carried` mask: its position among the kind's fields."""
    return 1 << kind_spec(kind).field_names.index(field)


def mask(kind: str, fields: Iterable[str]) -> int:
    total = 0
    for field in fields:
        total |= bit(kind, field)
    return total


def everything(kind: str) -> int:
    """Every field of the kind: what a row of a complete canonical file carries."""
    return mask(kind, kind_spec(kind).field_names)


def carried(
    column: ColumnElement[int] | QueryableAttribute[int], kind: str, *fields: str, extra: int = 0
) -> ColumnElement[bool]:
    """True on rows whose imports carried every one of `fields` (and the `extra` bits)."""
    wanted = mask(kind, fields) | extra
    return and_(column.op("&")(wanted) == wanted)
