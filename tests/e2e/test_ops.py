"""The operations view: root sees the last hour's chart and figures."""

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from core.status import TenantStatus
from tests.e2e.pages import dismiss_toasts, screenshot, sign_in
from tests.helpers import occupy_database_name, tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.e2e


async def test_root_opens_the_operations_view_and_sees_the_chart_and_figures(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    created = [unique_tenant_id("ops") for _ in range(4)]
    failing = unique_tenant_id("ops-clash")
    await occupy_database_name(settings, failing)
    for index, tenant_id in enumerate([*created, failing]):
        body = tenant_body(tenant_id, isolated=index % 2 == 0 or tenant_id == failing)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
    for tenant_id in created:
        await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    await wait_for_status(api, failing, {TenantStatus.FAILED})

    await sign_in(page, spa_url)
    await page.get_by_role("link", name="Operations").click()
    await expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    await expect(page).to_have_title("Operations · Tenantflow")

    chart = page.locator("svg.ops-chart")
    await expect(chart).to_be_visible()
    await expect(chart.locator("rect.ops-bar")).not_to_have_count(0)
    figure = page.locator(".ops-tile[data-figure] .ops-tile-value")
    created_tile = page.locator('.ops-tile[data-figure="created"] .ops-tile-value')
    await expect(created_tile).to_have_text(re.compile(r"^\d+$"))
    assert int(await created_tile.inner_text()) >= len(created) + 1
    # Time to Active shows once Temporal's visibility lists the completed runs.
    p50 = page.locator('.ops-tile[data-figure="p50"] .ops-tile-value')
    await expect(p50).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))
    await expect(chart.locator("polyline.ops-line--p95")).to_have_count(1)
    await expect(page.locator('.ops-tile[data-figure="workers"] .ops-tile-value')).to_have_text(
        re.compile(r"^[1-9]\d*$")
    )
    await expect(figure).to_have_count(6)
    failures = page.locator("table.ops-failures")
    await expect(failures.locator('tr[data-step="create_tenant_database"]')).to_be_visible()

    await dismiss_toasts(page)
    await screenshot(page, "operations", full_page=True)
