"""Provisioning end to end: real API, real worker, real Temporal, real PostgreSQL."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.operations import Operations
from core.database import create_oneshot_engine, with_database
from core.migrate import head_revision
from core.naming import quote_ident
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import (
    PASSWORD,
    listed_runs,
    poll_database,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
)

pytestmark = pytest.mark.integration

TENANT_TABLES = {"members", "projects", "tasks", "alembic_version"}


async def tables_in(settings: Settings, database: str, schema: str) -> set[str]:
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, database))
    try:
        async with engine.connect() as conn:
            rows = await conn.scalars(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            )
            return set(rows)
    finally:
        await engine.dispose()


async def alembic_version(settings: Settings, database: str, schema: str) -> str | None:
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, database))
    try:
        async with engine.connect() as conn:
            version: str | None = await conn.scalar(
                text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version")
            )
            return version
    finally:
        await engine.dispose()


@pytest.mark.parametrize("isolated", [False, True], ids=["shared-schema", "isolated-database"])
async def test_tenant_reaches_active_with_migrated_storage_and_working_admin(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Settings, isolated: bool
) -> None:
    tenant_id = unique_tenant_id()
    response = await api.post("/api/tenants", json=tenant_body(tenant_id, isolated=isolated))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "id": tenant_id,
        "status": "Pending",
        "workflowId": f"provision-tenant-{tenant_id}",
    }

    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED})
    assert tenant["status"] == "Active", tenant["provisioningError"]
    assert tenant["provisioningError"] is None
    assert tenant["lastProvisioningAttempt"] is not None
    assert tenant["hasIsolatedDatabase"] is isolated
    expected_name = settings.tenant_storage_prefix + tenant_id.replace("-", "_")
    if isolated:
        assert (tenant["database"], tenant["schema"]) == (expected_name, "public")
    else:
        assert tenant["database"] == settings.tenants_database
        assert tenant["schema"] == expected_name

    assert TENANT_TABLES <= await tables_in(settings, tenant["database"], tenant["schema"])
    version = await alembic_version(settings, tenant["database"], tenant["schema"])
    assert version == head_revision("tenant")

    login = await anonymous.post(
        "/api/auth/token",
        data={"username": tenant["adminEmail"], "password": PASSWORD, "tenant": tenant_id},
    )
    assert login.status_code == 200, login.text
    assert login.json()["token_type"] == "bearer"


async def test_progress_lists_every_step_completed_in_order(api: httpx.AsyncClient) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})

    response = await api.get(f"/api/tenants/{tenant_id}/progress")
    assert response.status_code == 200, response.text
    progress = response.json()
    assert progress["status"] == "Active"
    assert [s["name"] for s in progress["steps"]] == [
        "create_admin_user",
        "create_tenant_database",
        "migrate_tenant_database",
        "activate_tenant",
    ]
    for step in progress["steps"]:
        assert step["status"] == "completed"
        assert step["attempt"] == 1
        assert step["startedAt"] <= step["finishedAt"]
        assert step["lastError"] is None


async def test_search_attributes_find_the_run_by_tenant_and_status(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    handle = temporal_client.get_workflow_handle(f"provision-tenant-{tenant_id}")
    await handle.result()

    query = f"TenantId = '{tenant_id}' AND TenantStatus = 'Active'"
    runs = await listed_runs(temporal_client, query, 1)
    assert runs == [f"provision-tenant-{tenant_id}"]


async def test_admin_cannot_log_in_to_another_tenant(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, control_plane: AsyncEngine
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    login = await anonymous.post(
        "/api/auth/token",
        data={"username": tenant["adminEmail"], "password": PASSWORD, "tenant": "root"},
    )
    assert login.status_code == 401
    assert login.headers["www-authenticate"] == "Bearer"


# Sessions waiting for a tenant row's creation lock (core/lifecycle.py): an advisory lock on
# the int4 hashtext key, which pg_locks shows in objid (objsubid 1: the one-key form).
CREATION_LOCK_WAITERS = """
    SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
    AND objid::bigint = (hashtext(:key)::bigint & 4294967295)"""


@pytest.mark.parametrize("isolated", [False, True])
async def test_steps_wait_for_the_transaction_that_creates_the_row(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, settings: Settings, isolated: bool
) -> None:
    """The API starts the run inside the transaction that inserts the row: the run's first
    steps (the admin user and the storage, at once) must wait for its commit, not fail to find
    the tenant. Here the commit waits until both steps are blocked on the row's creation lock."""
    start = Operations._start
    tenant_id = unique_tenant_id()

    async def start_then_hold_the_commit(self: Operations, *args: Any, **kwargs: Any) -> None:
        await start(self, *args, **kwargs)
        assert settings.database_url
        await poll_database(
            settings.database_url,
            CREATION_LOCK_WAITERS,
            lambda waiting: waiting >= 2,
            {"key": f"tenant-row:{tenant_id}"},
            within=15,
        )

    monkeypatch.setattr(Operations, "_start", start_then_hold_the_commit)
    body = tenant_body(tenant_id, isolated=isolated)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED})
    assert tenant["status"] == TenantStatus.ACTIVE, tenant.get("provisioningError")
    progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    assert all(step["attempt"] == 1 for step in progress["steps"]), progress
