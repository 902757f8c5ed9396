"""Oracles for what imports keep beside their rows: the same facts read the slow way, from the rows themselves.
Not a test module; shared by the tests of the pickers' values, the attribution credits, the KPI counts kept
per day and the derived columns a settings change recomputes."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from core.funnel.attribution import credit_rows
from core.funnel.derived import LEAD_DERIVED, LEAD_INPUTS, OPPORTUNITY_DERIVED, lead_columns, opportunity_columns
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.segments import NOT_SET
from core.models import AttributionCredit, Lead, Opportunity
from core.settings import load

PICKED = ("source", "owner", "campaign", "industry")
CREDIT_COLUMNS = ["opportunity_id", "model", "channel", "credit"]


def picker_values_from_the_rows(engine: Engine) -> dict[str, list[str]]:
    """The pickers' values as the stored rows hold them (a blank as "(not set)", last)."""
    with engine.connect() as connection:
        leads = connection.execute(select(Lead.source, Lead.owner, Lead.campaign, Lead.industry)).all()
        deal_owners = connection.scalars(select(Opportunity.owner).where(Opportunity.owner.is_not(None))).all()
    columns = dict(zip(PICKED, zip(*leads, strict=True), strict=True)) if leads else {field: () for field in PICKED}

    def values(field: str, extra: list[str] | tuple[()] = ()) -> list[str]:
        shown = sorted({value for value in (*columns[field], *extra) if value is not None})
        return [*shown, NOT_SET] if None in columns[field] and field != "source" else shown

    return {
        "source": values("source"),
        "owner": values("owner", list(deal_owners)),
        "campaign": values("campaign"),
        "industry": values("industry"),
    }


def stored_credits(engine: Engine) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(select(*(getattr(AttributionCredit, name) for name in CREDIT_COLUMNS))).all()
    return _tidy(pd.DataFrame(rows, columns=CREDIT_COLUMNS))


def credits_afresh(engine: Engine) -> pd.DataFrame:
    """Every won deal's credits computed now from the stored deals and touches."""
    with engine.connect() as connection:
        rows = connection.execute(credit_rows(connection, None)).all()
    return _tidy(pd.DataFrame(rows, columns=CREDIT_COLUMNS))


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[frame["credit"].astype(float).abs() > 1e-12].astype({"credit": float})
    return frame.sort_values(CREDIT_COLUMNS[:3]).reset_index(drop=True)


def assert_kept_counts_give_the_rows_numbers(engine: Engine, query: KpiQuery) -> None:
    """The view's KPI table from the counts kept per day equals the one counted on the rows."""
    kept = kpi_table(engine, query)
    rows = kpi_table(engine, query, from_rows=True)
    # Sums of amounts add day cells instead of rows: the same number but for the last bits.
    pd.testing.assert_frame_equal(kept, rows, check_exact=False, rtol=1e-9, check_dtype=False)


def assert_derived_columns_are_fresh(engine: Engine) -> None:
    """Every stored derived column equals what the settings in force compute from the row's inputs afresh: a
    settings change that recomputes only the columns it moves must have missed none."""
    lead_names = ("lead_id", *LEAD_INPUTS, *LEAD_DERIVED)
    deal_names = ("opportunity_id", "created_at", "closed_at", *OPPORTUNITY_DERIVED)
    with engine.connect() as connection:
        settings = load(connection)
        leads = pd.read_sql(select(*(Lead.__table__.c[name] for name in lead_names)), connection)
        deals = pd.read_sql(select(*(Opportunity.__table__.c[name] for name in deal_names)), connection)
    for frame, derive, names in (
        (leads, lead_columns, LEAD_DERIVED),
        (deals, opportunity_columns, OPPORTUNITY_DERIVED),
    ):
        for name in frame:
            if name.endswith("_at"):
                frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
        afresh = derive(frame, settings)
        for name in names:
            stored, expected = frame[name], afresh[name]
            if name.endswith(("_day", "_at")):
                stored = pd.to_datetime(stored).astype("datetime64[us]")
                expected = pd.to_datetime(expected).astype("datetime64[us]")
            elif name == "reason_key":
                stored, expected = stored.astype(object).where(stored.notna()), expected.astype(object)
                stored, expected = stored.where(stored.notna(), None), expected.where(expected.notna(), None)
            else:
                stored, expected = stored.astype(float), expected.astype(float)
            pd.testing.assert_series_equal(stored, expected, check_names=False, check_dtype=False, rtol=1e-9)
