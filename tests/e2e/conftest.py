"""Browser-test fixtures: Debian's Chromium driven by Playwright, the API serving the SPA."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from core.settings import Settings
from tests.e2e.support import ThreadServer, spa_app

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def spa_url(settings: Settings, worker: None) -> Iterator[str]:
    """The real API, serving the SPA, with a worker running."""
    with ThreadServer(lambda: spa_app(settings)) as server:
        yield server.url


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (`apt-get install chromium`): Playwright's own download is not used."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (or set CHROMIUM_PATH)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile; its pages are tabs (sessionStorage is per tab, as in a real browser)."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(20_000)
    yield context
    await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
