"""The tenant list: a badge per status, the stored error of failures, live updates."""

import httpx
import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from core.status import TenantStatus
from tests.e2e.pages import badge, dismiss_toasts, screenshot, sign_in, tenant_row
from tests.e2e.support import migrations_held
from tests.helpers import occupy_database_name, tenant_body, wait_for_status

pytestmark = pytest.mark.e2e


async def test_the_list_shows_each_status_and_updates_without_a_reload(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    await occupy_database_name(settings, "cyberdyne")
    for tenant_id, name, isolated in [
        ("tyrell", "Tyrell Corporation", False),
        ("cyberdyne", "Cyberdyne Systems", True),
    ]:
        body = tenant_body(tenant_id, name=name, isolated=isolated)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
    await wait_for_status(api, "tyrell", {TenantStatus.ACTIVE})
    await wait_for_status(api, "cyberdyne", {TenantStatus.FAILED})

    async with migrations_held(settings, "wayne"):
        body = tenant_body("wayne", name="Wayne Enterprises")
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        await sign_in(page, spa_url)
        await page.evaluate("window.notReloaded = true")

        provisioning = tenant_row(page, "wayne")
        await expect(badge(provisioning)).to_have_text("Provisioning")
        await expect(badge(provisioning).locator(".spinner")).to_have_count(1)
        await expect(badge(tenant_row(page, "tyrell"))).to_have_text("Active")
        failed = tenant_row(page, "cyberdyne")
        await expect(badge(failed)).to_have_text("Failed")
        await expect(failed.locator(".row-error")).to_contain_text("does not belong to this tenant")
        await expect(page.locator(".lead")).to_contain_text("1 in progress")

        await dismiss_toasts(page)
        await screenshot(page, "tenant-list", full_page=True)

    await expect(badge(provisioning)).to_have_text("Active")
    await expect(badge(provisioning).locator(".spinner")).to_have_count(0)
    assert await page.evaluate("window.notReloaded") is True, "the page was reloaded"

    await page.get_by_label("Search tenants").fill("cyber")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await page.locator("tbody tr").first.get_by_role("link").press("Enter")
    await expect(page.get_by_role("heading", name="Cyberdyne Systems")).to_be_visible()
