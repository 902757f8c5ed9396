"""The Targets & spend page, run directly with AppTest on a temporary SQLite database."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine, insert, select
from streamlit.testing.v1 import AppTest

from core.models import AuditEntry, Setting, Spend, Target, Touch
from core.vocabulary import DISPLAY_NAMES_KEY
from tests.conftest import ROOT, run, signed_in_as, signed_in_as_existing

PAGE = str(ROOT / "pages" / "targets.py")


@pytest.fixture
def planned(database: Engine) -> Engine:
    with database.begin() as connection:
        connection.execute(
            insert(Target),
            [
                {"month": dt.date(2024, 12, 1), "metric": "mqls", "value": 90.0},
                {"month": dt.date(2025, 1, 1), "metric": "mqls", "value": 100.0},
                {"month": dt.date(2025, 1, 1), "metric": "pipeline", "value": 50_000.0},
                {"month": dt.date(2025, 2, 1), "metric": "sqls", "value": 30.0},
            ],
        )
        connection.execute(insert(Spend), [{"month": dt.date(2025, 1, 1), "channel": "events", "amount": 2_000.0}])
    return database


def editor_rows(app: AppTest, key: str) -> list[tuple[object, ...]]:
    frame = app.data_editor(key=key).value
    return [tuple(None if value != value else value for value in row) for row in frame.itertuples(index=False)]


def test_the_editors_show_the_stored_targets_and_spend_of_the_chosen_year(planned: Engine) -> None:
    app = run(signed_in_as(planned, "olu", "ops", PAGE))
    assert app.title[0].value == "Targets & spend"
    this_year = dt.date.today().year
    picker = app.selectbox(key="targets_year")
    assert picker.options == [str(year) for year in sorted({2024, 2025, this_year, this_year + 1})]
    assert picker.value == 2025  # the latest year with data
    assert [header.value for header in app.subheader] == ["Monthly targets", "Marketing spend"]
    # month, mqls, sqls, pipeline, opportunities, won_revenue
    assert editor_rows(app, "targets_editor") == [
        (dt.date(2025, 1, 1), 100.0, None, 50_000.0, None, None),
        (dt.date(2025, 2, 1), None, 30.0, None, None, None),
    ]
    assert editor_rows(app, "spend_editor") == [(dt.date(2025, 1, 1), "events", 2_000.0)]

    picker.set_value(2024)
    run(app)
    assert editor_rows(app, "targets_editor") == [(dt.date(2024, 12, 1), 90.0, None, None, None, None)]
    assert editor_rows(app, "spend_editor") == []


def test_the_channel_is_picked_by_its_name_and_saved_as_its_key(planned: Engine) -> None:
    with planned.begin() as connection:
        touched = [("L1", "paid_search"), ("L2", "content_syndication")]
        connection.execute(
            insert(Touch),
            [{"lead_id": lead, "touched_at": dt.datetime(2025, 1, 5), "channel": channel} for lead, channel in touched],
        )
        names = {"sources": {"paid_search": "Google Ads"}}
        connection.execute(insert(Setting).values(key=DISPLAY_NAMES_KEY, value=names, updated_by="olu"))
    app = run(signed_in_as(planned, "olu", "ops", PAGE))
    channel = json.loads(app.data_editor(key="spend_editor").proto.columns)["channel"]
    assert channel["label"] == "Channel" and channel["required"] is True
    # The touch data's channels and the stored spend's, each shown by its name: a display name, else in words.
    assert channel["type_config"] == {
        "type": "selectbox",
        "options": [
            {"value": "content_syndication", "label": "Content syndication"},
            {"value": "events", "label": "Events"},
            {"value": "paid_search", "label": "Google Ads"},
        ],
    }
    app.session_state["spend_editor"] = {
        "edited_rows": {},
        "added_rows": [{"month": "2025-02-01", "channel": "content_syndication", "amount": 750}],
        "deleted_rows": [],
    }
    app.button(key="spend_save").click()
    run(app)
    assert [message.value for message in app.success] == ["1 added, 0 changed, 0 removed."]
    assert editor_rows(app, "spend_editor") == [
        (dt.date(2025, 1, 1), "events", 2_000.0),
        (dt.date(2025, 2, 1), "content_syndication", 750.0),
    ]


def test_a_row_added_to_a_year_without_data_is_saved(planned: Engine) -> None:
    next_year = dt.date.today().year + 1
    app = run(signed_in_as(planned, "olu", "ops", PAGE))
    app.selectbox(key="targets_year").set_value(next_year)
    run(app)
    assert editor_rows(app, "spend_editor") == []
    # An empty month column has no type for Streamlit to parse by, so core gets the cell as the browser sent it.
    app.session_state["spend_editor"] = {
        "edited_rows": {},
        "added_rows": [{"month": f"{next_year}-03-01", "channel": "events", "amount": 1200}],
        "deleted_rows": [],
    }
    app.button(key="spend_save").click()
    run(app)
    assert [message.value for message in app.success] == ["1 added, 0 changed, 0 removed."]
    assert editor_rows(app, "spend_editor") == [(dt.date(next_year, 3, 1), "events", 1200.0)]


def test_an_edit_is_saved_through_core_and_summarised(planned: Engine) -> None:
    app = run(signed_in_as(planned, "olu", "ops", PAGE))
    app.session_state["targets_editor"] = {
        "edited_rows": {0: {"mqls": 110.0}},
        "added_rows": [],
        "deleted_rows": [1],
    }
    app.button(key="targets_save").click()
    run(app)
    assert [message.value for message in app.success] == ["0 added, 1 changed, 1 removed."]
    # The rerun after the save shows what is stored now.
    assert editor_rows(app, "targets_editor") == [(dt.date(2025, 1, 1), 110.0, None, 50_000.0, None, None)]
    with planned.connect() as connection:
        statement = select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_key)
        actions = connection.execute(statement.where(AuditEntry.entity == "target")).all()
    assert sorted(tuple(row) for row in actions) == [
        ("olu", "delete", "2025-02 sqls"),
        ("olu", "update", "2025-01 mqls"),
    ]


def test_a_role_without_import_data_is_refused_the_page(planned: Engine) -> None:
    app = run(signed_in_as(planned, "mia", "marketing", PAGE))
    assert "may not open this page" in app.error[0].value
    assert not app.title and not app.data_editor
    assert not run(signed_in_as_existing(planned, "erin", PAGE)).data_editor
