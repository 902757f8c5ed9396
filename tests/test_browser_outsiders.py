"""Hardening in a real browser (Chromium), as a signed-out visitor and as an exec: nothing the server answers
before sign-in names a page or shows data, and text planted by outsiders (a source from a UTM value, a typed
rejection reason, a sync note) is shown as text: no live link, no image, no request to the planted host.

Skipped where Chromium or Playwright is missing, unless REQUIRE_BROWSER is set (CI sets it)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.admin.seed import seed_sample_data
from core.alignment import sync
from core.db import open_database
from core.imports.runs import import_csv
from core.permissions import Actor
from tests.conftest import CHROMIUM, ROOT, TESTER, csv_file, demo_server
from tests.fixtures import HTML, IMAGE, LINK, WEEK, planted_leads

if not os.environ.get("REQUIRE_BROWSER"):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (/usr/bin/chromium)", allow_module_level=True)
    pytest.importorskip("playwright")
from playwright.sync_api import Page, Request, expect

from tests.browser_support import desktop_page, settle, shot, sign_in

PLANTED_HOST = "evil.example"
NEWEST_WEEK = WEEK + dt.timedelta(weeks=1)
PAGE_FILES = sorted(path.stem for path in (ROOT / "pages").glob("*.py"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("outsiders")
    engine = open_database(f"sqlite:///{folder / 'onefunnel.db'}")
    seed_sample_data(engine, with_survey=False)
    import_csv(engine, "leads", csv_file(planted_leads()), actor=TESTER)
    ops = Actor("test", "ops")
    # The newest week of the planted leads: the Weekly sync opens on it.
    meeting = sync.open_meeting(engine, ops, NEWEST_WEEK)
    sync.save_notes(engine, ops, meeting.id, {"volume": f"See {LINK}\n{IMAGE}\n{HTML}"}, ["Otto"])
    engine.dispose()
    with demo_server(folder) as url:
        yield url, folder / "server.log"


@pytest.fixture(scope="module")
def browser() -> Iterator[tuple[Page, list[str]]]:
    """A page, and every URL it requested or was answered from (so a fetched image would show)."""
    with desktop_page() as page:
        requested: list[str] = []

        def note(request: Request) -> None:
            requested.append(request.url)

        page.on("request", note)
        # The planted host must not be reached even if something tried: answer it here, and still count the try.
        page.route(f"**/*{PLANTED_HOST}*/**", lambda route: route.fulfill(status=204, body=""))
        yield page, requested


def no_live_markup(page: Page, requested: list[str]) -> None:
    assert page.locator(f"a[href*='{PLANTED_HOST}']").count() == 0
    assert page.locator(f"img[src*='{PLANTED_HOST}']").count() == 0
    assert page.locator("main img[src*='h.png'], main img[src*='p.png']").count() == 0
    assert [url for url in requested if PLANTED_HOST in url] == []


def test_a_signed_out_visitor_sees_the_sign_in_form_and_nothing_else(
    server: tuple[str, Path], browser: tuple[Page, list[str]]
) -> None:
    url, _ = server
    page, requested = browser
    page.context.clear_cookies()
    for path in ("", "users", "weekly_sync", "scoreboard"):
        response = page.goto(f"{url}/{path}")
        assert response is not None and response.headers["x-frame-options"] == "SAMEORIGIN"
        expect(page.get_by_label("User name")).to_be_visible(timeout=30_000)
        settle(page)
        body = page.locator("body").inner_text()
        # app.py's form, not a page run by itself behind its guard, and no menu of page files.
        assert "Please sign in on the OneFunnel home page" not in body
        links = [page.locator("a").nth(i).get_attribute("href") or "" for i in range(page.locator("a").count())]
        assert not [link for link in links if any(link.rstrip("/").endswith("/" + name) for name in PAGE_FILES)]
        assert "click" not in body and PLANTED_HOST not in body
        no_live_markup(page, requested)
    shot(page, "outsider signed out users")
    assert page.request.get(f"{url}/_stcore/metrics").status == 404


def test_an_exec_reads_planted_text_as_text_and_cannot_clear_caches(
    server: tuple[str, Path], browser: tuple[Page, list[str]]
) -> None:
    url, _ = server
    page, requested = browser
    sign_in(page, url, "exec")
    page.goto(f"{url}/rejections?period=custom&from=2026-10-05&to=2026-11-01")
    settle(page)
    expect(page.get_by_text("Unmapped: pixel https", exact=False).first).to_be_visible(timeout=30_000)
    no_live_markup(page, requested)
    shot(page, "outsider exec rejections")

    page.goto(f"{url}/weekly_sync")
    settle(page)
    no_live_markup(page, requested)
    # The note is on screen as the characters that were typed, link and image included.
    expect(
        page.locator("[data-testid=stMarkdownContainer]").get_by_text("See [click](", exact=False).first
    ).to_be_visible(timeout=30_000)
    shot(page, "outsider exec weekly sync")

    page.goto(f"{url}/")  # the Scoreboard is the default page, at the root
    settle(page)
    no_live_markup(page, requested)
    # Streamlit's developer menu and its "c" shortcut (clear every viewer's caches) are not offered to an exec;
    # the message itself is refused by the server (tests/test_server_guards.py).
    expect(page.get_by_text("Clear caches")).to_have_count(0)
    page.keyboard.press("c")
    settle(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    shot(page, "outsider exec scoreboard")
