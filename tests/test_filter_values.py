"""The pickers' values are kept at import (core.funnel.segments.refresh_filter_values), not scanned from every
lead on each page: they must equal what the stored rows hold after every import, re-import and migration."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine

from core.db import alembic_config
from core.funnel.segments import NOT_SET, filter_options
from core.imports.runs import import_csv
from tests.conftest import TESTER, csv_file
from tests.fixtures import LEADS, OPPORTUNITIES
from tests.oracles import PICKED, picker_values_from_the_rows


def offered(engine: Engine) -> dict[str, list[str]]:
    return {field: filter_options(engine)[field] for field in PICKED}


def test_an_import_of_leads_and_deals_offers_what_they_hold(engine: Engine) -> None:
    assert offered(engine) == {field: [] for field in PICKED}
    import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    # Computed by hand from tests/fixtures.py: L7 has no owner and no campaign; no lead has an industry.
    assert offered(engine) == {
        "source": ["events", "organic_search", "paid_search", "webinar"],
        "owner": ["Alex", "Dana", NOT_SET],
        "campaign": ["ev-expo", "ps-brand", "ps-generic", "wb-jan", NOT_SET],
        "industry": [NOT_SET],
    }
    import_csv(engine, "opportunities", csv_file(OPPORTUNITIES, "deals.csv"), actor=TESTER)
    assert offered(engine)["owner"] == ["Alex", "Dana", "Kim", "Sam", NOT_SET]  # the deals' owners join
    assert offered(engine) == picker_values_from_the_rows(engine)


def test_a_re_import_that_moves_every_lead_off_a_value_takes_it_off_the_picker(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    import_csv(engine, "opportunities", csv_file(OPPORTUNITIES, "deals.csv"), actor=TESTER)
    # L2 leaves ps-generic (its only lead); L7 gets an owner and a campaign, so no lead is left without them.
    header = LEADS.splitlines()[0].split(",")
    l7 = dict.fromkeys(header, "") | {"lead_id": "L7", "created_at": "2025-01-07 08:00:00", "email": "g@eta.io"}
    l7 |= {"company": "Eta", "company_size": "10", "source": "organic_search", "campaign": "seo-blog", "owner": "Robin"}
    moved = "\n".join(
        ",".join(l7[column] for column in header) if line.startswith("L7,") else line
        for line in LEADS.replace("paid_search,ps-generic", "paid_search,ps-brand").splitlines()
    )
    assert "ps-generic" not in moved and "Robin" in moved
    import_csv(engine, "leads", csv_file(moved, "leads-again.csv"), actor=TESTER)
    options = offered(engine)
    assert "ps-generic" not in options["campaign"] and NOT_SET not in options["campaign"]
    assert options["owner"] == ["Alex", "Dana", "Kim", "Robin", "Sam"]  # no lead without an owner is left
    assert options == picker_values_from_the_rows(engine)


def test_a_dry_run_and_a_refused_file_change_no_picker(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    before = offered(engine)
    renamed = LEADS.replace("paid_search", "google_ads")
    import_csv(engine, "leads", csv_file(renamed, "leads-dry.csv"), actor=TESTER, dry_run=True)
    assert offered(engine) == before


def test_the_migration_fills_the_values_from_the_stored_rows(engine: Engine) -> None:
    import_csv(engine, "leads", csv_file(LEADS, "leads.csv"), actor=TESTER)
    import_csv(engine, "opportunities", csv_file(OPPORTUNITIES, "deals.csv"), actor=TESTER)
    expected = offered(engine)
    config = alembic_config(engine)
    command.downgrade(config, "0011")  # a database from before the table, with its rows
    command.upgrade(config, "head")
    assert offered(engine) == expected == picker_values_from_the_rows(engine)
