"""A phone-sized screen (390 x 844) and the dark colour scheme."""

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from core.status import TenantStatus
from tests.e2e.pages import detail_status, screenshot, sign_in, toast
from tests.helpers import tenant_body, wait_for_status

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(20_000)
    yield context
    await context.close()


async def test_on_a_phone_the_top_bar_fits_and_toasts_leave_the_screen_usable(
    phone: BrowserContext, spa_url: str, api: httpx.AsyncClient
) -> None:
    page = await phone.new_page()
    await sign_in(page, spa_url)
    await expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    # A placeholder that fits the narrow search field.
    await expect(page.get_by_label("Search tenants")).to_have_attribute(
        "placeholder", "Search tenants"
    )
    # Sign out whole, and the navigation (it scrolls sideways if it ever outgrows the screen).
    for part in (
        page.get_by_role("button", name="Sign out"),
        page.locator(".topbar").get_by_role("navigation"),
        page.locator(".topbar").get_by_role("link", name="Tenants"),
    ):
        box = await part.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box

    ids = ["hanso", "dharma", "widmore"]
    for tenant_id in ids:
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    for tenant_id in ids:
        await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    for tenant_id in ids:  # all three arrived (the older ones may be out of sight)
        await expect(toast(page, tenant_id)).to_have_count(1)
    region = await page.locator("#toasts").bounding_box()
    assert region is not None
    share = region["width"] * region["height"] / (PHONE["width"] * PHONE["height"])
    assert share < 0.3, f"toasts cover {share:.0%} of the screen"
    # No horizontal scrolling: the page is as wide as the screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(page, "phone-tenant-list")

    # A tenant's page neither: its History table scrolls inside its card.
    await page.goto(f"{spa_url}/#/tenants/hanso")
    await expect(page.locator(".history-card table.runs")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_the_dark_colour_scheme_is_followed(
    context: BrowserContext, page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    assert (
        await api.post("/api/tenants", json=tenant_body("nakatomi", name="Nakatomi"))
    ).status_code == 202
    await wait_for_status(api, "nakatomi", {TenantStatus.ACTIVE})
    await page.emulate_media(color_scheme="dark")
    await sign_in(page, spa_url)
    await page.goto(f"{spa_url}/#/tenants/nakatomi")
    await expect(detail_status(page)).to_have_text("Active")

    for selector in ("body", ".card"):
        # Looked up and read in one task: the view re-renders live, and a handle to a node it
        # just replaced reads "" (a detached element has no computed style).
        color = await page.evaluate(
            "s => getComputedStyle(document.querySelector(s)).backgroundColor", selector
        )
        red, green, blue = (int(part) for part in color[color.index("(") + 1 : -1].split(",")[:3])
        assert 0.2126 * red + 0.7152 * green + 0.0722 * blue < 60, (selector, color)
    text = await page.locator("h1").evaluate("el => getComputedStyle(el).color")
    assert text != "rgb(23, 27, 34)", "the text kept its light-mode colour"
    await screenshot(page, "tenant-detail-dark")
