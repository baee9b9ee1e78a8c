"""Bulk actions: by ids and by filter, with eligible and ineligible tenants mixed; the state
(GET) and its stream (SSE); each tenant judged by the same rules as the single-tenant API."""

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from temporalio.client import Client
from temporalio.worker import Replayer

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
from workflows.worker import WORKFLOWS

pytestmark = pytest.mark.integration


async def provisioned(
    api: httpx.AsyncClient, tenant_id: str, status: TenantStatus, **body: Any
) -> None:
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id, **body))).status_code == 202
    await wait_for_status(api, tenant_id, {status})


async def finished(api: httpx.AsyncClient, bulk_id: str, within: float = 60) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            response = await api.get(f"/api/tenants/bulk/{bulk_id}")
            assert response.status_code == 200, response.text
            state: dict[str, Any] = response.json()
            if state["finished"]:
                return state
            await asyncio.sleep(0.1)


def outcomes(state: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {o["tenantId"]: (o["outcome"], o["detail"]) for o in state["outcomes"]}


async def test_bulk_retry_by_ids_retries_the_failed_and_says_why_others_are_skipped(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    fixed, still_broken, active = (unique_tenant_id("bulk") for _ in range(3))
    taken = await occupy_database_name(settings, fixed)
    await occupy_database_name(settings, still_broken)
    await provisioned(api, fixed, TenantStatus.FAILED, isolated=True)
    await provisioned(api, still_broken, TenantStatus.FAILED, isolated=True)
    await provisioned(api, active, TenantStatus.ACTIVE)
    await drop_database(settings, taken)

    ids = [fixed, still_broken, active, "root", "no-such-tenant", fixed]
    response = await api.post("/api/tenants/bulk", json={"action": "retry", "tenantIds": ids})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["total"] == 5
    assert accepted["workflowId"] == f"bulk-action-{accepted['id']}"

    state = await finished(api, accepted["id"])
    got = outcomes(state)
    assert got[fixed] == ("done", None)
    assert got[still_broken][0] == "failed"
    assert "does not belong to this tenant" in (got[still_broken][1] or "")
    assert got[active] == (
        "skipped",
        "is Active: only a tenant that is Cancelled or Failed can be retried",
    )
    assert got["root"] == ("skipped", "the root tenant cannot be changed")
    assert got["no-such-tenant"] == ("skipped", "no such tenant")
    assert (state["total"], state["done"], state["failed"], state["skipped"]) == (5, 1, 1, 3)
    assert state["running"] == state["pending"] == 0

    assert (await api.get(f"/api/tenants/{fixed}")).json()["status"] == "Active"
    assert (await api.get(f"/api/tenants/{still_broken}")).json()["status"] == "Failed"
    # The bulk's run is the tenant's own, under its usual id, beside the first one.
    runs = (await api.get(f"/api/tenants/{fixed}/runs")).json()
    assert [r["workflowId"] for r in runs] == [f"provision-tenant-{fixed}"] * 2


async def test_bulk_by_filter_deactivates_the_matching_and_skips_the_ineligible(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    word = unique_tenant_id("flt")
    first, second, broken = f"{word}-a", f"{word}-b", f"{word}-c"
    await occupy_database_name(settings, broken)
    await provisioned(api, first, TenantStatus.ACTIVE)
    await provisioned(api, second, TenantStatus.ACTIVE)
    await provisioned(api, broken, TenantStatus.FAILED, isolated=True)

    body = {"action": "deactivate", "filter": {"q": word, "status": ["Active"]}}
    response = await api.post("/api/tenants/bulk", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["total"] == 2
    state = await finished(api, response.json()["id"])
    assert outcomes(state) == {first: ("done", None), second: ("done", None)}
    for tenant_id in (first, second):
        tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
        assert (tenant["status"], tenant["isActive"]) == ("Active", False)

    # Active and Failed: the Failed one is skipped with the rule it breaks; twice is harmless.
    body = {"action": "deactivate", "filter": {"q": word, "status": ["Active", "Failed"]}}
    state = await finished(api, (await api.post("/api/tenants/bulk", json=body)).json()["id"])
    assert outcomes(state) == {
        first: ("skipped", "already inactive"),
        second: ("skipped", "already inactive"),
        broken: ("skipped", "is Failed: only a tenant that is Active can be edited"),
    }


async def test_bulk_cancel_cancels_a_running_provisioning(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id("bulk")
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        body = {"action": "cancel", "tenantIds": [tenant_id]}
        response = await api.post("/api/tenants/bulk", json=body)
        assert response.status_code == 202, response.text
        state = await finished(api, response.json()["id"])
    assert outcomes(state) == {tenant_id: ("done", "cancel requested")}
    await wait_for_status(api, tenant_id, {TenantStatus.CANCELLED})


async def test_the_stream_sends_each_change_until_the_bulk_has_finished(
    api: httpx.AsyncClient, api_url: str, root_token: str
) -> None:
    tenants = [unique_tenant_id("bulk") for _ in range(3)]
    for tenant_id in tenants:
        await provisioned(api, tenant_id, TenantStatus.ACTIVE)
    body = {"action": "deactivate", "tenantIds": tenants, "concurrency": 1}
    bulk_id = (await api.post("/api/tenants/bulk", json=body)).json()["id"]
    events: list[dict[str, Any]] = []
    url = f"/api/tenants/bulk/{bulk_id}/events?access_token={root_token}"
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        async with aconnect_sse(client, "GET", url) as source:
            assert source.response.status_code == 200
            async for event in source.aiter_sse():
                if event.event == "progress":
                    events.append(json.loads(event.data))
    assert events[-1]["finished"] is True
    assert events[-1]["done"] == 3
    versions = [e["version"] for e in events]
    assert versions == sorted(set(versions))


async def test_a_cancelled_bulk_finishes_what_it_began_and_skips_the_rest(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenants = [unique_tenant_id("bulk") for _ in range(3)]
    for tenant_id in tenants:
        taken = await occupy_database_name(settings, tenant_id)
        await provisioned(api, tenant_id, TenantStatus.FAILED, isolated=True)
        await drop_database(settings, taken)
    first = tenants[0]
    async with step_held(settings, first, "migrate_tenant_database", isolated=True):
        body = {"action": "retry", "tenantIds": tenants, "concurrency": 1}
        accepted = (await api.post("/api/tenants/bulk", json=body)).json()
        await wait_for_step(api, first, "migrate_tenant_database", "running")
        await temporal_client.get_workflow_handle(accepted["workflowId"]).cancel()
        # Held until the cancel has reached the bulk: it waits for the tenant it has begun.
        async with asyncio.timeout(30):
            while True:
                state = (await api.get(f"/api/tenants/bulk/{accepted['id']}")).json()
                if state["cancelled"]:
                    break
                await asyncio.sleep(0.05)
    state = await finished(api, accepted["id"])
    assert outcomes(state) == {
        first: ("done", None),
        tenants[1]: ("skipped", "the bulk action was cancelled first"),
        tenants[2]: ("skipped", "the bulk action was cancelled first"),
    }
    assert (await api.get(f"/api/tenants/{first}")).json()["status"] == "Active"
    for tenant_id in tenants[1:]:
        assert (await api.get(f"/api/tenants/{tenant_id}")).json()["status"] == "Failed"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "retry"},
        {"action": "retry", "tenantIds": ["a-b-c"], "filter": {}},
        {"action": "retry", "tenantIds": []},
        {"action": "explode", "tenantIds": ["a-b-c"]},
        {"action": "retry", "tenantIds": ["a-b-c"], "concurrency": 0},
        {"action": "retry", "tenantIds": ["a\x00b"]},
        {"action": "delete", "filter": {"q": ""}},
        {"action": "delete", "filter": {"status": []}},
    ],
)
async def test_bad_bulk_requests_are_422(api: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert (await api.post("/api/tenants/bulk", json=body)).status_code == 422


async def test_unknown_and_malformed_bulk_ids(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/tenants/bulk/0123456789ab")).status_code == 404
    assert (await api.get("/api/tenants/bulk/0123456789ab/events")).status_code == 404
    assert (await api.get("/api/tenants/bulk/not-an-id")).status_code == 422


async def test_a_bulk_history_replays(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    """Replays a fresh bulk run (done, failed and skipped tenants); with HISTORY_OUT set, keeps
    it for tests/integration/test_replay.py, which replays every recorded history."""
    done, broken = unique_tenant_id("bulk"), unique_tenant_id("bulk")
    await occupy_database_name(settings, broken)
    await provisioned(api, done, TenantStatus.ACTIVE)
    await provisioned(api, broken, TenantStatus.FAILED, isolated=True)
    body = {"action": "retry", "tenantIds": [done, broken, "root"]}
    retried = (await api.post("/api/tenants/bulk", json=body)).json()
    body = {"action": "deactivate", "tenantIds": [done, broken]}
    deactivated = (await api.post("/api/tenants/bulk", json=body)).json()
    for accepted in (retried, deactivated):
        await finished(api, accepted["id"])
        handle = temporal_client.get_workflow_handle(accepted["workflowId"])
        history = await handle.fetch_history()
        await Replayer(workflows=list(WORKFLOWS)).replay_workflow(history)
        if out := os.environ.get("HISTORY_OUT"):
            name = f"bulk-action-{'deactivate' if accepted is deactivated else 'retry'}.json"
            await asyncio.to_thread((Path(out) / name).write_text, history.to_json())
