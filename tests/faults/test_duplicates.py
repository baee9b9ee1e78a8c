"""100 concurrent POSTs of one tenant id: one row, one workflow, 99 answers 409."""

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.status import TenantStatus
from tests.faults.conftest import sized
from tests.helpers import listed_runs, tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.faults


async def test_concurrent_posts_of_one_id_create_one_tenant_and_one_workflow(
    api: httpx.AsyncClient, control_plane: AsyncEngine, temporal_client: Client
) -> None:
    tenant_id = unique_tenant_id("dup")
    body = tenant_body(tenant_id)
    clients = sized(20, 100)
    responses = await asyncio.gather(
        *(api.post("/api/tenants", json=body, timeout=180) for _ in range(clients))
    )

    assert Counter(r.status_code for r in responses) == {202: 1, 409: clients - 1}
    assert (await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE}))["status"] == "Active"
    async with control_plane.connect() as conn:
        rows = await conn.scalar(
            text("SELECT count(*) FROM tenants WHERE id = :t"), {"t": tenant_id}
        )
    assert rows == 1
    # Visibility is eventually consistent: wait for the one run, then check it is the only one.
    runs = await listed_runs(temporal_client, f"TenantId = '{tenant_id}'", expected=1)
    assert runs == [f"provision-tenant-{tenant_id}"]
