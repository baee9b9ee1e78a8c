"""What the tests do in the SPA, in the user's terms."""

import os
import tempfile
from pathlib import Path

from playwright.async_api import Locator, Page, expect

from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD
from tests.e2e.conftest import SCREENSHOTS

SCRATCH = Path(tempfile.gettempdir()) / "tenantflow-screenshots"


async def sign_in(
    page: Page,
    base_url: str,
    email: str = ROOT_EMAIL,
    password: str = ROOT_PASSWORD,
    tenant: str | None = None,
) -> None:
    await page.goto(base_url + "/")
    await fill_sign_in(page, email, password, tenant)
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def fill_sign_in(page: Page, email: str, password: str, tenant: str | None = None) -> None:
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    if tenant is not None:
        await page.get_by_label("Tenant").fill(tenant)
    await page.get_by_role("button", name="Sign in").click()


def tenant_row(page: Page, tenant_id: str) -> Locator:
    return page.locator(f'tbody tr[data-id="{tenant_id}"]')


def badge(scope: Page | Locator) -> Locator:
    return scope.locator(".badge").first


def detail_status(page: Page) -> Locator:
    """The status badge of the tenant page."""
    return badge(page.locator(".detail-head"))


def step(page: Page, name: str) -> Locator:
    return page.locator(f'.step[data-step="{name}"]')


def toast(page: Page, tenant_id: str, type: str | None = None) -> Locator:
    kind = f'[data-type="{type}"]' if type else ""
    return page.locator(f'.toast[data-tenant-id="{tenant_id}"]{kind}')


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Take the screenshot `name`: into docs/screenshots (the README shows them) when
    UPDATE_SCREENSHOTS=1, else into a scratch folder, so a test run leaves the tree clean."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=path, animations="disabled", full_page=full_page)


async def dismiss_toasts(page: Page, keep: str | None = None) -> None:
    """Close every toast (but the one about `keep`), as a user would, for a tidy screenshot."""
    others = page.locator(".toast" if keep is None else f'.toast:not([data-tenant-id="{keep}"])')
    while await others.count():
        await others.first.get_by_role("button", name="Dismiss").click()
