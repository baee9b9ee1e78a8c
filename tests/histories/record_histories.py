"""Record one history per workflow type and path into tests/histories, from the code checked
out, for tests/integration/test_replay.py to replay against later code. Run it on the version
*before* a `workflow.patched()` change (e.g. in a `git worktree` of it) and keep its output:

    HISTORY_OUT=tests/histories .venv/bin/python -m pytest tests/histories/record_histories.py

Paths: provisioning to Active, then update and delete; cancelled during migrations; cancelled
while the database step retries (a session holds template1). A shared tenant that took a spare
schema (no migration activity) is recorded by tests/integration/test_spares.py with the same
HISTORY_OUT."""

import asyncio
import contextlib
import os
from pathlib import Path

import httpx
from sqlalchemy import text
from temporalio.client import Client

from core.naming import storage_name
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import (
    step_held,
    template_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)
from tests.integration.test_cancel_wins import wait_for_create_database_statement

OUT = Path(os.environ.get("HISTORY_OUT", "tests/histories"))
FINAL = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED, TenantStatus.DELETED}


async def save(client: Client, workflow_id: str, name: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    with contextlib.suppress(Exception):  # the outcome is in the history either way
        await handle.result()
    history = await handle.fetch_history()
    await asyncio.to_thread(OUT.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread((OUT / f"{name}.json").write_text, history.to_json())


async def test_record_histories(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    # provision → Active, then update, then delete
    t = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(t))).status_code == 202
    await wait_for_status(api, t, FINAL)
    await save(temporal_client, f"provision-tenant-{t}", "provision-tenant-active")
    r = await api.put(f"/api/tenants/{t}", json={"name": "Renamed", "isActive": True})
    assert r.status_code == 202, r.text
    await wait_for_status(api, t, FINAL)
    await save(temporal_client, r.json()["workflowId"], "update-tenant-active")
    r = await api.delete(f"/api/tenants/{t}")
    assert r.status_code == 202, r.text
    await wait_for_status(api, t, FINAL)
    await save(temporal_client, r.json()["workflowId"], "deprovision-tenant-deleted")

    # provision cancelled during migrations (compensation of started steps)
    t = unique_tenant_id()
    async with step_held(settings, t, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(t))).status_code == 202
        await wait_for_step(api, t, "migrate_tenant_database", "running")
        assert (await api.post(f"/api/tenants/{t}/cancel")).status_code == 202
    await wait_for_status(api, t, FINAL)
    await save(temporal_client, f"provision-tenant-{t}", "provision-tenant-cancelled")

    # provision cancelled while create_tenant_database retries: the old code ended it Failed
    t = unique_tenant_id()
    async with template_held(settings):
        assert (
            await api.post("/api/tenants", json=tenant_body(t, isolated=True))
        ).status_code == 202
        await wait_for_step(api, t, "create_tenant_database", "retrying")
        await wait_for_create_database_statement(
            settings, storage_name(settings.tenant_storage_prefix, t)
        )
        assert (await api.post(f"/api/tenants/{t}/cancel")).status_code == 202
        await wait_for_status(api, t, FINAL, within=60)
    await save(temporal_client, f"provision-tenant-{t}", "provision-tenant-cancel-during-retry")


async def test_record_migration_histories(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    """MigrateTenant: migrated (down, then up), failed on a conflicting object, skipped at the
    target, cancelled mid-migration; and a provisioning that sets TenantSchemaRevision. Run alone
    (`-k migration`): the other recorder would overwrite the older versions' histories."""
    from tests.integration.test_schema_migrations import wait_for_lock_wait
    from tests.tenant_schema import execute_in_storage, start_migration, tenant_storage

    t = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(t))).status_code == 202
    tenant = await wait_for_status(api, t, FINAL)
    await save(temporal_client, f"provision-tenant-{t}", "provision-tenant-active-schema-revision")

    async def run(target: str, name: str) -> None:
        handle = await start_migration(temporal_client, settings, t, target)
        await save(temporal_client, handle.id, name)

    await run("t0002", "migrate-tenant-migrated")
    await run("t0002", "migrate-tenant-skipped")
    await execute_in_storage(settings, tenant, "CREATE TABLE labels (note text)")
    await run("t0003", "migrate-tenant-failed")
    await execute_in_storage(settings, tenant, "DROP TABLE labels")
    async with tenant_storage(settings, tenant) as (session, schema):
        await session.execute(text(f'SELECT count(*) FROM "{schema}".tasks'))
        handle = await start_migration(temporal_client, settings, t, "t0003")
        await wait_for_lock_wait(settings, tenant["database"])
        await handle.cancel()
        await save(temporal_client, handle.id, "migrate-tenant-cancelled")
        await session.rollback()
