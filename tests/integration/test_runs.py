"""GET /api/tenants/{id}/runs: every run of a tenant, newest first; GET …/runs/{runId}: steps."""

import asyncio
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import (
    drop_database,
    occupy_database_name,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
)

pytestmark = pytest.mark.integration


async def runs_when(
    api: httpx.AsyncClient, tenant_id: str, statuses: list[str], within: float = 30
) -> list[dict[str, Any]]:
    """The runs once visibility shows them with `statuses`, newest first (it lags a little)."""
    async with asyncio.timeout(within):
        while True:
            response = await api.get(f"/api/tenants/{tenant_id}/runs")
            assert response.status_code == 200, response.text
            runs: list[dict[str, Any]] = response.json()
            if [run["status"] for run in runs] == statuses:
                return runs
            await asyncio.sleep(0.1)


async def test_every_run_is_listed_newest_first_with_its_error_and_steps(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id("runs")
    taken = await occupy_database_name(settings, tenant_id)
    body = tenant_body(tenant_id, isolated=True)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.FAILED})
    await drop_database(settings, taken)
    assert (await api.post(f"/api/tenants/{tenant_id}/retry")).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    change = {"name": "Renamed", "isActive": True}
    assert (await api.put(f"/api/tenants/{tenant_id}", json=change)).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})

    runs = await runs_when(api, tenant_id, ["Completed", "Completed", "Failed"])
    assert [r["workflowType"] for r in runs] == [
        "UpdateTenant",
        "ProvisionTenant",
        "ProvisionTenant",
    ]
    assert [r["label"] for r in runs] == ["Update", "Provision", "Provision"]
    assert [r["tenantStatus"] for r in runs] == ["Active", "Active", "Failed"]
    starts = [r["startedAt"] for r in runs]
    assert starts == sorted(starts, reverse=True)
    update, retried, failed = runs
    assert retried["workflowId"] == failed["workflowId"] == f"provision-tenant-{tenant_id}"
    assert retried["runId"] != failed["runId"]
    assert "does not belong to this tenant" in failed["error"]
    assert update["error"] is None and retried["error"] is None
    assert all(r["closedAt"] for r in runs)
    assert failed["webUrl"].endswith(
        f"/namespaces/{settings.temporal_namespace}/workflows/"
        f"provision-tenant-{tenant_id}/{failed['runId']}/history"
    )

    # Each run's own steps, the earlier (failed) run's included.
    steps = (await api.get(f"/api/tenants/{tenant_id}/runs/{failed['runId']}")).json()
    assert steps["status"] == "Failed"
    assert any(
        s["name"] == "create_tenant_database" and s["status"] == "failed" for s in steps["steps"]
    ), steps
    steps = (await api.get(f"/api/tenants/{tenant_id}/runs/{retried['runId']}")).json()
    assert steps["status"] == "Active"
    assert {s["status"] for s in steps["steps"]} == {"completed"}, steps
    steps = (await api.get(f"/api/tenants/{tenant_id}/runs/{update['runId']}")).json()
    assert steps["workflowType"] == "UpdateTenant"


async def test_runs_of_unknown_tenants_and_foreign_runs_are_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/tenants/no-such-tenant/runs")).status_code == 404
    tenant_id = unique_tenant_id("runs")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    (run,) = await runs_when(api, tenant_id, ["Completed"])
    other = unique_tenant_id("runs")
    assert (await api.post("/api/tenants", json=tenant_body(other))).status_code == 202
    # Settled before the next test: nothing of this one may run (and hash) during it.
    await wait_for_status(api, other, {TenantStatus.ACTIVE})
    assert (await api.get(f"/api/tenants/{other}/runs/{run['runId']}")).status_code == 404
    response = await api.get(f"/api/tenants/{tenant_id}/runs/x' OR 'a'='a")
    assert response.status_code == 422
