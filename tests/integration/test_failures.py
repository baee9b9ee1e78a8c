"""Permanent failures end in Failed with the error stored; transient ones are retried."""

import asyncio

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from api.operations import Operations
from api.schemas import TenantCreate
from core.database import create_oneshot_engine, with_database
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import PASSWORD, occupy_database_name, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.integration


async def test_storage_name_taken_by_a_stranger_fails_for_good_with_the_error_stored(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenant_id = unique_tenant_id()
    taken = await occupy_database_name(settings, tenant_id)

    body = {
        "id": tenant_id,
        "name": "Clash",
        "adminEmail": f"admin@{tenant_id}.example.com",
        "password": PASSWORD,
        "hasIsolatedDatabase": True,
    }
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED})

    assert tenant["status"] == "Failed"
    assert tenant["provisioningError"] == (
        f"database {taken} already exists and does not belong to this tenant"
    )
    assert tenant["lastProvisioningAttempt"] is not None
    progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    assert progress["status"] == "Failed"
    assert [(s["name"], s["status"], s["attempt"]) for s in progress["steps"]] == [
        ("create_admin_user", "completed", 1),
        ("create_tenant_database", "failed", 1),
        ("migrate_tenant_database", "pending", 0),
        ("activate_tenant", "pending", 0),
    ]
    handle = temporal_client.get_workflow_handle(tenant["workflowId"])
    # The row says Failed first; the run then notifies the initiator and fails.
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    # The stranger's database is untouched.
    assert settings.database_url
    stranger = create_oneshot_engine(with_database(settings.database_url, taken))
    async with stranger.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM someone_elses_data")) == 0
    await stranger.dispose()


async def test_transient_failure_is_retried_visibly_and_the_tenant_becomes_active(
    api: httpx.AsyncClient,
    flaky_settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    tenant_id = unique_tenant_id()
    request = TenantCreate(
        id=tenant_id,
        name="Flaky",
        admin_email=f"admin@{tenant_id}.example.com",
        password=SecretStr(PASSWORD),
    )
    async with async_sessionmaker(control_plane)() as session:
        await Operations(session, temporal_client, flaky_settings).create(request, None)

    seen_retrying: list[dict[str, object]] = []
    while True:
        progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
        step = progress["steps"][1]
        if step["status"] == "retrying":
            seen_retrying.append(step)
        if progress["status"] in ("Active", "Failed"):
            break
        await asyncio.sleep(0.05)

    assert progress["status"] == "Active"
    assert step["status"] == "completed"
    assert step["attempt"] == 3
    assert step["lastError"] == (
        "Could not reach PostgreSQL to create the tenant's database or schema: the connection "
        "was refused (is the server running, is DATABASE_URL right?)"
    )
    assert step["lastErrorDetail"] == "ConnectionRefusedError: database server unreachable (0 left)"
    assert seen_retrying, "the retry was never visible in the progress snapshot"
    assert {s["attempt"] for s in seen_retrying} <= {2, 3}
    assert all(
        str(s["lastErrorDetail"]).startswith("ConnectionRefusedError: database server unreachable")
        for s in seen_retrying
    )
    tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
    assert tenant["status"] == "Active"
    assert tenant["provisioningError"] is None
