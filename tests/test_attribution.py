"""Attribution models on 1-, 2- and 4-touch paths, and CAC, computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from core.funnel.attribution import MODELS, cac_by_channel, revenue_by_channel, revenue_by_model
from core.funnel.kpis import KpiQuery
from tests.fixtures import load_fixture

JAN = KpiQuery(dt.date(2025, 1, 1), dt.date(2025, 1, 31))

# Won in January: O1 (10,000; 4 touches before its close on 29 Jan — the 30 Jan touch is after),
# O3 (20,000; 2 touches: one on its lead, one on the opportunity), O5 (3,000; 1 touch).
EXPECTED = {
    "first_touch": {"paid_search": 10_000, "paid_social": 20_000, "events": 3_000},
    "last_touch": {"events": 13_000, "email": 20_000},
    "linear": {"paid_search": 2_500, "webinar": 2_500, "email": 12_500, "events": 5_500, "paid_social": 10_000},
    "u_shaped": {"paid_search": 4_000, "webinar": 1_000, "email": 11_000, "events": 7_000, "paid_social": 10_000},
}


def _decay_shares(ages_days: list[float]) -> list[float]:
    weights = [0.5 ** (age / 7) for age in ages_days]
    return [w / sum(weights) for w in weights]


@pytest.fixture
def company(engine: Engine) -> Engine:
    load_fixture(engine)
    return engine


def revenue(engine: Engine, model: str) -> dict[str, float]:
    frame = revenue_by_channel(engine, JAN, model)  # type: ignore[arg-type]
    return dict(zip(frame["channel"], frame["revenue"], strict=True))


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_position_models(company: Engine, model: str) -> None:
    assert revenue(company, model) == pytest.approx(EXPECTED[model])


def test_time_decay(company: Engine) -> None:
    # O1 closes 29 Jan 10:00; its touches are 28, 24, 17 and 7 days old.
    o1 = dict(zip(["paid_search", "webinar", "email", "events"], _decay_shares([28, 24, 17, 7]), strict=True))
    # O3 closes 30 Jan 10:00; touches 16 and 14 days old.
    o3 = dict(zip(["paid_social", "email"], _decay_shares([16, 14]), strict=True))
    expected = {
        "paid_search": 10_000 * o1["paid_search"],
        "webinar": 10_000 * o1["webinar"],
        "email": 10_000 * o1["email"] + 20_000 * o3["email"],
        "events": 10_000 * o1["events"] + 3_000,
        "paid_social": 20_000 * o3["paid_social"],
    }
    assert revenue(company, "time_decay") == pytest.approx(expected)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_credits_the_whole_won_amount(company: Engine, model: str) -> None:
    frame = revenue_by_channel(company, JAN, model)
    assert frame["revenue"].sum() == pytest.approx(33_000)
    assert frame["won_credit"].sum() == pytest.approx(3)


def test_won_opportunity_without_touches_is_unattributed(company: Engine) -> None:
    from core.imports.runs import import_csv
    from tests.conftest import TESTER, csv_file

    import_csv(
        company,
        "opportunities",
        csv_file("opportunity_id,created_at,amount,closed_at,is_won\nO9,2025-01-02,700,2025-01-03,true\n"),
        actor=TESTER,
    )
    assert revenue(company, "linear")["unattributed"] == pytest.approx(700)


def test_ranking_changes_between_models(company: Engine) -> None:
    ranks = revenue_by_model(company, JAN).pivot(index="channel", columns="model", values="rank")
    assert ranks.loc["paid_social", "first_touch"] == 1
    assert ranks.loc["email", "last_touch"] == 1


def test_cac_by_channel(company: Engine) -> None:
    frame = cac_by_channel(company, JAN, "linear").set_index("channel")
    # paid_search: 5,000 spend / 0.25 won credit; events: 2,000 / (0.25 + 1).
    assert frame.loc["paid_search", "cac"] == pytest.approx(20_000)
    assert frame.loc["events", "cac"] == pytest.approx(1_600)
    assert frame.loc["email", "spend"] == 0


def test_cac_without_wins_is_no_data(company: Engine) -> None:
    frame = cac_by_channel(company, JAN, "first_touch").set_index("channel")
    assert frame.loc["events", "cac"] == pytest.approx(2_000 / 1)
    assert frame["cac"].isna().sum() == 0
    frame = cac_by_channel(company, JAN, "last_touch").set_index("channel")
    assert frame.loc["paid_search", "cac"] != frame.loc["paid_search", "cac"]  # NaN: spend, but nothing won
