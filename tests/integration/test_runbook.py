"""Run docs/operations.md's commands, as written, against the dev server; check their effect."""

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
    wait_for_status,
    wait_for_step,
)
from tests.runbook import CLI, COMMANDS, section
from tests.runbook import run as runbook_run

pytestmark = pytest.mark.integration

SETTLED = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED}
# The bulk actions' lines are run by test_runbook_bulk.py.
# Run by test_runbook_bulk.py and test_runbook_schema.py.
BULK = {
    c
    for c in COMMANDS
    if c in section("Act on many tenants") or c in section("A tenant's schema revision")
}
# Run by test_runbook_fleet.py.
BULK |= {c for c in COMMANDS if c in section("Fleet migrations")}
(FAILED_TENANTS,) = [c for c in COMMANDS if c in section("Find the tenants that failed")]


def command(*words: str) -> str:
    """The runbook's command on a tenant that starts with `temporal <words>` (exactly one must)."""
    prefix = CLI + " ".join(words) + " "
    (found,) = [
        c
        for c in COMMANDS
        if c.startswith(prefix) and "$TENANT" in c and "--output json" not in c and c not in BULK
    ]
    return found


async def run(settings: Settings, line: str, tenant_id: str) -> str:
    return await runbook_run(settings, line, TENANT=tenant_id)


def test_every_runbook_command_is_covered() -> None:
    assert all(c.startswith(CLI) for c in COMMANDS), "the CLI as make dev installs it"
    subcommands = {" ".join(c.split()[1:3]) for c in COMMANDS}
    assert subcommands == {
        "workflow list",
        "workflow describe",
        "workflow show",
        "workflow query",
        "workflow reset",
        "workflow cancel",
        "workflow terminate",
        "workflow update",
    }


async def test_inspection_commands_find_and_show_the_run(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    workflow_id = f"provision-tenant-{tenant_id}"

    assert workflow_id in await run(settings, command("workflow", "list"), tenant_id)
    described = await run(settings, command("workflow", "describe"), tenant_id)
    assert workflow_id in described and "ProvisionTenant" in described
    shown = await run(settings, command("workflow", "show"), tenant_id)
    assert "ActivityTaskCompleted" in shown
    queried = await run(settings, command("workflow", "query"), tenant_id)
    assert '"status": "Active"' in queried or '"status":"Active"' in queried


async def test_cancel_command_cancels_and_cleans_up(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        await run(settings, command("workflow", "cancel"), tenant_id)
    tenant = await wait_for_status(api, tenant_id, SETTLED)
    assert tenant["status"] == "Cancelled"


async def test_terminate_command_leaves_an_honest_failed_tenant(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        await run(settings, command("workflow", "terminate"), tenant_id)
    # Settled by the API's background sweep within seconds (reads never write).
    tenant = await wait_for_status(api, tenant_id, SETTLED)
    assert tenant["status"] == "Failed"
    assert "was terminated" in tenant["provisioningError"]


async def test_reset_command_reruns_a_failed_provisioning_once_the_cause_is_fixed(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    taken = await occupy_database_name(settings, tenant_id)
    body = tenant_body(tenant_id, isolated=True)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    assert (await wait_for_status(api, tenant_id, SETTLED))["status"] == "Failed"
    await drop_database(settings, taken)

    await run(settings, command("workflow", "reset"), tenant_id)
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    assert tenant["provisioningError"] is None


async def test_the_failed_tenants_command_lists_only_the_tenants_failed_now(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """Two tenants fail; one is retried and becomes Active: its failed run is still in Temporal's
    list, but the command lists only the other."""
    failed, recovered = unique_tenant_id("rbf"), unique_tenant_id("rbf")
    for tenant_id in (failed, recovered):
        taken = await occupy_database_name(settings, tenant_id)
        body = tenant_body(tenant_id, isolated=True)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        assert (await wait_for_status(api, tenant_id, SETTLED))["status"] == "Failed"
        if tenant_id == recovered:
            await drop_database(settings, taken)
    assert (await api.post(f"/api/tenants/{recovered}/retry")).status_code == 202
    await wait_for_status(api, recovered, {TenantStatus.ACTIVE})
    failed_runs = await run(settings, CLI + "workflow list --query \"TenantStatus='Failed'\"", "")
    assert f"provision-tenant-{recovered}" in failed_runs  # why a plain query is not enough

    listed = (await runbook_run(settings, FAILED_TENANTS)).split()
    assert failed in listed
    assert recovered not in listed
