"""The shared tenants database refusing connections mid-provisioning: the step is retried (and
shown as retrying) and the tenant ends Active once the database is back."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from core.database import create_oneshot_engine, with_database
from core.naming import quote_ident
from core.settings import Settings
from core.status import TenantStatus
from tests.faults.conftest import sized
from tests.faults.storage import expected_footprint, tenant_footprint
from tests.helpers import step_held, tenant_body, unique_tenant_id, wait_for_status, wait_for_step

pytestmark = pytest.mark.faults


@contextlib.asynccontextmanager
async def refusing_connections(settings: Settings, database: str) -> AsyncIterator[None]:
    """The database takes no new connections, and its open ones are cut, until the block ends."""
    assert settings.database_url
    engine = create_oneshot_engine(
        with_database(settings.database_url, "postgres"), isolation_level="AUTOCOMMIT"
    )
    name = quote_ident(database)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": database},
            )
            try:
                yield
            finally:
                await conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
    finally:
        await engine.dispose()


async def retrying_step(api: httpx.AsyncClient, tenant_id: str) -> dict[str, Any]:
    """The first step the progress shows as retrying (the first to connect to the database)."""
    async with asyncio.timeout(60):
        while True:
            steps = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()["steps"]
            retrying = [s for s in steps if s["status"] == "retrying"]
            if retrying:
                return dict(retrying[0])
            await asyncio.sleep(0.05)


async def test_tenants_database_refusing_connections_is_retried_then_active(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    outage = sized(4, 10)
    tenant_id = unique_tenant_id("outage")
    async with contextlib.AsyncExitStack() as stack:
        async with step_held(settings, tenant_id, "create_admin_user"):
            assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
            await wait_for_step(api, tenant_id, "create_admin_user", "running")
            tenants_database = refusing_connections(settings, settings.tenants_database)
            await stack.enter_async_context(tenants_database)
            began = time.monotonic()
        retrying = await retrying_step(api, tenant_id)
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - began)))  # the outage itself
    tenant = await wait_for_status(
        api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED}, within=120
    )
    finished = time.monotonic() - began

    assert tenant["status"] == "Active", tenant["provisioningError"]
    assert retrying["lastError"]
    steps = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()["steps"]
    step = next(s for s in steps if s["name"] == retrying["name"])
    print(
        f"{outage} s outage: {step['name']} took {step['attempt']} attempts; Active "
        f"{finished:.1f} s after the outage began; shown while retrying: {retrying['lastError']!r}"
    )
    assert step["attempt"] >= 2
    assert await tenant_footprint(settings, tenant_id) == expected_footprint(isolated=False)
