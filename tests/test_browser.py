"""A real browser: Debian's Chromium driven by Playwright against `streamlit run` on a free port.

Signs in as each demo role, opens every page the menu offers, checks that no page shows an
exception and saves a screenshot of each under tests/output/browser/. Skipped where Chromium or
Playwright is missing, unless REQUIRE_BROWSER is set (CI sets it: .ci/run installs Chromium).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db import open_database
from tests.fixtures import load_fixture

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "tests" / "output" / "browser"

if not os.environ.get("REQUIRE_BROWSER"):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (/usr/bin/chromium)", allow_module_level=True)
    pytest.importorskip("playwright")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("browser") / "app.db"
    engine = open_database(f"sqlite:///{database}")
    load_fixture(engine)
    engine.dispose()
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "ONEFUNNEL_DEMO": "1",
        "ONEFUNNEL_COOKIE_KEY": "",
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not answer /_stcore/health within 60 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser.new_page(viewport={"width": 1440, "height": 1000})
        browser.close()


def settle(page: Page) -> None:
    page.wait_for_timeout(500)
    expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0, timeout=30_000)
    page.wait_for_timeout(500)


@pytest.mark.parametrize(("username", "pages"), [("exec", ["Scoreboard"]), ("ops", ["Scoreboard", "Data"])])
def test_sign_in_and_open_every_page(server: str, browser_page: Page, username: str, pages: list[str]) -> None:
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.context.clear_cookies()
    page.goto(server)
    page.get_by_label("User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(f"{username}-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name="Sign out")).to_be_visible(timeout=30_000)
    # A link's text is its icon's ligature name, then its label.
    offered = [link.inner_text().split("\n")[-1].strip() for link in sidebar.get_by_role("link").all()]
    assert offered == pages
    for title in pages:
        sidebar.get_by_role("link", name=title).click()
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=30_000)
        settle(page)
        assert page.get_by_test_id("stException").count() == 0, f"{title} shows an exception for {username}"
        page.screenshot(path=str(SHOTS / f"{username}-{title.lower()}.png"), full_page=True)
    sidebar.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("User name")).to_be_visible(timeout=30_000)
