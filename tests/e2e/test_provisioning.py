"""Creating tenants from the browser: field errors, live steps until Active, a stored failure."""

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from core.settings import Settings
from tests.e2e.pages import badge, detail_status, screenshot, sign_in, step, tenant_row
from tests.e2e.support import ThreadServer, migrations_held, spa_app
from tests.helpers import PASSWORD, occupy_database_name

pytestmark = pytest.mark.e2e

STEPS = [
    "create_admin_user",
    "create_tenant_database",
    "migrate_tenant_database",
    "activate_tenant",
]


async def fill_create_form(
    page: Page, tenant_id: str, name: str, *, isolated: bool = False, email: str | None = None
) -> None:
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Tenant ID").fill(tenant_id)
    await page.get_by_label("Admin e-mail").fill(email or f"admin@{tenant_id}.example.com")
    await page.get_by_label("Admin password").fill(PASSWORD)
    await page.get_by_label("Isolated database").set_checked(isolated)


async def test_the_create_form_shows_the_api_field_errors_next_to_each_field(
    page: Page, spa_url: str
) -> None:
    await sign_in(page, spa_url)
    await page.get_by_role("navigation").get_by_role("link", name="New tenant").click()
    await page.get_by_label("Name").fill("Initech")
    await expect(page.get_by_label("Tenant ID")).to_have_value("initech")  # suggested
    await page.get_by_label("Tenant ID").fill("Initech_HQ")
    await page.get_by_label("Admin e-mail").fill("bill.lumbergh")
    await page.get_by_label("Admin password").fill("tps")
    await page.get_by_role("button", name="Create tenant").click()

    tenant_id = page.get_by_label("Tenant ID")
    await expect(tenant_id).to_have_attribute("aria-invalid", "true")
    await expect(tenant_id).to_be_focused()
    errors = page.locator(".field-error:visible")
    await expect(page.locator("#field-id-error")).to_contain_text("lowercase slug")
    await expect(page.locator("#field-adminEmail-error")).to_contain_text("email")
    await expect(page.locator("#field-password-error")).to_contain_text("8 to 128 characters")
    await expect(errors).to_have_count(3)
    await expect(page.locator("#field-name-error")).to_be_hidden()
    await screenshot(page, "create-form-errors")

    await fill_create_form(page, "root", "Root again")
    await page.get_by_role("button", name="Create tenant").click()
    await expect(page.locator("#field-id-error")).to_contain_text("reserved")
    await expect(errors).to_have_count(1)


async def test_a_duplicate_id_is_a_clear_conflict(page: Page, spa_url: str) -> None:
    await sign_in(page, spa_url)
    for attempt in range(2):
        await page.goto(spa_url + "/#/new")
        await fill_create_form(page, "initech", "Initech")
        await page.get_by_role("button", name="Create tenant").click()
        if attempt == 0:
            await expect(page).to_have_url(re.compile(r"#/tenants/initech$"))
    await expect(page.get_by_role("alert")).to_contain_text("Tenant 'initech' already exists")
    await expect(page.locator("#field-id-error")).to_have_text("This ID is taken.")


async def test_a_new_tenant_shows_each_step_live_until_active(
    page: Page, spa_url: str, settings: Settings
) -> None:
    await sign_in(page, spa_url)
    async with migrations_held(settings, "acme"):
        await page.goto(spa_url + "/#/new")
        await fill_create_form(page, "acme", "Acme Corporation")
        await page.get_by_role("button", name="Create tenant").click()

        await expect(page).to_have_url(re.compile(r"#/tenants/acme$"))
        await expect(page.get_by_role("heading", name="Acme Corporation")).to_be_visible()
        await expect(step(page, "create_admin_user")).to_have_attribute("data-status", "completed")
        await expect(step(page, "create_tenant_database")).to_have_attribute(
            "data-status", "completed"
        )
        await expect(step(page, "migrate_tenant_database")).to_have_attribute(
            "data-status", "running"
        )
        await expect(step(page, "activate_tenant")).to_have_attribute("data-status", "pending")
        await expect(detail_status(page)).to_have_text("Provisioning")
        await page.evaluate("window.notReloaded = true")
        await screenshot(page, "tenant-detail-live")

    await expect(detail_status(page)).to_have_text("Active")
    for name in STEPS:
        await expect(step(page, name)).to_have_attribute("data-status", "completed")
    assert await page.evaluate("window.notReloaded") is True, "the page was reloaded"
    link = page.get_by_role("link", name="Open in Temporal Web UI")
    await expect(link).to_have_attribute(
        "href", "http://127.0.0.1:8233/namespaces/default/workflows/provision-tenant-acme"
    )


async def test_a_failing_tenant_shows_its_stored_error(
    page: Page, spa_url: str, settings: Settings
) -> None:
    taken = await occupy_database_name(settings, "umbrella")
    error = f"database {taken} already exists and does not belong to this tenant"
    await sign_in(page, spa_url)
    await page.goto(spa_url + "/#/new")
    await fill_create_form(page, "umbrella", "Umbrella Corporation", isolated=True)
    await page.get_by_role("button", name="Create tenant").click()

    await expect(detail_status(page)).to_have_text("Failed")
    await expect(page.locator(".error-callout")).to_contain_text(error)
    failed = step(page, "create_tenant_database")
    await expect(failed).to_have_attribute("data-status", "failed")
    await expect(failed).to_contain_text(taken)
    await expect(page.get_by_role("button", name="Retry")).to_be_visible()

    await page.get_by_role("link", name="Tenants").first.click()
    row = tenant_row(page, "umbrella")
    await expect(badge(row)).to_have_text("Failed")
    await expect(row.locator(".row-error")).to_have_text(error)


@pytest.fixture
def flaky_spa_url(flaky_settings: Settings) -> Iterator[str]:
    """An API whose worker refuses `create_tenant_database` twice before it works."""
    with ThreadServer(lambda: spa_app(flaky_settings)) as server:
        yield server.url


async def test_a_retried_step_shows_its_attempt_and_error_live(
    page: Page, flaky_spa_url: str
) -> None:
    await sign_in(page, flaky_spa_url)
    await page.goto(flaky_spa_url + "/#/new")
    await fill_create_form(page, "hooli", "Hooli")
    await page.get_by_role("button", name="Create tenant").click()

    database = step(page, "create_tenant_database")
    await expect(database).to_have_attribute("data-status", "retrying")
    await expect(database).to_contain_text("ConnectionRefusedError: database server unreachable")
    await expect(database.locator(".step-meta")).to_contain_text(re.compile(r"attempt [23]"))
    await screenshot(page, "tenant-detail-retrying")
    await expect(detail_status(page)).to_have_text("Active")
    await expect(database).to_have_attribute("data-status", "completed")
    await expect(database).to_contain_text("after 3 attempts")
