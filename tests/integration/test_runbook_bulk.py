"""Run docs/operations.md's bulk-action commands, as written, and check their effect."""

from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import (
    drop_database,
    occupy_database_name,
    step_held,
    tenant_body,
    unique_tenant_id,
    until_value,
    wait_for_status,
    wait_for_step,
)
from tests.runbook import blocks, commands, run_until, section
from tests.runbook import run as runbook_run

pytestmark = pytest.mark.integration

(BLOCK,) = blocks(section("Act on many tenants"))
LIST_BULKS, QUERY, CHILDREN, FAILED_RUNS, CANCEL = commands(BLOCK)


async def run(settings: Settings, line: str, bulk_id: str) -> str:
    return await runbook_run(settings, line, BULK=bulk_id)


async def until_in(settings: Settings, line: str, bulk_id: str, text: str) -> str:
    return await run_until(settings, line, text, BULK=bulk_id)


async def state_when(api: httpx.AsyncClient, bulk_id: str, flag: str) -> dict[str, Any]:
    async def flagged() -> dict[str, Any]:
        state: dict[str, Any] = (await api.get(f"/api/tenants/bulk/{bulk_id}")).json()
        return state if state[flag] else {}  # {}: not yet

    return await until_value(flagged, within=60)


async def test_bulk_commands_find_follow_and_cancel_a_bulk_action(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    first, second = unique_tenant_id("rbk"), unique_tenant_id("rbk")
    for tenant_id in (first, second):
        taken = await occupy_database_name(settings, tenant_id)
        body = tenant_body(tenant_id, isolated=True)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        await wait_for_status(api, tenant_id, {TenantStatus.FAILED})
        await drop_database(settings, taken)

    async with step_held(settings, first, "migrate_tenant_database", isolated=True):
        body = {"action": "retry", "tenantIds": [first, second], "concurrency": 1}
        bulk_id = (await api.post("/api/tenants/bulk", json=body)).json()["id"]
        await wait_for_step(api, first, "migrate_tenant_database", "running")

        await until_in(settings, LIST_BULKS, bulk_id, f"bulk-action-{bulk_id}")
        progress = await run(settings, QUERY, bulk_id)
        assert '"total": 2' in progress or '"total":2' in progress
        await until_in(settings, CHILDREN, bulk_id, f"provision-tenant-{first}")
        await until_in(settings, FAILED_RUNS, bulk_id, f"provision-tenant-{second}")
        await run(settings, CANCEL, bulk_id)
        await state_when(api, bulk_id, "cancelled")
    state = await state_when(api, bulk_id, "finished")
    outcomes = {o["tenantId"]: o["outcome"] for o in state["outcomes"]}
    assert outcomes == {first: "done", second: "skipped"}
    await wait_for_status(api, first, {TenantStatus.ACTIVE})
    assert (await api.get(f"/api/tenants/{second}")).json()["status"] == "Failed"
