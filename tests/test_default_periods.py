"""Defaults that survive an import: every page opens on the latest complete period that has MQLs and says
why, and an import of undated leads today (their MQL day today) moves nobody's default view."""

from __future__ import annotations

import datetime as dt
import re

import streamlit as st
from sqlalchemy import Engine

from core.admin.seed import seed_sample_data
from core.funnel.view import default_anchor
from core.imports.mapping import parse_mapping
from core.imports.runs import import_csv
from core.periods import period_range, shown_period_reason
from core.rejections.explorer import explorer_anchor, explorer_range
from core.settings import current
from tests.conftest import TESTER, csv_file, page_file, run, signed_in_as_existing
from tests.fixtures import UNDATED_LEADS, UNDATED_LEADS_MAPPING


def import_undated_leads(engine: Engine) -> None:
    mapping = parse_mapping(UNDATED_LEADS_MAPPING)
    result = import_csv(engine, "leads", csv_file(UNDATED_LEADS, "Leads.csv"), actor=TESTER, mapping=mapping)
    assert result.inserted == 14
    st.cache_data.clear()  # as the Data page does after an import


def test_the_anchors_follow_the_last_complete_period_with_mqls(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    today = current(database).today()
    before = {unit: default_anchor(database, today, unit) for unit in ("week", "month", "quarter")}
    # The sample company's MQLs end on 31 Oct 2026: its last complete month is October.
    assert period_range("last_month", before["month"]) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    weeks = explorer_range("last_13_weeks", explorer_anchor(database, "last_13_weeks", today))
    import_undated_leads(database)
    assert {unit: default_anchor(database, today, unit) for unit in before} == before
    assert explorer_range("last_13_weeks", explorer_anchor(database, "last_13_weeks", today)) == weeks


def test_the_reason_line() -> None:
    october = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    today = dt.date(2026, 12, 7)
    assert shown_period_reason("last_month", *october, today, dt.date(2026, 12, 6)) == (
        "October 2026: the last complete month with MQLs; the data runs to 6 Dec 2026"
    )
    november = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert shown_period_reason("last_month", *november, today, None) == "November 2026: the last complete month"
    assert shown_period_reason("this_month", dt.date(2026, 12, 1), today, today, today).startswith(
        "01 Dec 2026 – 07 Dec 2026: this month so far"
    )


def shown_on(database: Engine, page: str) -> dict[str, object]:
    app = run(signed_in_as_existing(database, "erin", page_file(page)))
    # What the view shows, not when the data ends or was last imported (an import today moves those,
    # truthfully, and the import's minute can differ from the seed's).
    captions = [
        re.sub(r"the data runs to [^.]*|last import [-0-9: ]+UTC", "", caption.value) for caption in app.caption
    ][:3]
    return {
        "captions": captions,
        "metrics": [(metric.label, metric.value) for metric in app.metric],
        # The catalogue's unmapped spellings are all-time, not the view's: the import's new reasons join them.
        "markdown": [block.value for block in app.markdown if "every rejection ever logged" not in block.value][:12],
        # The period pickers: a custom range's dates, the weekly sync's week.
        "dates": [widget.value for widget in app.date_input]
        + [box.value for box in app.selectbox if box.label == "Week"],
        "errors": [element.value for element in app.error],
    }


def test_an_undated_import_moves_no_default_view(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    pages = ("scoreboard.py", "rejections.py", "weekly_sync.py")
    before = {page: shown_on(database, page) for page in pages}
    assert "October 2026: the last complete month with MQLs" in str(before["scoreboard.py"]["captions"][0])
    assert before["weekly_sync.py"]["dates"] == [dt.date(2026, 10, 26)]
    import_undated_leads(database)
    after = {page: shown_on(database, page) for page in pages}
    for page in pages:
        assert after[page] == before[page], page
