"""Attribution credits are stored at import (core.funnel.attribution.refresh_credits_after_import) instead of
ranking every touch on each view: after any sequence of imports they must equal credits computed afresh from
the stored deals and touches. The models' arithmetic itself is tested by hand in test_attribution.py."""

from __future__ import annotations

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Engine, text

from core.db import alembic_config
from core.funnel.attribution import MODELS
from core.imports.runs import import_csv
from tests.conftest import TESTER, csv_file
from tests.fixtures import LEADS, OPPORTUNITIES, TOUCHES
from tests.oracles import credits_afresh, stored_credits


def same(engine: Engine) -> pd.DataFrame:
    credits = stored_credits(engine)
    pd.testing.assert_frame_equal(credits, credits_afresh(engine), check_exact=False, rtol=1e-9)
    return credits


def load(engine: Engine, kind: str, content: str, name: str) -> None:
    import_csv(engine, kind, csv_file(content, name), actor=TESTER)


def test_each_import_keeps_the_credits_of_the_deals_it_reaches(engine: Engine) -> None:
    load(engine, "leads", LEADS, "leads.csv")
    load(engine, "opportunities", OPPORTUNITIES, "deals.csv")
    credits = same(engine)
    # Before any touch, the three won deals (O1, O3, O5) are unattributed under every model.
    assert set(credits["channel"]) == {"unattributed"} and len(credits) == 3 * len(MODELS)
    load(engine, "touches", TOUCHES, "touches.csv")
    credits = same(engine)
    o1 = credits[(credits["opportunity_id"] == "O1") & (credits["model"] == "linear")]
    # O1 closed 2025-01-29: its own touch and its lead L1's four touches before the close (not the one after).
    assert dict(zip(o1["channel"], o1["credit"], strict=True)) == {
        "email": 0.25,
        "events": 0.25,
        "paid_search": 0.25,
        "webinar": 0.25,
    }
    for _, deal in credits.groupby(["opportunity_id", "model"]):
        assert abs(deal["credit"].sum() - 1.0) < 1e-9  # every won deal is credited in full under every model


def test_a_touch_on_the_lead_reaches_its_deal_and_a_lost_deal_loses_its_credits(engine: Engine) -> None:
    for kind, content in (("leads", LEADS), ("opportunities", OPPORTUNITIES), ("touches", TOUCHES)):
        load(engine, kind, content, f"{kind}.csv")
    # A touch on lead L4 only (no deal named) reaches O3 through its lead; a second paid-social touch on L4
    # weighs as much as the first under the linear model, and both count.
    more = "L4,,2025-01-18 10:00:00,webinar,wb-jan,webinar\nL4,,2025-01-19 10:00:00,paid_social,ps-jan,ad_click\n"
    load(engine, "touches", TOUCHES + more, "touches-again.csv")
    credits = same(engine)
    o3_linear = credits[(credits["opportunity_id"] == "O3") & (credits["model"] == "linear")]
    # O3's path: L4's paid social (14th), its own e-mail (16th), L4's webinar (18th), paid social again (19th).
    assert dict(zip(o3_linear["channel"], o3_linear["credit"], strict=True)) == {
        "email": 0.25,
        "paid_social": 0.5,
        "webinar": 0.25,
    }
    o3 = credits[(credits["opportunity_id"] == "O3") & (credits["model"] == "first_touch")]
    assert dict(zip(o3["channel"], o3["credit"], strict=True)) == {"paid_social": 1.0}
    assert "webinar" in set(credits[credits["opportunity_id"] == "O3"]["channel"])
    # O1 lost after all; O3 closes earlier, before L4's webinar.
    changed = OPPORTUNITIES.replace("2025-01-29 10:00:00,true", "2025-01-29 10:00:00,false").replace(
        "2025-01-30 10:00:00,true", "2025-01-17 10:00:00,true"
    )
    load(engine, "opportunities", changed, "deals-again.csv")
    credits = same(engine)
    assert "O1" not in set(credits["opportunity_id"])
    assert "webinar" not in set(credits[credits["opportunity_id"] == "O3"]["channel"])


def test_the_migration_computes_the_credits_of_the_stored_deals(engine: Engine) -> None:
    for kind, content in (("leads", LEADS), ("opportunities", OPPORTUNITIES), ("touches", TOUCHES)):
        load(engine, kind, content, f"{kind}.csv")
    expected = same(engine)
    config = alembic_config(engine)
    command.downgrade(config, "0012")  # a database from before the table, with its deals and touches
    command.upgrade(config, "head")
    pd.testing.assert_frame_equal(same(engine), expected)


def test_a_first_import_leaves_postgresql_planning_for_the_rows_it_wrote(engine: Engine) -> None:
    """The credits and counts an import computes after its merge are planned with the table's new size: a first
    import analyses what it wrote (without it PostgreSQL planned five million touches as an empty table, and a
    first touches import of a million leads ran for most of an hour)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    leads = "lead_id,created_at,source\n" + "".join(f"L{n},2025-01-0{n % 9 + 1} 10:00,web\n" for n in range(40))
    import_csv(engine, "leads", csv_file(leads, "leads.csv"), actor=TESTER)
    with engine.connect() as connection:
        estimated = connection.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'leads'::regclass")).scalar()
    assert estimated == 40
