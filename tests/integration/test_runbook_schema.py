"""Run docs/operations.md's schema-revision commands, as written, and check what they find."""

import httpx
import pytest
from temporalio.client import Client

from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import listed_runs, tenant_body, unique_tenant_id, wait_for_status
from tests.runbook import blocks, commands, section
from tests.runbook import run as runbook_run
from tests.tenant_schema import migrate

pytestmark = pytest.mark.integration

(BLOCK,) = blocks(section("A tenant's schema revision"))
AT_REVISION, MIGRATIONS_AT_REVISION, MIGRATIONS_OF_TENANT = commands(BLOCK)


async def test_schema_revision_commands_find_the_runs(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenant_id = unique_tenant_id("rev")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    result = await migrate(temporal_client, settings, tenant_id, "t0001")
    assert result.outcome == "migrated"
    # Visibility is eventually consistent: wait until the run shows its last revision.
    query = f"TenantId='{tenant_id}' AND TenantSchemaRevision='t0001'"
    (migration,) = await listed_runs(temporal_client, query, 1)

    async def run(line: str, revision: str) -> str:
        return await runbook_run(settings, line, TENANT=tenant_id, REVISION=revision)

    assert migration in await run(AT_REVISION, "t0001")
    assert migration in await run(MIGRATIONS_AT_REVISION, "t0001")
    provisioning = f"provision-tenant-{tenant_id}"
    at_head = await run(AT_REVISION, "t0003")
    assert provisioning in at_head
    assert provisioning not in await run(MIGRATIONS_AT_REVISION, "t0003")
    of_tenant = await run(MIGRATIONS_OF_TENANT, "t0001")
    assert migration in of_tenant and provisioning not in of_tenant
