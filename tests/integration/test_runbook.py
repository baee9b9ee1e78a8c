"""Run docs/operations.md's commands, as written, against the dev server; check their effect."""

import asyncio
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from devstack.__main__ import temporal_binary
from tests.helpers import (
    drop_database,
    occupy_database_name,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)

pytestmark = pytest.mark.integration

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
BLOCKS = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), re.S)
COMMANDS: list[str] = [
    line for block in BLOCKS for line in block.splitlines() if line.startswith("temporal ")
]
SETTLED = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED}


def command(*words: str) -> str:
    """The runbook's command on a tenant that starts with `temporal <words>` (exactly one must;
    the bulk actions' lines are run by test_runbook_bulk.py)."""
    prefix = " ".join(["temporal", *words]) + " "
    (found,) = [
        c for c in COMMANDS if c.startswith(prefix) and "$TENANT" in c and "--output json" not in c
    ]
    return found


async def run(settings: Settings, line: str, tenant_id: str) -> str:
    """Run a runbook line in bash, off the event loop: the in-process worker shares the loop
    and must answer the CLI's queries meanwhile."""
    binary = str(Path(temporal_binary()).parent)
    env = os.environ | {
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TENANT": tenant_id,
        "PATH": f"{binary}:{os.environ['PATH']}",
    }
    done: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        subprocess.run, ["bash", "-c", line], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{line}\n{done.stderr}"
    return done.stdout


def test_every_runbook_command_is_covered() -> None:
    subcommands = {" ".join(c.split()[1:3]) for c in COMMANDS}
    assert subcommands == {
        "workflow list",
        "workflow describe",
        "workflow show",
        "workflow query",
        "workflow reset",
        "workflow cancel",
        "workflow terminate",
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
