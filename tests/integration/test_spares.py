"""Spare schemas (activities/spares.py): a new shared tenant takes a ready, pre-migrated schema;
the pool refills; spares made at another revision are dropped, never taken."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.spares import SPARE_PREFIX, spare_marker
from core.migrate import head_revision
from core.naming import ownership_marker, quote_ident, storage_name
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import tenant_body, unique_tenant_id, until_value, wait_for_status

pytestmark = pytest.mark.integration

SPARES = text(
    "SELECT nspname, oid, obj_description(oid, 'pg_namespace') FROM pg_namespace "
    "WHERE starts_with(nspname, :prefix)"
)
SCHEMA = text(
    "SELECT oid, obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :n"
)


async def spares(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(SPARES, {"prefix": SPARE_PREFIX})
        return {name: (oid, comment) for name, oid, comment in rows}


async def ready_spares(engine: AsyncEngine, settings: Settings) -> dict[str, tuple[int, str]]:
    """The spares at head, once the pool holds as many as configured."""
    head = spare_marker(head_revision("tenant"))

    async def full() -> dict[str, tuple[int, str]]:
        ready = {n: s for n, s in (await spares(engine)).items() if s[1] == head}
        return ready if len(ready) == settings.spare_schemas else {}

    return await until_value(full)


async def provision(api: httpx.AsyncClient) -> str:
    tenant_id = unique_tenant_id("spare")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED})
    assert tenant["status"] == TenantStatus.ACTIVE, tenant.get("provisioningError")
    return tenant_id


async def test_a_shared_tenant_takes_a_spare_schema_and_the_pool_refills(
    api: httpx.AsyncClient, settings: Settings, tenants_db: AsyncEngine
) -> None:
    assert settings.spare_schemas > 0
    await provision(api)  # the pool fills once a tenant has asked for a spare
    before = await ready_spares(tenants_db, settings)

    tenant_id = await provision(api)

    schema = storage_name(settings.tenant_storage_prefix, tenant_id)
    async with tenants_db.connect() as conn:
        oid, comment = (await conn.execute(SCHEMA, {"n": schema})).one()
        version = await conn.scalar(
            text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version")
        )
    assert oid in {spare_oid for spare_oid, _ in before.values()}, "a spare, renamed"
    assert comment == ownership_marker(tenant_id)
    assert version == head_revision("tenant")
    after = await ready_spares(tenants_db, settings)
    assert len(set(after) - set(before)) == 1, "the one taken was made again"


async def test_spares_of_another_revision_are_dropped_not_taken(
    api: httpx.AsyncClient, settings: Settings, tenants_db: AsyncEngine
) -> None:
    old = f"{SPARE_PREFIX}old_revision"
    async with tenants_db.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {quote_ident(old)}"))
        await conn.execute(
            text(f"COMMENT ON SCHEMA {quote_ident(old)} IS 'tenantflow-spare:t0001'")
        )
        old_oid = await conn.scalar(SCHEMA, {"n": old})

    tenant_id = await provision(api)

    async def dropped() -> bool:
        return old not in await spares(tenants_db)

    await until_value(dropped)
    schema = storage_name(settings.tenant_storage_prefix, tenant_id)
    async with tenants_db.connect() as conn:
        assert await conn.scalar(SCHEMA, {"n": schema}) != old_oid
