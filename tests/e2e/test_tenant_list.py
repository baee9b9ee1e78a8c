"""The tenant list: a badge per status, the stored error of failures, live updates; tabs,
search, sorting and pages among many tenants."""

from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from core.status import TenantStatus
from tests.e2e.pages import badge, dismiss_toasts, screenshot, sign_in, tenant_row
from tests.e2e.support import migrations_held
from tests.fleet import EPOCH, seed, tag
from tests.helpers import occupy_database_name, tenant_body, wait_for_status

pytestmark = pytest.mark.e2e

DASH = "\N{EN DASH}"


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


async def test_tabs_search_sort_and_pages_find_any_tenant_among_many(
    page: Page, spa_url: str, api: httpx.AsyncClient, control_plane: AsyncEngine
) -> None:
    word = tag()
    # 57 Active and 3 Failed rows carrying `word`, oldest first: 2 pages of 50 when searched.
    await seed(
        control_plane,
        (
            {
                "id": f"{word}-{i:02}",
                "name": f"Fleet {i:02} {word}",
                "status": TenantStatus.FAILED if i % 20 == 0 else TenantStatus.ACTIVE,
                "created_on": EPOCH + timedelta(minutes=i),
            }
            for i in range(60)
        ),
    )
    await sign_in(page, spa_url)
    stats = (await api.get("/api/tenants/stats")).json()["byStatus"]
    failed_tab = page.locator('.tab[data-status="Failed"]')
    await expect(failed_tab.locator(".tab-count")).to_have_text(str(stats["Failed"]))

    await page.get_by_label("Search tenants").fill(word)
    await expect(page.locator(".pager-range")).to_have_text(f"1{DASH}50 of 60")
    await expect(page.locator("tbody tr").first).to_have_attribute("data-id", f"{word}-59")
    await page.get_by_role("button", name="Next").click()
    await expect(page.locator(".pager-range")).to_have_text(f"51{DASH}60 of 60")
    await expect(page.locator("tbody tr")).to_have_count(10)
    await expect(page.locator("tbody tr").last).to_have_attribute("data-id", f"{word}-00")
    await expect(page.get_by_role("button", name="Next")).to_be_disabled()
    await page.get_by_role("button", name="Previous").click()
    await expect(page.locator(".pager-range")).to_have_text(f"1{DASH}50 of 60")

    # Sort by name, then reverse it: the header says which way.
    name_header = page.locator("th", has=page.locator('[data-sort="name"]'))
    await page.locator('[data-sort="name"]').click()
    await expect(name_header).to_have_attribute("aria-sort", "ascending")
    await expect(page.locator("tbody tr").first).to_have_attribute("data-id", f"{word}-00")
    await page.locator('[data-sort="name"]').click()
    await expect(name_header).to_have_attribute("aria-sort", "descending")
    await expect(page.locator("tbody tr").first).to_have_attribute("data-id", f"{word}-59")

    await failed_tab.click()
    await expect(failed_tab).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("tbody tr")).to_have_count(3)
    await expect(page.locator(".pager-range")).to_have_text(f"1{DASH}3 of 3")
    for status in await page.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.status)"
    ):
        assert status == "Failed"
    await screenshot(page, "tenant-list-filtered")
