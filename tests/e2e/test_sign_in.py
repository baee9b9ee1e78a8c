"""Signing in and out; bad credentials and an expired token say so."""

import base64
import json
import time

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from core.status import TenantStatus
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD
from tests.e2e.pages import fill_sign_in, screenshot, sign_in
from tests.helpers import PASSWORD, tenant_body, wait_for_status

pytestmark = pytest.mark.e2e


async def test_bad_credentials_are_refused_with_a_message_then_sign_in_works(
    page: Page, spa_url: str
) -> None:
    await page.goto(spa_url + "/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_label("Tenant")).to_have_value("root")
    await screenshot(page, "sign-in")

    await fill_sign_in(page, ROOT_EMAIL, "wrong-password-1")
    await expect(page.get_by_role("alert")).to_contain_text("Incorrect e-mail, password or tenant")
    await expect(page.get_by_label("Password")).to_be_focused()

    await page.get_by_label("Password").fill(ROOT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    await expect(page.locator(".topbar")).to_contain_text(ROOT_EMAIL)


async def test_the_session_is_kept_per_tab_until_sign_out(
    context: BrowserContext, page: Page, spa_url: str
) -> None:
    await sign_in(page, spa_url)
    await page.reload()
    await expect(page.get_by_role("heading", name="Tenants")).to_be_visible()

    other_tab = await context.new_page()
    await other_tab.goto(spa_url + "/")
    await expect(other_tab.get_by_role("heading", name="Sign in")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0


def forged_token() -> str:
    """Well-formed, not yet expired by its claims, but not signed by the API: the API says 401,
    as it does for an expired token."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"sub": "x", "tenant": "root", "roles": ["root"], "exp": int(time.time()) + 600}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


async def test_a_token_the_api_refuses_returns_to_sign_in_with_a_message(
    page: Page, spa_url: str
) -> None:
    # Planted by the document itself, before the app's scripts run: written from a test into a
    # loaded page and then reloaded, the token raced two things: the first load's boot (which
    # reads and may clear it) and Chromium handing the write over to the browser process, which
    # a reloaded document in a new renderer process reads from; lost, the app booted signed out
    # and never said the session had expired.
    await page.add_init_script(
        f"sessionStorage.setItem('tenantflow.token', {json.dumps(forged_token())})"
    )
    await page.goto(spa_url + "/")

    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="session has expired")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0


async def test_signing_in_to_a_deactivated_tenant_says_so_once_the_password_is_right(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    assert (await api.post("/api/tenants", json=tenant_body("dunder"))).status_code == 202
    await wait_for_status(api, "dunder", {TenantStatus.ACTIVE})
    change = {"name": "Dunder Mifflin", "isActive": False}
    assert (await api.put("/api/tenants/dunder", json=change)).status_code == 202
    # The row is Updating from the 202 on: Active again means the change is applied.
    tenant = await wait_for_status(api, "dunder", {TenantStatus.ACTIVE})
    assert tenant["isActive"] is False
    await page.goto(spa_url + "/")

    email = "admin@dunder.example.com"
    await fill_sign_in(page, email, "wrong-password-1", tenant="dunder")
    await expect(page.get_by_role("alert")).to_contain_text("Incorrect e-mail, password or tenant")
    await fill_sign_in(page, email, PASSWORD, tenant="dunder")
    await expect(page.get_by_role("alert")).to_contain_text(
        "Tenant 'dunder' is deactivated: ask an operator to activate it"
    )
