"""Toasts: every tab of the user who started the operation gets one, and every admin of the
tenant; nobody of another tenant does."""

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from core.status import TenantStatus
from tests.e2e.pages import dismiss_toasts, screenshot, sign_in, toast
from tests.e2e.test_provisioning import fill_create_form
from tests.helpers import PASSWORD, tenant_body, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture
async def stranger(browser: Browser, api: httpx.AsyncClient, spa_url: str) -> AsyncIterator[Page]:
    """Another person's browser, signed in as the admin of a tenant of their own."""
    assert (await api.post("/api/tenants", json=tenant_body("wonka"))).status_code == 202
    tenant = await wait_for_status(api, "wonka", {TenantStatus.ACTIVE})
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await context.new_page()
        await sign_in(page, spa_url, tenant["adminEmail"], PASSWORD, tenant="wonka")
        await expect(page.get_by_role("heading", name="Tenant wonka")).to_be_visible()
        yield page
    finally:
        await context.close()


async def test_every_tab_of_the_initiator_gets_the_toast_and_nobody_else(
    context: BrowserContext, page: Page, spa_url: str, stranger: Page, api: httpx.AsyncClient
) -> None:
    other_tab = await context.new_page()
    for tab in (page, other_tab):
        await sign_in(tab, spa_url)

    await page.goto(spa_url + "/#/new")
    await fill_create_form(page, "stark", "Stark Industries")
    await page.get_by_role("button", name="Create tenant").click()

    for tab in (page, other_tab):
        note = toast(tab, "stark")
        await expect(note).to_be_visible()
        await expect(note).to_contain_text("Tenant created")
        await expect(note).to_contain_text("Tenant 'Stark Industries' is ready")
        await expect(note).to_have_count(1)
    # The other tab's list followed too, without a reload.
    await expect(other_tab.locator('tr[data-id="stark"] .badge')).to_have_text("Active")

    # Keep only this toast on screen for the picture.
    await dismiss_toasts(other_tab, keep="stark")
    await screenshot(other_tab, "toast")

    # The stranger is the admin of wonka and hears what happens to it: that later toast proves
    # a copy about stark would have arrived by then.
    body = {"name": "Wonka Industries", "isActive": True}
    assert (await api.put("/api/tenants/wonka", json=body)).status_code == 202
    await expect(toast(stranger, "wonka", "TenantUpdated")).to_be_visible()
    await expect(toast(stranger, "stark")).to_have_count(0)


async def test_a_toast_links_to_its_tenant(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    await sign_in(page, spa_url)
    assert (await api.post("/api/tenants", json=tenant_body("vandelay"))).status_code == 202
    note = toast(page, "vandelay")
    await expect(note).to_contain_text("Tenant created")
    await note.get_by_role("link", name="View Tenant vandelay").click()
    await expect(page.get_by_role("heading", name="Tenant vandelay")).to_be_visible()
    await expect(note).to_have_count(0)


async def test_the_account_menu_turns_notification_emails_off(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    await sign_in(page, spa_url)
    await page.locator("summary", has_text="Settings").click()
    checkbox = page.get_by_label("E-mail me notifications I did not see")
    await expect(checkbox).to_be_enabled()  # once the preference was read
    await expect(checkbox).to_be_checked()
    try:
        await checkbox.uncheck()
        await expect(page.locator(".account-status")).to_have_text("E-mails off.")
        assert (await api.get("/api/me/preferences")).json() == {"notifyByEmail": False}
        await screenshot(page, "account-menu")
        await page.keyboard.press("Escape")
        await expect(checkbox).to_be_hidden()
    finally:
        await api.put("/api/me/preferences", json={"notifyByEmail": True})
