"""Which rejections a view counts, and how each one's reason reads: the SQL every rejection query of the
explorer, the profiles and the streaks starts from.

A rejection belongs to the day sales logged it (`rejected_day`, local). Typed reasons are folded into keys
(`core.text.reason_key`) and mapped to canonical reasons by the catalogue at query time; a key the catalogue
does not know reads "Unmapped: <key>", a blank one NO_REASON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select

from core import coverage
from core.funnel.segments import NOT_SET, Filters, lead_filters
from core.models import Lead, ReasonSynonym, RejectionReason
from core.settings import OrgSettings

NO_REASON = "(no reason)"
UNMAPPED = "Unmapped: "

# A blank reason counts as "no reason given" only where the import carried a reason column (core.coverage).
REASON_CARRIED = coverage.carried(Lead.carried, "leads", "rejection_reason")
DISPOSITION_CARRIED = coverage.carried(Lead.carried, "leads", "sql_at", "rejected_at")


@dataclass(frozen=True)
class RejectionQuery:
    first_day: dt.date
    last_day: dt.date
    filters: Filters = field(default_factory=Filters)


def reason_label() -> ColumnElement[str]:
    """A rejection's reason as shown: the canonical name, "Unmapped: <key>", or NO_REASON."""
    return case(
        (Lead.reason_key.is_(None), literal(NO_REASON)),
        (RejectionReason.name.is_(None), literal(UNMAPPED) + Lead.reason_key),
        else_=RejectionReason.name,
    )


def premature(settings: OrgSettings) -> ColumnElement[bool]:
    """Rejected with fewer touch attempts than the SLA asks for, under a reason the attempts apply to."""
    # A blank or unmapped reason says nothing that would excuse skipping the attempts.
    attempts_required = or_(RejectionReason.attempts_required.is_(True), RejectionReason.id.is_(None))
    return and_(Lead.touch_attempts < settings.min_touch_attempts, attempts_required)


def filtered(query: RejectionQuery, settings: OrgSettings) -> list[ColumnElement[bool]]:
    """The view's filters on leads: the KPI engine's, plus the owners the explorer also filters on."""
    owners = query.filters.owners
    return [
        *lead_filters(query.filters, settings),
        *([func.coalesce(Lead.owner, NOT_SET).in_(owners)] if owners else []),
    ]


def select_rejections(query: RejectionQuery, settings: OrgSettings, *columns: Any) -> Select[Any]:
    """SELECT columns FROM the query's rejections, each joined to its canonical reason (if any)."""
    # MQLs only: a CRM also closes leads marketing never qualified, and those say nothing about its targeting.
    return (
        select(*columns)
        .select_from(Lead)
        .outerjoin(ReasonSynonym, ReasonSynonym.key == Lead.reason_key)
        .outerjoin(RejectionReason, RejectionReason.id == ReasonSynonym.reason_id)
        .where(
            Lead.rejected_day >= query.first_day,
            Lead.rejected_day <= query.last_day,
            Lead.mql_at.is_not(None),
            *filtered(query, settings),
        )
    )
