"""What the browser tests share: where Chromium is, waiting for Streamlit to settle, screenshots, signing in.

Not a test module; imported by the browser tests after they have skipped where Chromium or Playwright is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import CHROMIUM, ROOT

SHOTS = ROOT / "tests" / "output" / "browser"


def settle(page: Page) -> None:
    page.wait_for_timeout(500)
    expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0, timeout=30_000)
    page.wait_for_timeout(500)


def sign_in(page: Page, server: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(server)
    expect(page.get_by_label("User name")).to_be_visible(timeout=30_000)
    # The cookie component's first run reruns the page; text typed before that rerun is lost.
    settle(page)
    page.get_by_label("User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(f"{username}-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")).to_be_visible(timeout=30_000)
    # The login cookie component reruns the page once it has stored the cookie; typing before that is lost.
    settle(page)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name.lower().replace(' & ', '-').replace(' ', '-')}.png"), full_page=True)


@contextmanager
def desktop_page() -> Iterator[Page]:
    """A 1440 × 1000 page in headless Chromium, closed afterwards."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser.new_page(viewport={"width": 1440, "height": 1000})
        finally:
            browser.close()
