"""Text from data and from people never renders live: a link, an image and HTML planted in an imported source,
a typed rejection reason and a sync note show as plain text on every page that shows them (the hardening probe
found 9 live links on 4 pages, and an image fetched when an exec opened the Weekly sync)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from core.admin.seed import seed_sample_data
from core.alignment import sync
from core.exports import inert
from core.imports.runs import import_csv
from core.permissions import Actor
from tests.conftest import TESTER, as_read, csv_file, page_file, run, signed_in_as_existing
from tests.fixtures import HTML, IMAGE, LINK, WEEK, planted_leads

# Markup a browser would follow or fetch: "](" of a link, "![" of an image, "<" of HTML, when not escaped; and a
# bare address, which Markdown links by itself whatever is escaped in it.
LIVE = re.compile(r"(?<!\\)(\]\(|!\[|<)|https?\\?:(?!\u200b)|www(?!\u200b)")


def texts(app: AppTest) -> list[str]:
    elements: list[Any] = [*app.markdown, *app.error, *app.warning, *app.info, *app.success, *app.caption]
    return [element.value for element in elements]


def test_a_link_an_image_and_html_in_data_and_notes_stay_text(database: Engine) -> None:
    seed_sample_data(database, with_survey=False)
    import_csv(database, "leads", csv_file(planted_leads()), actor=TESTER)
    ops = Actor("test", "ops")
    meeting = sync.open_meeting(database, ops, WEEK)
    sync.save_notes(database, ops, meeting.id, {"volume": f"See {LINK}\n{IMAGE}\n{HTML}"}, ["Otto"])
    shown: dict[str, list[str]] = {}
    for page in ("scoreboard.py", "rejections.py", "weekly_sync.py"):
        app = signed_in_as_existing(database, "erin", page_file(page))
        if page == "weekly_sync.py":
            run(app)
            app.selectbox(key="sync_week").set_value(WEEK)
        elif page == "rejections.py":
            app.query_params["period"] = "custom"
            app.query_params["from"], app.query_params["to"] = "2026-10-05", "2026-11-01"
        shown[page] = texts(run(app))
    everything = [text for page_texts in shown.values() for text in page_texts]
    # The planted text is on screen, as text a person reads …
    assert any("[click](https://evil.example/x)" in as_read(text) for text in shown["scoreboard.py"])
    # (A typed reason is shown folded until ops map it: its markup is gone either way.)
    assert any("Unmapped: pixel https evil example p png" in as_read(text) for text in shown["rejections.py"])
    assert any(HTML in as_read(text) for text in shown["weekly_sync.py"])
    # … and nowhere as markup a browser would follow or fetch.
    live = [text for text in everything if "evil" in text and LIVE.search(text)]
    assert not live, live


def test_inert_keeps_lines_and_escapes_every_markup() -> None:
    assert inert("a\nb") == "a  \nb"
    assert LIVE.search("see https\\://evil") and not LIVE.search(inert("see https://evil and www.evil.com"))
    assert inert(":red[x] $y$ # z") == "\\:red\\[x\\] \\$y\\$ \\# z"
    assert as_read(inert(LINK + IMAGE + HTML)) == LINK + IMAGE + HTML
