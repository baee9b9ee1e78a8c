"""SIGKILL of the worker process during each provisioning step, shared schema or isolated
database: a new worker finishes every run, and nothing is created twice."""

import asyncio
import contextlib

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.faults.conftest import FULL, sized
from tests.faults.holds import STEPS, start_held
from tests.faults.processes import worker_process
from tests.faults.storage import expected_footprint, tenant_footprint
from tests.helpers import unique_tenant_id, wait_for_status

pytestmark = pytest.mark.faults

CASES = [(step, isolated) for step in STEPS for isolated in (False, True)]
SHORT = [("create_tenant_database", True), ("migrate_tenant_database", False)]
FINAL = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED}


@pytest.mark.parametrize(("step", "isolated"), CASES if FULL else SHORT)
async def test_worker_killed_during_a_step_provisions_every_tenant_once(
    own_api: httpx.AsyncClient, own_settings: Settings, step: str, isolated: bool
) -> None:
    tenant_ids = [unique_tenant_id("kill") for _ in range(sized(1, 5))]
    async with contextlib.AsyncExitStack() as held:
        with worker_process(own_settings) as first:
            await first.wait_for_output("worker polling")
            # All at once: a held step must not outlast its start-to-close timeout before the kill.
            await asyncio.gather(
                *(
                    start_held(held, own_api, own_settings, t, step, isolated=isolated)
                    for t in tenant_ids
                )
            )
            await first.kill()
        with worker_process(own_settings):
            await held.aclose()
            tenants = [await wait_for_status(own_api, t, FINAL, within=90) for t in tenant_ids]

    assert [t["status"] for t in tenants] == ["Active"] * len(tenant_ids), tenants
    for tenant_id in tenant_ids:
        assert await tenant_footprint(own_settings, tenant_id) == expected_footprint(isolated)
