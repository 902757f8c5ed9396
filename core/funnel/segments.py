"""The slices a KPI can be cut to: the filters (source, segment, owner, campaign, industry, company size), the
SQL conditions they mean on leads and deals, the values each filter offers, and the span of the data.

Shared by the KPI engine, attribution and the rejection explorer, so that a filter means the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, case, delete, func, insert, literal, select, union
from sqlalchemy.orm import InstrumentedAttribute

from core import sql
from core.models import FilterValue, Lead, Opportunity
from core.settings import OrgSettings

NOT_SET = "(not set)"


@dataclass(frozen=True)
class Filters:
    """Empty tuples mean "all". Lead owner for lead KPIs, opportunity owner for opportunity KPIs."""

    sources: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    size_bands: tuple[str, ...] = ()  # names of SIZE_BANDS


def segment_expression(settings: OrgSettings) -> ColumnElement[str]:
    size = Lead.company_size
    return case(
        (size.is_(None), literal("unknown")),
        (size < settings.mid_market_from, literal("smb")),
        (size < settings.enterprise_from, literal("mid_market")),
        else_=literal("enterprise"),
    )


# Company-size bands by employees: (name, first, last); finer than the segments, for targeting questions.
SIZE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1-9", 0, 9),
    ("10-49", 10, 49),
    ("50-199", 50, 199),
    ("200-999", 200, 999),
    ("1000-4999", 1000, 4999),
    ("5000+", 5000, None),
)
UNKNOWN_SIZE = "unknown"


def size_band_expression() -> ColumnElement[str]:
    size = Lead.company_size
    bands = [(size <= last, literal(name)) for name, _, last in SIZE_BANDS if last is not None]
    return case((size.is_(None), literal(UNKNOWN_SIZE)), *bands, else_=literal(SIZE_BANDS[-1][0]))


def lead_filters(filters: Filters, settings: OrgSettings) -> list[ColumnElement[bool]]:
    """The lead-side conditions of `filters` (the owner filter is the caller's: lead or opportunity owner)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.sources:
        conditions.append(Lead.source.in_(filters.sources))
    if filters.campaigns:
        conditions.append(func.coalesce(Lead.campaign, NOT_SET).in_(filters.campaigns))
    if filters.segments:
        conditions.append(segment_expression(settings).in_(filters.segments))
    if filters.industries:
        conditions.append(func.coalesce(Lead.industry, NOT_SET).in_(filters.industries))
    if filters.size_bands:
        conditions.append(size_band_expression().in_(filters.size_bands))
    return conditions


def opportunity_scope(filters: Filters, settings: OrgSettings) -> list[ColumnElement[bool]]:
    """The conditions of `filters` on opportunities joined to their leads (the owner is the deal's)."""
    conditions = lead_filters(filters, settings)
    if filters.owners:
        conditions.append(func.coalesce(Opportunity.owner, NOT_SET).in_(filters.owners))
    return conditions


# The lead fields whose values the pickers offer, each from the columns that hold it (deals' owners too), and
# the imports that can change them.
PICKED_FIELDS: dict[str, tuple[InstrumentedAttribute[Any], ...]] = {
    "source": (Lead.source,),
    "owner": (Lead.owner, Opportunity.owner),
    "campaign": (Lead.campaign,),
    "industry": (Lead.industry,),
}
REFRESHED_BY = {"leads": ("source", "owner", "campaign", "industry"), "opportunities": ("owner",)}


def refresh_filter_values(connection: Connection, kind: str) -> None:
    """Rewrite the picker values an import of `kind` can change, inside the import's transaction.

    Rewritten, not added to: a re-import that moves every lead off a campaign takes the campaign off the
    picker. A blank lead field is a value one can filter on ("(not set)"); a deal without an owner is not
    offered, as deals are filtered by their lead's fields."""
    for field in REFRESHED_BY.get(kind, ()):
        lead_column, *deal_columns = PICKED_FIELDS[field]
        values = [select(literal(field), func.coalesce(lead_column, NOT_SET)).select_from(Lead)]
        values += [select(literal(field), column).where(column.is_not(None)) for column in deal_columns]
        connection.execute(delete(FilterValue).where(FilterValue.field == field))
        # UNION drops an owner on both leads and deals; one column alone needs its DISTINCT.
        every = union(*values) if len(values) > 1 else values[0].distinct()
        connection.execute(insert(FilterValue).from_select(["field", "value"], every))


def filter_options(target: Engine | Connection) -> dict[str, list[str]]:
    """The values each filter offers: sources, owners, campaigns and industries as imported (a blank as
    "(not set)", last), the segments and the company-size bands."""
    with sql.connection_of(target) as connection:
        stored = connection.execute(select(FilterValue.field, FilterValue.value).order_by(FilterValue.value)).all()
    picked: dict[str, list[str]] = {field: [] for field in PICKED_FIELDS}
    blank: set[str] = set()
    for field, value in stored:
        if value == NOT_SET:
            blank.add(field)
        else:
            picked[field].append(value)

    def with_blank(field: str, values: list[str]) -> list[str]:
        return [*values, NOT_SET] if field in blank else values

    return {
        "source": picked["source"],
        "owner": with_blank("owner", sorted(picked["owner"])),
        "campaign": with_blank("campaign", picked["campaign"]),
        "segment": ["smb", "mid_market", "enterprise", "unknown"],
        "industry": with_blank("industry", picked["industry"]),
        "size_band": [*(name for name, _, _ in SIZE_BANDS), UNKNOWN_SIZE],
    }


def data_range(target: Engine | Connection) -> tuple[dt.date, dt.date] | None:
    """First and last local day with any lead, or None for an empty database."""
    with sql.connection_of(target) as connection:
        first, last = connection.execute(select(func.min(Lead.created_day), func.max(Lead.created_day))).one()
    if first is None:
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def last_mql_day_before(target: Engine | Connection, day: dt.date) -> dt.date | None:
    """The latest local day before `day` on which some lead became an MQL, or None."""
    with sql.connection_of(target) as connection:
        last = connection.execute(select(func.max(Lead.mql_day)).where(Lead.mql_day < day)).scalar_one_or_none()
    return None if last is None else pd.Timestamp(last).date()
