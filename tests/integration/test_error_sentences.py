"""What operators read about a failure is a sentence they can act on; the driver's text is kept
apart as the detail (one click away in the app), never with SQLAlchemy's sqlalche.me links."""

import json

import httpx
import pytest
from sqlalchemy import text

from core.database import create_oneshot_engine, ensure_database, with_database
from core.naming import ownership_marker, quote_ident, storage_name
from core.settings import Settings
from tests.helpers import template_held, tenant_body, unique_tenant_id, wait_for_status
from tests.helpers import wait_for_step as wait_for_api_step
from tests.integration.test_cancellation import FINAL

pytestmark = pytest.mark.integration

TEMPLATE_IN_USE = (
    "PostgreSQL refused to copy the template database because another session is connected to it"
)


MIGRATION_CONFLICT = (
    "PostgreSQL refused to migrate the tenant's schema because a table of that name already exists"
)


async def plant_conflicting_table(settings: Settings, tenant_id: str) -> None:
    """The tenant's schema, marked as its own, already holding a table its first migration
    creates: migrating it fails for good (42P07), on every attempt and every retry."""
    assert settings.database_url
    await ensure_database(settings.database_url, settings.tenants_database)
    schema = quote_ident(storage_name(settings.tenant_storage_prefix, tenant_id))
    engine = create_oneshot_engine(with_database(settings.database_url, settings.tenants_database))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
            marker = ownership_marker(tenant_id).replace("'", "''")
            await conn.execute(text(f"COMMENT ON SCHEMA {schema} IS '{marker}'"))
            await conn.execute(text(f"CREATE TABLE {schema}.members (id int)"))
    finally:
        await engine.dispose()


async def test_a_template_in_use_is_a_sentence_with_the_driver_text_as_detail(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    async with template_held(settings):
        body = tenant_body(tenant_id, isolated=True)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        await wait_for_api_step(api, tenant_id, "create_tenant_database", "retrying")
        progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
        assert (await api.post(f"/api/tenants/{tenant_id}/cancel")).status_code == 202
    await wait_for_status(api, tenant_id, FINAL, within=60)

    step = next(s for s in progress["steps"] if s["name"] == "create_tenant_database")
    assert step["lastError"] == TEMPLATE_IN_USE
    assert (
        'source database "template1" is being accessed by other users' in (step["lastErrorDetail"])
    )
    assert "sqlalche.me" not in json.dumps(progress)


async def test_a_failed_tenant_shows_the_sentence_and_keeps_the_driver_text_apart(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """A schema already holding a table the first migration creates: migrating fails for good."""
    tenant_id = unique_tenant_id()
    await plant_conflicting_table(settings, tenant_id)

    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, FINAL, within=60)

    assert tenant["status"] == "Failed"
    assert tenant["provisioningError"] == MIGRATION_CONFLICT
    assert 'relation "members" already exists' in tenant["provisioningErrorDetail"]
    progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    assert progress["error"] == tenant["provisioningError"]
    runs = (await api.get(f"/api/tenants/{tenant_id}/runs")).json()
    for seen in (tenant, progress, runs):
        assert "sqlalche.me" not in json.dumps(seen)
