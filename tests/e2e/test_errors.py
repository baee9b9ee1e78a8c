"""A failed tenant's page says what went wrong once, as a sentence, with the driver's text one
click away (issue 13, item 4)."""

import asyncio

import httpx
import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from tests.e2e.pages import detail_status, sign_in, step
from tests.helpers import tenant_body, unique_tenant_id, wait_for_status
from tests.integration.test_cancellation import FINAL
from tests.integration.test_error_sentences import MIGRATION_CONFLICT, plant_conflicting_table

pytestmark = pytest.mark.e2e


async def test_a_failed_tenant_shows_its_error_once_with_the_details_one_click_away(
    page: Page, spa_url: str, settings: Settings, api: httpx.AsyncClient
) -> None:
    tenant_id = unique_tenant_id("err")
    await plant_conflicting_table(settings, tenant_id)
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    assert (await wait_for_status(api, tenant_id, FINAL))["status"] == "Failed"

    await sign_in(page, spa_url)
    await page.goto(f"{spa_url}/#/tenants/{tenant_id}")
    await expect(detail_status(page)).to_have_text("Failed")
    callout = page.locator(".error-callout")
    await expect(callout.locator(".error-sentence")).to_have_text(MIGRATION_CONFLICT)
    details = callout.locator("details")
    await expect(details.locator("pre")).not_to_be_visible()
    await details.get_by_text("Technical details").click()
    await expect(details.locator("pre")).to_contain_text('relation "members" already exists')
    failed = step(page, "migrate_tenant_database")
    await expect(failed.locator(".step-error")).to_have_text(MIGRATION_CONFLICT)

    # Retried, it fails the same way: the outcome is the callout, not a second banner.
    before = (await api.get(f"/api/tenants/{tenant_id}")).json()["lastProvisioningAttempt"]
    await page.get_by_role("button", name="Retry").click()
    async with asyncio.timeout(60):
        while True:
            tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
            if tenant["lastProvisioningAttempt"] != before and tenant["status"] == "Failed":
                break
            await asyncio.sleep(0.1)
    await expect(page.locator(".outcome")).to_be_hidden()
    await expect(detail_status(page)).to_have_text("Failed")
    banners = page.locator(".alert, .outcome").filter(has_text=MIGRATION_CONFLICT)
    await expect(banners).to_have_count(1)
    assert "sqlalche.me" not in await page.content()
