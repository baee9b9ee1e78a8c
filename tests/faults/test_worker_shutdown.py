"""A worker stopped normally (SIGTERM: a deploy, `make dev` restarting it) lets the step it is
running finish instead of cancelling it (Worker(graceful_shutdown_timeout=...))."""

import contextlib

import httpx
import pytest
from temporalio.client import Client

from core.settings import Settings
from core.status import TenantStatus
from tests.faults.processes import worker_process
from tests.faults.storage import activity_starts
from tests.helpers import step_held, tenant_body, unique_tenant_id, wait_for_status, wait_for_step

pytestmark = pytest.mark.faults


async def test_a_stopped_worker_finishes_its_running_step_first(
    own_api: httpx.AsyncClient, own_settings: Settings, temporal_client: Client
) -> None:
    tenant_id = unique_tenant_id("stop")
    step = "migrate_tenant_database"
    async with contextlib.AsyncExitStack() as held:
        await held.enter_async_context(step_held(own_settings, tenant_id, step))
        with worker_process(own_settings) as first:
            await first.wait_for_output("worker polling")
            assert (await own_api.post("/api/tenants", json=tenant_body(tenant_id))).is_success
            await wait_for_step(own_api, tenant_id, step, "running")
            first.process.terminate()
            await first.wait_for_output("shutting down")
            await held.aclose()  # the step can go on only now, while the worker is stopping
            assert await first.wait() == 0
        with worker_process(own_settings):
            tenant = await wait_for_status(
                own_api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED}, within=60
            )

    assert tenant["status"] == "Active", tenant["provisioningError"]
    # One start of the migration, in its first attempt, by the worker that was being stopped.
    starts = await activity_starts(temporal_client, f"provision-tenant-{tenant_id}", step)
    assert [(attempt, identity.split("@")[0]) for attempt, identity in starts] == [
        (1, str(first.pid))
    ]
