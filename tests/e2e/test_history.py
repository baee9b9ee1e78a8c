"""A tenant's history on its page: every run, newest first, and any run's steps."""

import httpx
import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from core.status import TenantStatus
from tests.e2e.pages import dismiss_toasts, screenshot, sign_in, toast
from tests.helpers import drop_database, occupy_database_name, tenant_body, wait_for_status

pytestmark = pytest.mark.e2e


async def test_the_tenant_page_lists_every_run_and_shows_an_earlier_runs_steps(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = "tyrell-history"
    taken = await occupy_database_name(settings, tenant_id)
    body = tenant_body(tenant_id, name="Tyrell History", isolated=True)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.FAILED})
    await drop_database(settings, taken)

    await sign_in(page, spa_url)
    await page.goto(f"{spa_url}/#/tenants/{tenant_id}")
    history = page.locator(".history-card")
    runs = history.locator("tr.run")
    await expect(runs).to_have_count(1)
    await expect(runs.first).to_have_attribute("data-status", "Failed")

    # Retried from the page: the new run tops the history, the failed one stays below it.
    await page.get_by_role("button", name="Retry").click()
    await expect(runs).to_have_count(2)
    await expect(runs.first).to_have_attribute("data-status", "Completed")
    await expect(runs.nth(1)).to_have_attribute("data-status", "Failed")
    await expect(runs.nth(1).locator(".row-error")).to_contain_text("does not belong")

    await runs.nth(1).get_by_role("button", name="Steps").click()
    steps = history.locator("tr.run-steps").nth(1)
    await expect(steps.locator('.step[data-step="create_tenant_database"]')).to_have_attribute(
        "data-status", "failed"
    )
    await runs.first.get_by_role("button", name="Steps").click()
    first_steps = history.locator("tr.run-steps").first
    await expect(first_steps.locator('.step[data-status="completed"]')).not_to_have_count(0)
    # Both runs' toasts have come: close them so the picture shows the page.
    await expect(toast(page, tenant_id, "TenantCreated")).to_be_visible()
    await dismiss_toasts(page)
    await screenshot(page, "tenant-history", full_page=True)
