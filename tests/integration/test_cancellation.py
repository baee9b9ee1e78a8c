"""Cancelling provisioning — from the API or the `temporal` CLI — leaves nothing behind."""

import asyncio
import os
import subprocess

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database import create_oneshot_engine, with_database
from core.models import User
from core.naming import storage_name
from core.settings import Settings
from core.status import TenantStatus
from devstack.__main__ import temporal_binary
from tests.helpers import (
    listen,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)

pytestmark = pytest.mark.integration

STEPS = ["create_admin_user", "create_tenant_database", "migrate_tenant_database"]
FINAL = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED}


async def leftovers(settings: Settings, engine: AsyncEngine, tenant_id: str) -> dict[str, int]:
    """What of the tenant exists: its database, its schema, its users."""
    assert settings.database_url
    name = storage_name(settings.tenant_storage_prefix, tenant_id)
    found = {}
    for database, sql in [
        ("postgres", "SELECT count(*) FROM pg_database WHERE datname = :n"),
        (settings.tenants_database, "SELECT count(*) FROM pg_namespace WHERE nspname = :n"),
    ]:
        engine_ = create_oneshot_engine(with_database(settings.database_url, database))
        async with engine_.connect() as conn:
            found[database] = int(await conn.scalar(text(sql), {"n": name}) or 0)
        await engine_.dispose()
    async with engine.connect() as conn:
        found["users"] = int(
            await conn.scalar(select(func.count()).where(User.tenant_id == tenant_id)) or 0
        )
    return {"database": found["postgres"], "schema": found[settings.tenants_database]} | {
        "users": found["users"]
    }


async def temporal_cli(settings: Settings, *args: str) -> str:
    """The CLI, off the event loop (the in-process worker shares it)."""
    env = os.environ | {"TEMPORAL_ADDRESS": settings.temporal_address}
    done: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        subprocess.run,
        [temporal_binary(), *args, "--namespace", settings.temporal_namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("isolated", [False, True], ids=["shared", "isolated"])
@pytest.mark.parametrize("step", STEPS)
async def test_cancel_at_each_step_leaves_nothing_behind(
    api: httpx.AsyncClient,
    api_url: str,
    root_token: str,
    settings: Settings,
    control_plane: AsyncEngine,
    step: str,
    isolated: bool,
) -> None:
    tenant_id = unique_tenant_id()
    tab = await listen(api_url, root_token)
    try:
        async with step_held(settings, tenant_id, step, isolated=isolated):
            body = tenant_body(tenant_id, isolated=isolated)
            assert (await api.post("/api/tenants", json=body)).status_code == 202
            await wait_for_step(api, tenant_id, step, "running")
            response = await api.post(f"/api/tenants/{tenant_id}/cancel")
            assert response.status_code == 202, response.text
        tenant = await wait_for_status(api, tenant_id, FINAL)
        notification = await tab.wait_for(tenant_id, "TenantCancelled")
    finally:
        await tab.close()

    assert tenant["status"] == "Cancelled", tenant["provisioningError"]
    assert await leftovers(settings, control_plane, tenant_id) == {
        "database": 0,
        "schema": 0,
        "users": 0,
    }
    progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    statuses = {s["name"]: s["status"] for s in progress["steps"]}
    # Interrupted (heartbeats deliver the cancel) or finished first: either way it is undone.
    assert statuses[step] in {"cancelled", "completed"}
    assert statuses["activate_tenant"] == "cancelled"
    assert statuses["delete_tenant_users"] == "completed"
    if step != "create_admin_user":
        assert statuses["drop_tenant_database"] == "completed"
    assert notification["message"] == f"Provisioning of tenant 'Tenant {tenant_id}' was cancelled"


async def test_cancel_with_the_temporal_cli_has_the_same_effect(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        await temporal_cli(
            settings, "workflow", "cancel", "--workflow-id", f"provision-tenant-{tenant_id}"
        )
    tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Cancelled"
    assert await leftovers(settings, control_plane, tenant_id) == {
        "database": 0,
        "schema": 0,
        "users": 0,
    }
    query = f"TenantId='{tenant_id}' AND TenantStatus='Cancelled'"
    async with asyncio.timeout(10):  # visibility is eventually consistent
        while True:
            listed = await temporal_cli(settings, "workflow", "list", "--query", query)
            if f"provision-tenant-{tenant_id}" in listed:
                break
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("cleanup", ["retry", "delete"])
async def test_terminated_run_is_shown_honestly_and_cleaned_up_by_retry_or_delete(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine, cleanup: str
) -> None:
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        await temporal_cli(
            settings,
            "workflow",
            "terminate",
            "--workflow-id",
            f"provision-tenant-{tenant_id}",
            "--reason",
            "test: stuck",
        )

    # Settled by the API's background sweep (reads never write).
    tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Failed"
    assert "was terminated" in tenant["provisioningError"]
    assert "nothing was rolled back" in tenant["provisioningError"]
    assert (await leftovers(settings, control_plane, tenant_id))["users"] == 1

    if cleanup == "retry":
        assert (await api.post(f"/api/tenants/{tenant_id}/retry")).status_code == 202
        tenant = await wait_for_status(api, tenant_id, FINAL)
        assert tenant["status"] == "Active"
        assert await leftovers(settings, control_plane, tenant_id) == {
            "database": 0,
            "schema": 1,
            "users": 1,
        }
    else:
        assert (await api.delete(f"/api/tenants/{tenant_id}")).status_code == 202
        tenant = await wait_for_status(api, tenant_id, {TenantStatus.DELETED, TenantStatus.FAILED})
        assert tenant["status"] == "Deleted"
        assert await leftovers(settings, control_plane, tenant_id) == {
            "database": 0,
            "schema": 0,
            "users": 0,
        }


async def test_two_cancels_race_to_one_cancelled_outcome(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "create_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "create_tenant_database", "running")
        first, second = await asyncio.gather(
            api.post(f"/api/tenants/{tenant_id}/cancel"),
            api.post(f"/api/tenants/{tenant_id}/cancel"),
        )
        assert first.status_code == 202
        assert second.status_code in (202, 409)
    tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Cancelled"
    assert set((await leftovers(settings, control_plane, tenant_id)).values()) == {0}


async def test_delete_during_provisioning_is_refused_and_provisioning_finishes(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        refused = await api.delete(f"/api/tenants/{tenant_id}")
    assert refused.status_code == 409
    assert "Provisioning" in refused.json()["detail"]
    assert (await wait_for_status(api, tenant_id, FINAL))["status"] == "Active"


async def test_cancel_is_refused_once_provisioning_is_over(api: httpx.AsyncClient) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, FINAL)
    response = await api.post(f"/api/tenants/{tenant_id}/cancel")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Tenant '{tenant_id}' is Active: only a tenant that is Pending or Provisioning "
        "can be cancelled"
    )


async def test_retry_of_a_failed_update_reapplies_it_and_keeps_the_data(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    """A tenant that was Active is never re-provisioned (a cancel would drop its data)."""
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, FINAL)
    # The state a failed (or terminated) update leaves: Failed, behind an UpdateTenant run.
    async with control_plane.begin() as conn:
        await conn.execute(
            text(
                "UPDATE tenants SET status = 'Failed', provisioning_error = 'update failed', "
                "workflow_id = :w WHERE id = :t"
            ),
            {"t": tenant_id, "w": f"update-tenant-{tenant_id}-deadbeef"},
        )

    retried = await api.post(f"/api/tenants/{tenant_id}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["workflowId"].startswith(f"update-tenant-{tenant_id}-")
    tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Active"
    assert await leftovers(settings, control_plane, tenant_id) == {
        "database": 0,
        "schema": 1,
        "users": 1,
    }
