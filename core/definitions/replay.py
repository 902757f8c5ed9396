"""Replay an MQL definition on the stored leads: which leads it would have qualified, against the MQLs
recorded, and how the leads it adds or drops actually converted. Counted in SQL.

Leads are grouped by the day they were created: a rule decides whether a lead qualifies, not when, so
"would have been an MQL" and "was an MQL" are compared over the same leads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, literal, not_, select

from core import sql
from core.definitions.rules import IcpRules, MqlRules, qualifies
from core.definitions.versions import active
from core.models import CalendarDay, Lead, Opportunity
from core.periods import Grain, periods


@dataclass(frozen=True)
class Replay:
    table: pd.DataFrame  # one row per period; see COLUMNS
    totals: dict[str, float]

    def summary(self) -> str:
        t = self.totals
        if not t["recorded"]:
            return f"This rule would have qualified {t['would']:,.0f} leads; none were recorded as MQLs."
        change = (t["would"] - t["recorded"]) / t["recorded"]
        verb = "cut" if change < 0 else "raised"
        before, after = t["recorded_conversion"], t["would_conversion"]
        if pd.isna(before) or pd.isna(after):
            conversion = "left conversion unknown"
        elif f"{before:.0%}" == f"{after:.0%}":
            conversion = f"kept MQL→SQL conversion at {after:.0%}"
        else:
            conversion = (
                f"{'raised' if after > before else 'lowered'} MQL→SQL conversion from {before:.0%} to {after:.0%}"
            )
        return (
            f"This rule would have {verb} MQL volume {abs(change):.0%} ({t['recorded']:,.0f} → {t['would']:,.0f}) "
            f"and {conversion}: it adds {t['extra']:,.0f} leads, of which {t['extra_sql']:,.0f} became SQLs, and "
            f"drops {t['missing']:,.0f} MQLs, of which {t['missing_sql']:,.0f} became SQLs and "
            f"{t['missing_won']:,.0f} were won."
        )


COUNTS = (
    "leads",
    "recorded",
    "would",
    "extra",
    "missing",
    "recorded_sql",
    "would_sql",
    "recorded_won",
    "would_won",
    "extra_sql",
    "extra_won",
    "missing_sql",
    "missing_won",
)


def replay(
    engine: Engine,
    rules: dict[str, Any],
    first_day: dt.date,
    last_day: dt.date,
    grain: Grain = "month",
    *,
    icp: dict[str, Any] | None = None,
) -> Replay:
    """`rules` (an MQL version's) over the leads created from first_day to last_day. The ICP is the active
    one unless given."""
    mql = MqlRules.model_validate(rules)
    if icp is None:
        active_icp = active(engine, "icp")
        icp = active_icp.rules if active_icp else None
    fit = qualifies(mql, IcpRules.model_validate(icp) if icp is not None else None)
    recorded = Lead.mql_at.is_not(None)
    became_sql = Lead.sql_at.is_not(None)
    won = Lead.lead_id.in_(
        select(Opportunity.lead_id).where(Opportunity.is_won.is_(True), Opportunity.lead_id.is_not(None))
    )
    bucket = sql.bucket(grain, first_day)
    groups = {
        "leads": literal(True),
        "recorded": recorded,
        "would": fit,
        "extra": and_(fit, not_(recorded)),
        "missing": and_(not_(fit), recorded),
        "recorded_sql": and_(recorded, became_sql),
        "would_sql": and_(fit, became_sql),
        "recorded_won": and_(recorded, won),
        "would_won": and_(fit, won),
        "extra_sql": and_(fit, not_(recorded), became_sql),
        "extra_won": and_(fit, not_(recorded), won),
        "missing_sql": and_(not_(fit), recorded, became_sql),
        "missing_won": and_(not_(fit), recorded, won),
    }
    statement = (
        select(bucket.label("bucket"), *(sql.count_if(condition).label(name) for name, condition in groups.items()))
        .select_from(Lead)
        .join(CalendarDay, CalendarDay.day == Lead.created_day)
        .where(Lead.created_day >= first_day, Lead.created_day <= last_day)
        .group_by(bucket)
    )
    with engine.connect() as connection:
        facts = sql.frame(connection, statement)
    grid = pd.DataFrame(
        [(p.start, p.first_day, p.last_day) for p in periods(first_day, last_day, grain)],
        columns=["bucket", "period_start", "period_end"],
    )
    table = grid.merge(facts, on="bucket", how="left") if not facts.empty else grid
    for column in COUNTS:
        table[column] = pd.to_numeric(table[column], errors="coerce").fillna(0).astype(int) if column in table else 0
    table["recorded_conversion"] = sql.ratio(table["recorded_sql"], table["recorded"])
    table["would_conversion"] = sql.ratio(table["would_sql"], table["would"])
    totals: dict[str, float] = {column: float(table[column].sum()) for column in COUNTS}
    totals["recorded_conversion"] = totals["recorded_sql"] / totals["recorded"] if totals["recorded"] else float("nan")
    totals["would_conversion"] = totals["would_sql"] / totals["would"] if totals["would"] else float("nan")
    columns = ["period_start", "period_end", *COUNTS, "recorded_conversion", "would_conversion"]
    return Replay(table[columns], totals)
