"""The operations view's figures (GET /api/ops/summary) for tenants the test creates."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import Client

from api import ops
from api.main import create_app
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import (
    occupy_database_name,
    serve_in_thread,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)
from workflows.worker import build_worker

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_deployment(
    settings: Settings, root_token: str, temporal_client: Client, control_plane: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """An API and one worker on a task queue of their own: Temporal's figures are theirs."""
    own = settings.model_copy(update={"temporal_task_queue": f"ops-{uuid.uuid4().hex[:8]}"})
    headers = {"Authorization": f"Bearer {root_token}"}
    async with build_worker(temporal_client, control_plane, own):
        with serve_in_thread(create_app(own)) as url:
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                yield client


async def summary_when(
    api: httpx.AsyncClient, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The summary once `ready` holds (Temporal's visibility lags a closed run a little)."""
    async with asyncio.timeout(30):
        while True:
            response = await api.get("/api/ops/summary")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if ready(body):
                return body
            await asyncio.sleep(0.2)


async def test_summary_counts_the_tenants_created_their_time_to_active_and_failures(
    own_deployment: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    api = own_deployment
    before = (await api.get("/api/ops/summary")).json()
    assert before["activated"] == 0 and before["failuresByStep"] == []
    assert len(before["minutes"]) == 60

    shared, isolated, failing, held = (unique_tenant_id("ops") for _ in range(4))
    await occupy_database_name(settings, failing)  # its database step fails for good
    for tenant_id, placement in ((shared, False), (isolated, True), (failing, True)):
        body = tenant_body(tenant_id, isolated=placement)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
    async with step_held(settings, held, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(held))).status_code == 202
        await wait_for_step(api, held, "migrate_tenant_database", "running")
        await wait_for_status(api, failing, {TenantStatus.FAILED})
        await wait_for_status(api, shared, {TenantStatus.ACTIVE})
        await wait_for_status(api, isolated, {TenantStatus.ACTIVE})
        during = await summary_when(
            api, lambda s: s["activated"] == 2 and s["failuresByStep"] != []
        )
    await wait_for_status(api, held, {TenantStatus.ACTIVE})
    after = await summary_when(api, lambda s: s["activated"] == 3)

    assert during["created"] - before["created"] == 4
    assert sum(m["created"] for m in during["minutes"]) == during["created"]
    assert during["inFlight"] - before["inFlight"] == 1
    assert during["inFlightByStatus"].get("Provisioning", 0) >= 1
    assert during["failuresByStep"] == [
        {"workflowType": "ProvisionTenant", "step": "create_tenant_database", "count": 1}
    ]
    assert 0 < during["p50Seconds"] <= during["p95Seconds"]
    assert sum(m["activated"] for m in during["minutes"]) == 2
    assert after["inFlight"] == before["inFlight"]
    # Its one worker polls the queue; nothing waits on it any more.
    assert after["taskQueue"]["workers"] == 1
    assert after["taskQueue"]["backlog"] == 0

    # A closed run's failed step is read from Temporal once, then remembered by run id (a
    # planted step is what a summary shows); the request's session is closed, not left idle in
    # a transaction, while Temporal answers.
    queue = after["taskQueue"]["name"]
    handle = temporal_client.get_workflow_handle(f"provision-tenant-{failing}")
    failed_run = (await handle.describe()).run_id
    remembered = ops.FailedSteps()
    async with AsyncSession(control_plane) as session:
        await ops.summary(session, temporal_client, queue, remembered)
        assert not session.in_transaction()
    assert remembered.get(failed_run) == "create_tenant_database"
    remembered.put(failed_run, "planted")
    async with AsyncSession(control_plane) as session:
        again = await ops.summary(session, temporal_client, queue, remembered)
    assert [(f.step, f.count) for f in again.failures_by_step] == [("planted", 1)]


async def test_summary_is_for_root_only(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/api/ops/summary")).status_code == 401
