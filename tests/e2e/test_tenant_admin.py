"""A tenant admin's own page: their tenant, its users, and an operation on it, live."""

import httpx
import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from core.status import TenantStatus
from tests.e2e.pages import detail_status, screenshot, sign_in, step
from tests.e2e.support import migrations_held
from tests.helpers import PASSWORD, tenant_body, wait_for_status, wait_for_step

pytestmark = pytest.mark.e2e


async def test_a_tenant_admin_sees_their_tenant_provisioning_live(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    async with migrations_held(settings, "bluth"):
        body = tenant_body("bluth", name="Bluth Company")
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        # The admin exists from the first step on, so they can watch the rest.
        await wait_for_step(api, "bluth", "migrate_tenant_database", "running")
        await sign_in(page, spa_url, "admin@bluth.example.com", PASSWORD, tenant="bluth")

        await expect(page.get_by_role("heading", name="Bluth Company")).to_be_visible()
        topbar = page.locator(".topbar")
        await expect(topbar).to_contain_text("admin@bluth.example.com")
        await expect(topbar).not_to_contain_text("false")
        await expect(topbar.get_by_role("navigation")).to_have_count(0)
        await expect(detail_status(page)).to_have_text("Provisioning")
        await expect(step(page, "migrate_tenant_database")).to_have_attribute(
            "data-status", "running"
        )
        users = page.locator(".users tbody tr")
        await expect(users).to_have_count(1)
        await expect(users.first).to_contain_text("admin@bluth.example.com")
        await expect(users.first).to_contain_text("admin")
        await expect(page.locator(".facts")).to_contain_text("Shared schema")
        # Operators' tools are not offered here.
        await expect(page.get_by_role("link", name="Open in Temporal Web UI")).to_have_count(0)
        await expect(page.locator("#main").get_by_role("button")).to_have_count(0)

    await expect(detail_status(page)).to_have_text("Active")
    await expect(step(page, "migrate_tenant_database")).to_have_attribute(
        "data-status", "completed"
    )
    await expect(step(page, "activate_tenant")).to_have_attribute("data-status", "completed")
    await screenshot(page, "tenant-admin-home")


async def test_a_tenant_admin_follows_an_operators_change_to_their_tenant(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    assert (await api.post("/api/tenants", json=tenant_body("pendant"))).status_code == 202
    await wait_for_status(api, "pendant", {TenantStatus.ACTIVE})
    await sign_in(page, spa_url, "admin@pendant.example.com", PASSWORD, tenant="pendant")
    await expect(page.get_by_role("heading", name="Tenant pendant")).to_be_visible()

    change = {"name": "Pendant Publishing", "isActive": True}
    assert (await api.put("/api/tenants/pendant", json=change)).status_code == 202
    await expect(page.get_by_role("heading", name="Pendant Publishing")).to_be_visible()
    await expect(detail_status(page)).to_have_text("Active")
