"""The API restarts while a page watches a provisioning: the page says so, reconnects with
backoff, and afterwards shows the state reached while it was away."""

import asyncio
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect
from temporalio.client import Client

from core.settings import Settings
from tests.e2e.pages import detail_status, screenshot, sign_in, step, toast
from tests.e2e.support import ThreadServer, migrations_held, spa_app
from tests.e2e.test_provisioning import STEPS, fill_create_form

pytestmark = pytest.mark.e2e


@pytest.fixture
def restartable_api(settings: Settings, worker: None) -> Iterator[ThreadServer]:
    with ThreadServer(lambda: spa_app(settings)) as server:
        yield server


async def test_an_api_restart_shows_a_banner_and_the_page_recovers(
    page: Page, restartable_api: ThreadServer, settings: Settings, temporal_client: Client
) -> None:
    url = restartable_api.url
    await sign_in(page, url)
    banner = page.locator("#banner")
    async with migrations_held(settings, "soylent"):
        await page.goto(url + "/#/new")
        await fill_create_form(page, "soylent", "Soylent")
        await page.get_by_role("button", name="Create tenant").click()
        migrate = step(page, "migrate_tenant_database")
        await expect(migrate).to_have_attribute("data-status", "running")
        await page.evaluate("window.notReloaded = true")

        await asyncio.to_thread(restartable_api.stop)
        await expect(banner).to_contain_text("Connection to the server lost")
        await expect(banner).to_contain_text("Reconnecting")
        await screenshot(page, "connection-lost")

    # The run finishes while the API is down; the page must learn it afterwards.
    await temporal_client.get_workflow_handle("provision-tenant-soylent").result()
    await expect(banner).to_be_visible()
    await expect(detail_status(page)).to_have_text("Provisioning")

    await asyncio.to_thread(restartable_api.start)
    await expect(banner).to_contain_text("Reconnected")
    await expect(detail_status(page)).to_have_text("Active")
    for name in STEPS:
        await expect(step(page, name)).to_have_attribute("data-status", "completed")
    await expect(toast(page, "soylent")).to_contain_text("Tenant created")
    await expect(banner).to_be_hidden()
    assert await page.evaluate("window.notReloaded") is True, "the page was reloaded"


async def test_the_retry_now_button_reconnects_at_once(
    page: Page, restartable_api: ThreadServer
) -> None:
    await sign_in(page, restartable_api.url)
    banner = page.locator("#banner")
    await asyncio.to_thread(restartable_api.stop)
    await expect(banner).to_contain_text(r"Reconnecting in")  # backing off by now
    await asyncio.to_thread(restartable_api.start)
    await banner.get_by_role("button", name="Retry now").click()
    await expect(banner).to_contain_text("Reconnected", timeout=3000)
