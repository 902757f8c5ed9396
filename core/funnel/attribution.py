"""Revenue by source under an attribution model, and CAC by channel.

Each opportunity won in the range is credited to the channels of the touches
that came before its close (touches on the opportunity itself or on its lead):

- first_touch / last_touch: all credit to the first / last touch;
- linear: equal shares;
- u_shaped: 40% first, 40% last, 20% spread over the middle (one touch 100%, two 50/50);
- time_decay: weight halves every 7 days before the close, normalised to 1.

A won opportunity with no touches is credited to "unattributed" so that
revenue adds up to the won amount under every model. Everything runs in SQL
with window functions, once per import: the credits of each won opportunity, channel and model are stored
(attribution_credits) by the import that changed the deal or its touches, and a view sums them.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union,
    union_all,
)

from core import sql
from core.funnel.kpis import KpiQuery
from core.funnel.segments import opportunity_scope
from core.models import AttributionCredit, CalendarDay, Lead, Opportunity, Spend, Touch
from core.settings import load

Model = Literal["first_touch", "last_touch", "linear", "u_shaped", "time_decay"]
MODELS: tuple[Model, ...] = ("first_touch", "last_touch", "linear", "u_shaped", "time_decay")
UNATTRIBUTED = "unattributed"
HALF_LIFE_DAYS = 7.0


def _age_days(connection: Connection, later: Any, earlier: Any) -> Any:
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 86_400.0
    return func.julianday(later) - func.julianday(earlier)


def _weight(model: Model, position: Any, count: Any, decay: Any) -> Any:
    if model == "first_touch":
        return case((position == 1, 1.0), else_=0.0)
    if model == "last_touch":
        return case((position == count, 1.0), else_=0.0)
    if model == "linear":
        return 1.0 / count
    if model == "u_shaped":
        return case(
            (count == 1, 1.0),
            (count == 2, 0.5),
            (position == 1, 0.4),
            (position == count, 0.4),
            else_=0.2 / (count - 2),
        )
    return decay


def credit_rows(connection: Connection, opportunity_ids: Select[Any] | None) -> Select[Any]:
    """(opportunity_id, model, channel, credit) for the won opportunities among `opportunity_ids` (all when
    None): each path of touches before the close weighted by every model, summed per channel; a win without
    touches credits "unattributed" in full. Window functions over the touches: the cost the stored credits
    pay once per import instead of once per view."""
    won_filter = [Opportunity.is_won.is_(True), Opportunity.closed_at.is_not(None)]
    if opportunity_ids is not None:
        won_filter.append(Opportunity.opportunity_id.in_(opportunity_ids))
    won = select(Opportunity.opportunity_id, Opportunity.lead_id, Opportunity.closed_at).where(*won_filter).cte("won")
    by_opportunity = select(
        won.c.opportunity_id, won.c.closed_at, Touch.id.label("touch_id"), Touch.touched_at, Touch.channel
    ).join(
        Touch,
        # `<> ''` lets the planner use the index of the touches of a deal (a partial index).
        and_(
            Touch.opportunity_id != "",
            Touch.opportunity_id == won.c.opportunity_id,
            Touch.touched_at <= won.c.closed_at,
        ),
    )
    by_lead = select(
        won.c.opportunity_id, won.c.closed_at, Touch.id.label("touch_id"), Touch.touched_at, Touch.channel
    ).join(
        Touch,
        and_(
            won.c.lead_id.is_not(None),
            Touch.lead_id == won.c.lead_id,
            Touch.touched_at <= won.c.closed_at,
        ),
    )
    paths = union(by_opportunity, by_lead).cte("paths")
    age = _age_days(connection, paths.c.closed_at, paths.c.touched_at)
    ranked = select(
        paths.c.opportunity_id,
        paths.c.channel,
        func.row_number()
        .over(partition_by=paths.c.opportunity_id, order_by=[paths.c.touched_at, paths.c.touch_id])
        .label("position"),
        func.count().over(partition_by=paths.c.opportunity_id).label("n"),
        age.label("age"),
        func.min(age).over(partition_by=paths.c.opportunity_id).label("min_age"),
    ).cte("ranked")
    # Relative to the newest touch so that old paths do not underflow to zero.
    raw_decay = func.exp(-math.log(2) * (ranked.c.age - ranked.c.min_age) / HALF_LIFE_DAYS)
    decayed = select(
        ranked.c.opportunity_id,
        ranked.c.channel,
        ranked.c.position,
        ranked.c.n,
        (raw_decay / func.sum(raw_decay).over(partition_by=ranked.c.opportunity_id)).label("decay"),
    ).cte("decayed")
    # UNION ALL: two touches on one channel weigh the same under a model, and both count.
    weighted = union_all(
        *(
            select(
                decayed.c.opportunity_id,
                literal(model).label("model"),
                decayed.c.channel,
                _weight(model, decayed.c.position, decayed.c.n, decayed.c.decay).label("weight"),
            )
            for model in MODELS
        )
    ).cte("weighted")
    touched = select(
        weighted.c.opportunity_id,
        weighted.c.model,
        weighted.c.channel,
        func.sum(weighted.c.weight).label("credit"),
    ).group_by(weighted.c.opportunity_id, weighted.c.model, weighted.c.channel)
    untouched = [
        select(won.c.opportunity_id, literal(model), literal(UNATTRIBUTED), literal(1.0)).where(
            ~won.c.opportunity_id.in_(select(paths.c.opportunity_id))
        )
        for model in MODELS
    ]
    # One flat UNION ALL: SQLite does not take a compound select in parentheses inside another.
    return union_all(touched, *untouched)  # type: ignore[return-value]


def refresh_credits(connection: Connection, opportunity_ids: Select[Any] | None = None) -> None:
    """Rewrite the stored credits of `opportunity_ids` (every opportunity when None) inside the caller's
    transaction: an import of deals passes the deals it inserted or changed, one of touches the deals those
    touches reach. A deal no longer won loses its credits."""
    if opportunity_ids is None:
        connection.execute(delete(AttributionCredit))
    else:
        connection.execute(delete(AttributionCredit).where(AttributionCredit.opportunity_id.in_(opportunity_ids)))
    columns = ["opportunity_id", "model", "channel", "credit"]
    connection.execute(insert(AttributionCredit).from_select(columns, credit_rows(connection, opportunity_ids)))


def refresh_credits_after_import(
    connection: Connection, kind: str, import_id: int, *, everything: bool = False
) -> None:
    """The credits an import changed: those of the deals it inserted or changed, or of the deals the touches
    it inserted or changed reach (by the deal, or by its lead). Rows an import left alone keep their import.
    `everything`: the import may have rewritten most rows, and every credit is rewritten (finding the deals it
    reached would cost more)."""
    if kind in ("opportunities", "touches") and everything:
        refresh_credits(connection)
    elif kind == "opportunities":
        refresh_credits(connection, select(Opportunity.opportunity_id).where(Opportunity.import_id == import_id))
    elif kind == "touches":
        new_touches = select(Touch.opportunity_id, Touch.lead_id).where(Touch.import_id == import_id).subquery()
        reached = select(Opportunity.opportunity_id).where(
            or_(
                Opportunity.opportunity_id.in_(select(new_touches.c.opportunity_id)),
                Opportunity.lead_id.in_(select(new_touches.c.lead_id)),
            )
        )
        refresh_credits(connection, reached)


def revenue_by_channel(target: Engine | Connection, query: KpiQuery, model: Model = "linear") -> pd.DataFrame:
    """Columns: period_start, channel, revenue, won_credit (fractional won opportunities)."""
    if model not in MODELS:
        raise ValueError(f"unknown attribution model {model!r}; expected one of {', '.join(MODELS)}")
    frame = _revenue(target, query, (model,))
    return frame.drop(columns="model")


def _revenue(target: Engine | Connection, query: KpiQuery, models: tuple[Model, ...]) -> pd.DataFrame:
    """Columns: model, period_start, channel, revenue, won_credit: the stored credits of the view's wins under
    each of `models`, in one query."""
    bucket = sql.bucket(query.grain, query.first_day)
    with sql.connection_of(target) as connection:
        settings = load(connection)
        won = (
            select(
                Opportunity.opportunity_id.label("opportunity_id"),
                Opportunity.amount.label("amount"),
                bucket.label("bucket"),
            )
            .select_from(Opportunity)
            .outerjoin(Lead, Lead.lead_id == Opportunity.lead_id)
            .join(CalendarDay, CalendarDay.day == Opportunity.closed_day)
            .where(
                Opportunity.is_won.is_(True),
                Opportunity.closed_day >= query.first_day,
                Opportunity.closed_day <= query.last_day,
                *opportunity_scope(query.filters, settings),
            )
            .cte("won")
        )
        # Each win once per model, so that a win without credits under one model is unattributed under that one.
        chosen = union_all(*(select(literal(model).label("model")) for model in models)).subquery("chosen")
        credits = AttributionCredit.__table__
        # A win the credits do not know yet (none should be) counts as unattributed, as one without touches.
        credit = func.coalesce(credits.c.credit, 1.0)
        channel = func.coalesce(credits.c.channel, literal(UNATTRIBUTED))
        statement = (
            select(
                chosen.c.model.label("model"),
                won.c.bucket.label("bucket"),
                channel.label("channel"),
                func.sum(won.c.amount * credit).label("revenue"),
                func.sum(credit).label("won_credit"),
            )
            .select_from(won)
            .join(chosen, true())
            .outerjoin(
                credits, and_(credits.c.opportunity_id == won.c.opportunity_id, credits.c.model == chosen.c.model)
            )
            .group_by(chosen.c.model, won.c.bucket, channel)
        )
        frame = sql.frame(connection, statement)
    if frame.empty:
        return pd.DataFrame(columns=["model", "period_start", "channel", "revenue", "won_credit"])
    frame = frame[frame["won_credit"] > 1e-12].rename(columns={"bucket": "period_start"})
    frame["revenue"] = frame["revenue"].astype(float).fillna(0.0)
    frame["won_credit"] = frame["won_credit"].astype(float)
    return frame.sort_values(["model", "period_start", "revenue"], ascending=[True, True, False]).reset_index(drop=True)


def revenue_by_model(target: Engine | Connection, query: KpiQuery) -> pd.DataFrame:
    """Revenue and rank per channel under every model, over the whole range."""
    revenue = _revenue(target, query, MODELS)
    frames = []
    for model in MODELS:
        frame = revenue[revenue["model"] == model]
        totals = frame.groupby("channel", as_index=False)[["revenue", "won_credit"]].sum()
        totals["model"] = model
        totals["rank"] = totals["revenue"].rank(ascending=False, method="min").astype(int)
        frames.append(totals)
    return pd.concat(frames, ignore_index=True)[["model", "channel", "revenue", "won_credit", "rank"]]


def spend_by_channel(target: Engine | Connection, query: KpiQuery) -> pd.DataFrame:
    """Monthly spend spread evenly over its days, summed per period and channel."""
    bucket = sql.bucket(query.grain, query.first_day)
    statement = (
        select(
            bucket.label("bucket"),
            Spend.channel.label("channel"),
            func.sum(Spend.amount / CalendarDay.days_in_month).label("spend"),
        )
        .select_from(CalendarDay)
        .join(Spend, Spend.month == CalendarDay.month_start)
        .where(CalendarDay.day >= query.first_day, CalendarDay.day <= query.last_day)
        .group_by(bucket, Spend.channel)
    )
    if query.filters.sources:
        statement = statement.where(Spend.channel.in_(query.filters.sources))
    with sql.connection_of(target) as connection:
        return sql.frame(connection, statement)


def cac_by_channel(target: Engine | Connection, query: KpiQuery, model: Model = "linear") -> pd.DataFrame:
    """Columns: period_start, channel, spend, won_credit, cac (no data where nothing was won)."""
    spend = spend_by_channel(target, query)
    credit = revenue_by_channel(target, query, model)
    if spend.empty and credit.empty:
        return pd.DataFrame(columns=["period_start", "channel", "spend", "won_credit", "cac"])
    spend = spend.rename(columns={"bucket": "period_start"})
    merged = spend.merge(credit[["period_start", "channel", "won_credit"]], on=["period_start", "channel"], how="outer")
    merged["spend"] = pd.to_numeric(merged["spend"], errors="coerce").astype(float).fillna(0.0)
    merged["won_credit"] = pd.to_numeric(merged["won_credit"], errors="coerce").astype(float).fillna(0.0)
    merged = merged[merged["channel"] != UNATTRIBUTED]
    merged["cac"] = sql.ratio(merged["spend"], merged["won_credit"])
    return merged.sort_values(["period_start", "channel"]).reset_index(drop=True)
