"""Edit, retry, cancel and delete from the tenant page, each followed live to its result."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from core.status import TenantStatus
from tests.e2e.pages import detail_status, sign_in, step, toast
from tests.e2e.support import drop_database, migrations_held
from tests.helpers import occupy_database_name, tenant_body, wait_for_status

pytestmark = pytest.mark.e2e


async def open_tenant(page: Page, spa_url: str, tenant_id: str) -> None:
    await sign_in(page, spa_url)
    await page.goto(f"{spa_url}/#/tenants/{tenant_id}")
    await expect(page.locator(".detail-head")).to_be_visible()


@asynccontextmanager
async def asking_to_cancel(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings, tenant_id: str, name: str
) -> AsyncIterator[None]:
    """A new tenant held at its migrations, its page open, Cancel provisioning clicked; the
    migrations go on when the block ends."""
    async with migrations_held(settings, tenant_id):
        body = tenant_body(tenant_id, name=name)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        await open_tenant(page, spa_url, tenant_id)
        await expect(step(page, "migrate_tenant_database")).to_have_attribute(
            "data-status", "running"
        )
        await page.get_by_role("button", name="Cancel provisioning").click()
        yield


async def active_tenant(api: httpx.AsyncClient, tenant_id: str, name: str) -> None:
    body = tenant_body(tenant_id, name=name)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})


async def test_edit_renames_and_deactivates_live(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    await active_tenant(api, "globex", "Globex")
    await open_tenant(page, spa_url, "globex")

    await page.get_by_role("button", name="Edit").click()
    form = page.locator("form.edit-card")
    await expect(form.get_by_label("Name")).to_be_focused()
    await form.get_by_label("Name").fill("   ")
    await form.get_by_role("button", name="Save changes").click()
    await expect(form.locator("#field-name-error")).to_have_text("Enter a name")
    # Focused in error, the field shows below the sticky top bar, not under it.
    margin = await form.get_by_label("Name").evaluate(
        "e => parseFloat(getComputedStyle(e).scrollMarginTop)"
    )
    assert margin > await page.locator(".topbar").evaluate("e => e.offsetHeight")

    await form.get_by_label("Name").fill("Globex Corporation")
    await form.get_by_label("Sign-in enabled").uncheck()
    await form.get_by_role("button", name="Save changes").click()

    await expect(page.locator(".outcome")).to_have_text("Changes saved.")
    await expect(page.get_by_role("heading", name="Globex Corporation")).to_be_visible()
    await expect(detail_status(page)).to_have_text("Active")
    # One status, and a marker (not a second badge) saying its users cannot sign in.
    await expect(page.locator(".detail-head .badge")).to_have_count(1)
    await expect(page.locator(".detail-head .marker")).to_have_text("Deactivated")
    await expect(page.locator(".facts")).to_contain_text("Disabled (deactivated)")
    note = toast(page, "globex", "TenantUpdated")
    await expect(note).to_contain_text("Tenant updated")
    await expect(note).to_contain_text("Changes to tenant 'Globex Corporation' were saved")


async def test_the_root_tenant_offers_no_edit_or_delete(page: Page, spa_url: str) -> None:
    # The API refuses both for the root tenant: the page says so instead of offering them.
    await open_tenant(page, spa_url, "root")
    await expect(page.locator(".detail-head")).to_contain_text(
        "The root tenant holds the operators; it cannot be edited or deleted."
    )
    await expect(page.locator(".detail-head").get_by_role("button")).to_have_count(0)


async def test_retry_provisions_a_failed_tenant_again(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    taken = await occupy_database_name(settings, "massive")
    body = tenant_body("massive", name="Massive Dynamic", isolated=True)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    await open_tenant(page, spa_url, "massive")
    await expect(detail_status(page)).to_have_text("Failed")
    # Whether users may sign in means nothing for a tenant that never became Active.
    await expect(page.locator(".facts")).not_to_contain_text("Sign-in")
    await expect(page.locator(".facts")).not_to_contain_text("Active")

    await drop_database(settings, taken)  # the stranger's database is gone: retrying can work
    await page.get_by_role("button", name="Retry").click()

    await expect(page.locator(".outcome")).to_contain_text("Provisioning finished")
    await expect(detail_status(page)).to_have_text("Active")
    await expect(page.locator(".error-callout")).to_have_count(0)
    await expect(step(page, "create_tenant_database")).to_have_attribute("data-status", "completed")


async def test_cancel_stops_a_provisioning_after_confirmation(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    async with asking_to_cancel(page, spa_url, api, settings, "oceanic", "Oceanic Airlines"):
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Cancel provisioning of Oceanic Airlines?")
        await expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
        await dialog.get_by_role("button", name="Cancel provisioning").click()

        await expect(page.locator(".outcome")).to_contain_text(
            re.compile("Provisioning cancelled|Cancelling")
        )
    await expect(detail_status(page)).to_have_text("Cancelled")
    await expect(page.locator(".outcome")).to_have_text(
        "Provisioning cancelled; what it had created was removed."
    )
    await expect(page.get_by_role("button", name="Retry")).to_be_visible()


async def test_a_cancel_question_closes_when_the_provisioning_finishes_behind_it(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    async with asking_to_cancel(page, spa_url, api, settings, "arvad", "Arvad Industries"):
        await expect(page.get_by_role("dialog")).to_contain_text("Cancel provisioning of")
    # Released: the tenant becomes Active behind the dialog, which would now only meet a 409.
    await expect(detail_status(page)).to_have_text("Active")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(page.locator(".outcome")).to_have_text(
        "Provisioning finished before it could be cancelled."
    )


async def test_delete_after_confirmation_ends_deleted(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    await active_tenant(api, "initrode", "Initrode")
    await open_tenant(page, spa_url, "initrode")

    await page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(dialog).to_have_count(0)
    await expect(detail_status(page)).to_have_text("Active")

    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete tenant").click()
    await expect(detail_status(page)).to_have_text("Deleted")
    await expect(page.locator(".outcome")).to_contain_text("Tenant deleted")
    await expect(page.locator(".detail-head").get_by_role("button")).to_have_count(0)


async def test_a_confirmation_closes_when_the_page_changes(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    await active_tenant(api, "oscorp", "Oscorp")
    await active_tenant(api, "lexcorp", "LexCorp")
    await open_tenant(page, spa_url, "oscorp")
    dialog = page.get_by_role("dialog")

    await page.get_by_role("button", name="Delete").click()
    await expect(dialog).to_contain_text("Delete Oscorp?")
    await page.go_back()
    await expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    await expect(dialog).to_have_count(0)

    await page.go_forward()
    await page.get_by_role("button", name="Delete").click()
    await expect(dialog).to_contain_text("Delete Oscorp?")
    await page.goto(f"{spa_url}/#/tenants/lexcorp")
    await expect(page.get_by_role("heading", name="LexCorp")).to_be_visible()
    await expect(dialog).to_have_count(0)
    assert (await api.get("/api/tenants/oscorp")).json()["status"] == "Active"


async def test_the_keyboard_reaches_every_action_and_a_dialog_keeps_focus_until_escape(
    page: Page, spa_url: str, api: httpx.AsyncClient
) -> None:
    await active_tenant(api, "gringotts", "Gringotts")
    await open_tenant(page, spa_url, "gringotts")
    await expect(page.get_by_role("heading", name="Gringotts")).to_be_visible()

    reached = []
    for _ in range(30):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("document.activeElement.dataset.action ?? ''"))
        if reached[-1] == "delete":
            break
    assert reached[-2:] == ["edit", "delete"], reached
    # Focus is visible: the focused button has an outline.
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")

    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    keep, delete = (
        dialog.get_by_role("button", name="Keep it"),
        dialog.get_by_role("button", name="Delete tenant"),
    )
    await expect(keep).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(delete).to_be_focused()
    await page.keyboard.press("Tab")  # wraps around: focus stays in the dialog
    await expect(keep).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(delete).to_be_focused()

    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(page.get_by_role("button", name="Delete")).to_be_focused()
    assert (await api.get("/api/tenants/gringotts")).json()["status"] == "Active"
