"""Bulk actions in the browser: select, confirm (how many and which action), follow it live."""

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from core.status import TenantStatus
from tests.e2e.pages import screenshot, sign_in, tenant_row
from tests.fleet import seed, tag

pytestmark = pytest.mark.e2e


async def test_select_tenants_deactivate_them_and_see_each_outcome(
    page: Page, spa_url: str, api: httpx.AsyncClient, control_plane: AsyncEngine
) -> None:
    word = tag()
    statuses = [TenantStatus.ACTIVE] * 3 + [TenantStatus.FAILED]
    ids = await seed(
        control_plane,
        (
            {"id": f"{word}-{i}", "name": f"Bulk {i} {word}", "status": status}
            for i, status in enumerate(statuses)
        ),
    )
    await sign_in(page, spa_url)
    # No bulk action applies to the root tenant (the operators'): its row has no checkbox.
    await page.get_by_label("Search tenants").fill("root")
    await expect(tenant_row(page, "root")).to_be_visible()
    await expect(tenant_row(page, "root").locator("input.check")).to_have_count(0)
    await page.get_by_label("Search tenants").fill(word)
    await expect(page.locator("tbody tr")).to_have_count(4)

    await page.get_by_label("Select every tenant on this page").check()
    await expect(page.locator(".bulk-selection")).to_have_text("4 selected")
    await page.get_by_label(f"Select Bulk 0 {word}").uncheck()
    await expect(page.locator(".bulk-selection")).to_have_text("3 selected")
    await page.get_by_label(f"Select Bulk 0 {word}").check()

    await page.locator('[data-bulk-action="deactivate"]').click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator(".dialog-title")).to_have_text("Deactivate 4 tenants?")
    await dialog.get_by_role("button", name="Deactivate 4 tenants").click()

    progress = page.locator(".bulk-progress")
    await expect(progress).to_have_attribute("data-finished", "true")
    await expect(progress.locator(".bulk-counts")).to_have_text("3 done · 1 skipped · 0 failed")
    await progress.locator("summary").click()
    skipped = progress.locator(f'li[data-tenant-id="{ids[3]}"]')
    await expect(skipped).to_contain_text("is Failed: only a tenant that is Active can be edited")
    for tenant_id in ids[:3]:
        await expect(tenant_row(page, tenant_id).locator(".marker")).to_have_text("Deactivated")
    await expect(page.locator(".bulk-bar")).to_be_hidden()
    await screenshot(page, "tenant-list-bulk")
