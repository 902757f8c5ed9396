"""The KPI counts kept beside the rows: per local day, lead source and segment, written in the transaction of
each import and settings change that moves them (core.funnel.rollups), so that the Scoreboard sums a few
thousand rows instead of scanning a million leads.

Why this grain: the Scoreboard's views are unfiltered, by source or by segment; a day × source × segment cell
holds about forty MQLs at a million leads over two years (730 days × 9 sources × 4 segments = 26k cells at
most), and a view of any range and grain (week, month, quarter, a custom range) adds up whole days. Owners,
campaigns, industries and size bands would multiply the cells past the rows; views filtered by them read the
rows (core.funnel.kpis).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class MqlDayFacts(Base):
    """The counts of the MQLs of one local MQL day, source and segment (the segment as the settings cut it).
    The SLA columns need no "now": the leads still unanswered are counted once, and a view splits them into
    breached and pending by their due time on the rows (few: only the unanswered)."""

    __tablename__ = "mql_day_facts"

    mql_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment: Mapped[str] = mapped_column(String(16), primary_key=True)
    mqls: Mapped[int] = mapped_column(Integer)
    sqls: Mapped[int] = mapped_column(Integer)
    sql_known: Mapped[int] = mapped_column(Integer)
    opportunity_mqls: Mapped[int] = mapped_column(Integer)
    won_mqls: Mapped[int] = mapped_column(Integer)
    disposition_known: Mapped[int] = mapped_column(Integer)
    rejection_dates_known: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dispositioned: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    reason_known: Mapped[int] = mapped_column(Integer)
    rejected_no_reason: Mapped[int] = mapped_column(Integer)
    response_known: Mapped[int] = mapped_column(Integer)
    sla_met: Mapped[int] = mapped_column(Integer)
    sla_late: Mapped[int] = mapped_column(Integer)  # answered after the SLA ran out
    unanswered: Mapped[int] = mapped_column(Integer)  # from a file with response times, and no response
    unanswered_without_due: Mapped[int] = mapped_column(Integer)
    responded: Mapped[int] = mapped_column(Integer)
    completeness_known: Mapped[int] = mapped_column(Integer)
    complete_mqls: Mapped[int] = mapped_column(Integer)


class CreatedDayFacts(Base):
    """Leads created per local day, source and segment: the top of the funnel."""

    __tablename__ = "created_day_facts"

    created_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment: Mapped[str] = mapped_column(String(16), primary_key=True)
    leads_created: Mapped[int] = mapped_column(Integer)


class DealDayFacts(Base):
    """Deals per local day, by what happened that day ("created" or "closed") and their lead's source and
    segment. A deal without a lead has `linked` false, source '' and segment "unknown" (a missing lead has no
    company size, as the rows' segment filter sees it)."""

    __tablename__ = "deal_day_facts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    event: Mapped[str] = mapped_column(String(8), primary_key=True)
    linked: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment: Mapped[str] = mapped_column(String(16), primary_key=True)
    deals: Mapped[int] = mapped_column(Integer)
    amount: Mapped[float | None] = mapped_column(Float)  # NULL when no deal of the cell had an amount
    marketing_amount: Mapped[float | None] = mapped_column(Float)
    sales_amount: Mapped[float | None] = mapped_column(Float)
    without_amount: Mapped[int] = mapped_column(Integer)
    won: Mapped[int] = mapped_column(Integer)
    closed_known: Mapped[int] = mapped_column(Integer)
    won_known: Mapped[int] = mapped_column(Integer)
    won_amount: Mapped[float | None] = mapped_column(Float)
    won_with_amount: Mapped[int] = mapped_column(Integer)
    won_cycle_days: Mapped[float | None] = mapped_column(Float)
    won_with_cycle: Mapped[int] = mapped_column(Integer)


class MaturityLag(Base):
    """Days within which nine in ten of the organisation's past conversions happened (core.funnel.caveats),
    kept at import: measuring them sorts every lead."""

    __tablename__ = "maturity_lags"

    kpi: Mapped[str] = mapped_column(String(16), primary_key=True)
    days: Mapped[float] = mapped_column(Float)


class PeriodMedian(Base):
    """The exact median of a metric ("response": an MQL cohort's response minutes; "cycle": the days to close of
    the deals won) for each week, month and quarter, in total, by lead source and by segment (core.funnel.medians).
    A period and group without a value has no row."""

    __tablename__ = "period_medians"

    metric: Mapped[str] = mapped_column(String(8), primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    grouping: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    grp: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
