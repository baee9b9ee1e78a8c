"""Public sign-up: a new organization provisions itself; its admin then signs in to it."""

import httpx
import pytest
from playwright.async_api import Page, expect

from core.status import TenantStatus
from tests.e2e.pages import screenshot, sign_in
from tests.helpers import PASSWORD, wait_for_status

pytestmark = pytest.mark.e2e


async def test_sign_up_then_sign_in_to_the_new_tenant(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    await page.goto(spa_url + "/")
    await page.get_by_role("link", name="Create an organization").click()
    await page.get_by_label("Organization name").fill("Pied Piper")
    await expect(page.get_by_label("Organization ID")).to_have_value("pied-piper")
    await page.get_by_label("Your e-mail").fill("richard@piedpiper.example.com")
    await page.get_by_label("Choose a password").fill("short")
    await page.get_by_role("button", name="Create organization").click()
    await expect(page.locator("#field-password-error")).to_contain_text("8 to 128 characters")

    await page.get_by_label("Choose a password").fill(PASSWORD)
    await page.get_by_role("button", name="Create organization").click()
    # The organisation by its name, and its provisioning live, step by step, to the end.
    await expect(page.get_by_role("heading", name="Setting up Pied Piper")).to_be_visible()
    await expect(page.locator(".signup-status .badge")).to_have_text("Active")
    await expect(page.locator('.step[data-step="migrate_tenant_database"]')).to_have_attribute(
        "data-status", "completed"
    )
    await expect(page.get_by_role("status")).to_contain_text("Your organization is ready")
    await expect(page.locator('.signup-steps .step[data-status="running"]')).to_have_count(0)
    await screenshot(page, "sign-up-progress")

    await wait_for_status(api, "pied-piper", {TenantStatus.ACTIVE})
    await page.get_by_role("link", name="Go to sign in").click()
    await sign_in(page, spa_url, "richard@piedpiper.example.com", PASSWORD, tenant="pied-piper")
    await expect(page.get_by_role("heading", name="Pied Piper")).to_be_visible()
