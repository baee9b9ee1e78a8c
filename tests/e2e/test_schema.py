"""The Schema page drives a fleet rollout: revisions with their tenant counts, a rollback of two
real tenants followed live to the end, then forward to head again; PostgreSQL has the last word."""

import re

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from core.schema import tenant_revisions
from core.settings import Settings
from core.status import TenantStatus
from tests.e2e.pages import dismiss_toasts, screenshot, sign_in
from tests.helpers import tenant_body, unique_tenant_id, wait_for_status
from tests.tenant_schema import stored_schema

pytestmark = pytest.mark.e2e


async def roll_out(page: Page, target: str, tenant_ids: list[str]) -> Locator:
    """Start a rollout from the form; the card of that rollout (listed first once started)."""
    form = page.locator("form", has=page.get_by_role("heading", name="Roll out a revision"))
    await expect(form).to_be_visible()  # the page is loaded: the form and the rollouts at once
    cards = page.locator("section.rollout")
    earlier = await cards.first.get_attribute("data-rollout-id") if await cards.count() else None
    await form.get_by_label("Target revision").select_option(target)
    # Numbers out of range are told next to their fields, before any confirmation.
    await form.get_by_label("Concurrency").fill("0")
    await form.get_by_role("button", name="Start rollout").click()
    await expect(form.locator("#field-concurrency-error")).to_have_text("Between 1 and 50")
    await expect(form.get_by_label("Concurrency")).to_be_focused()
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await form.get_by_label("Concurrency").fill("2")
    await form.get_by_label("Only these tenants (optional)").fill(" ".join(tenant_ids))
    await form.get_by_role("button", name="Start rollout").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator(".dialog-title")).to_contain_text("Migrate 2 tenants to")
    await expect(dialog).to_contain_text("1 canary tenant first, then 2 at a time")
    await expect(dialog).to_contain_text("pauses after 1 failed tenant.")
    await dialog.get_by_role("button", name="Start rollout").click()
    card = cards.first
    await expect(card).to_have_attribute("data-rollout-id", re.compile(r"."))
    if earlier:
        await expect(card).not_to_have_attribute("data-rollout-id", earlier)
    return page.locator(
        f'section.rollout[data-rollout-id="{await card.get_attribute("data-rollout-id")}"]'
    )


async def test_the_schema_page_rolls_two_tenants_back_and_forward_live(
    page: Page, spa_url: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    head, revisions = tenant_revisions()
    previous = revisions[-2].id
    ids = [unique_tenant_id("sch"), unique_tenant_id("sch")]
    for i, tenant_id in enumerate(ids):
        body = tenant_body(tenant_id, isolated=i == 1)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
    for tenant_id in ids:
        await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})

    await sign_in(page, spa_url)
    await page.get_by_role("link", name="Schema").click()
    await expect(page.get_by_role("heading", name="Tenant schema")).to_be_visible()
    for revision in revisions:
        await expect(page.locator(f'li.revision[data-revision="{revision.id}"]')).to_be_visible()
    await expect(page.locator(f'li.revision[data-revision="{head}"] .tag')).to_have_text("head")

    card = await roll_out(page, previous, ids)
    await expect(card).to_have_attribute("data-status", "Completed", timeout=60_000)
    await expect(card.locator('[data-count="succeeded"]')).to_have_text("2 migrated")
    await expect(card.locator('[data-count="failed"]')).to_have_text("0 failed")
    await expect(card.locator("progress")).to_have_attribute("value", "2")
    for tenant_id in ids:
        tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
        assert tenant["schemaRevision"] == previous
        assert (await stored_schema(settings, tenant)).revision == previous
    await dismiss_toasts(page)
    await screenshot(page, "schema-rollout", full_page=True)

    # Forward again: the form is back once nothing runs; the new rollout is listed first.
    card = await roll_out(page, "head", ids)
    await expect(card).to_have_attribute("data-status", "Completed", timeout=60_000)
    await expect(card.locator('[data-count="succeeded"]')).to_have_text("2 migrated")
    for tenant_id in ids:
        tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
        assert tenant["schemaRevision"] == head
        assert (await stored_schema(settings, tenant)).revision == head

    # The tenant page shows its revision.
    await page.goto(f"{spa_url}/#/tenants/{ids[0]}")
    await expect(page.locator(".facts")).to_contain_text(head)
