"""Live progress over SSE: real uvicorn, real worker, real Temporal, real PostgreSQL."""

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import ServerSentEvent, aconnect_sse

from api.main import create_app
from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import token_for
from tests.helpers import (
    PASSWORD,
    serve_in_thread,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)

pytestmark = pytest.mark.integration

STEP_ORDER = ["pending", "running", "retrying", "completed"]


async def read_events(
    client: httpx.AsyncClient, url: str, *, limit: int | None = None, **kwargs: Any
) -> list[ServerSentEvent]:
    events: list[ServerSentEvent] = []
    async with asyncio.timeout(60), aconnect_sse(client, "GET", url, **kwargs) as source:
        assert source.response.status_code == 200
        async for event in source.aiter_sse():
            if not event.data:  # a keep-alive comment (httpx-sse dispatches it; EventSource not)
                continue
            events.append(event)
            if limit is not None and len(events) == limit:
                break
    return events


def snapshots(events: list[ServerSentEvent]) -> list[dict[str, Any]]:
    assert {e.event for e in events} == {"progress"}
    return [json.loads(e.data) for e in events]


def assert_well_ordered(events: list[ServerSentEvent]) -> None:
    ids = [int(e.id) for e in events]
    assert ids == sorted(set(ids)), f"ids not strictly increasing: {ids}"
    data = [e.data for e in events]
    assert len(data) == len(set(data)), "the same snapshot was sent twice"
    for name in [s["name"] for s in snapshots(events)[-1]["steps"]]:
        seen = [
            next(s["status"] for s in snap["steps"] if s["name"] == name)
            for snap in snapshots(events)
        ]
        ranks = [STEP_ORDER.index(status) if status != "retrying" else 1.5 for status in seen]
        assert ranks == sorted(ranks), f"{name} went backwards: {seen}"


async def test_subscriber_sees_steps_in_order_and_the_stream_ends_after_active(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        stream = asyncio.create_task(read_events(api, f"/api/tenants/{tenant_id}/events"))
        await asyncio.sleep(0.5)
    events = await stream

    assert_well_ordered(events)
    first, last = snapshots(events)[0], snapshots(events)[-1]
    assert [s["status"] for s in first["steps"]] == ["completed", "completed", "running", "pending"]
    assert first["status"] == "Provisioning"
    assert last["status"] == "Active"
    assert [s["status"] for s in last["steps"]] == ["completed"] * 4
    # The id is the workflow's own ordering, the same on every API process.
    started = datetime.fromisoformat(last["runStartedAt"])
    assert int(events[-1].id) == int(started.timestamp() * 1000) * 1000 + last["version"]


async def test_late_subscriber_gets_the_final_snapshot_and_the_stream_ends(
    api: httpx.AsyncClient, api_app: FastAPI
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    await asyncio.sleep(0.3)  # let the run close

    events = await read_events(api, f"/api/tenants/{tenant_id}/events")
    (final,) = snapshots(events)
    assert final["status"] == "Active"
    assert [s["status"] for s in final["steps"]] == ["completed"] * 4

    again = await api.get(
        f"/api/tenants/{tenant_id}/events", headers={"Last-Event-ID": events[-1].id}
    )
    assert again.status_code == 204, "a client holding the final state is told to stop"


async def test_reconnect_with_last_event_id_continues_to_the_final_state(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    url = f"/api/tenants/{tenant_id}/events"
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        (first,) = await read_events(api, url, limit=1)  # then the client drops
    rest = await read_events(api, url, headers={"Last-Event-ID": first.id})

    assert rest, "nothing after the reconnect"
    assert all(int(e.id) > int(first.id) for e in rest)
    assert snapshots(rest)[-1]["status"] == "Active"
    assert_well_ordered([first, *rest])


async def test_transient_failure_streams_as_a_retrying_attempt_with_its_error(
    api: httpx.AsyncClient, flaky_api: str, root_token: str
) -> None:
    tenant_id = unique_tenant_id()
    headers = {"Authorization": f"Bearer {root_token}"}
    async with httpx.AsyncClient(base_url=flaky_api, headers=headers, timeout=30) as flaky:
        assert (await flaky.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        events = await read_events(flaky, f"/api/tenants/{tenant_id}/events")

    assert_well_ordered(events)
    database_step = [snap["steps"][1] for snap in snapshots(events)]
    retrying = [s for s in database_step if s["status"] == "retrying"]
    assert retrying, "the retry never reached the stream"
    assert retrying[0]["lastError"].startswith("ConnectionRefusedError: database server")
    assert {s["attempt"] for s in retrying} <= {2, 3}
    assert database_step[-1]["status"] == "completed"
    assert snapshots(events)[-1]["status"] == "Active"


async def test_event_stream_checks_before_streaming(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str, root_token: str
) -> None:
    missing = await api.get("/api/tenants/no-such-tenant/events")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "Tenant 'no-such-tenant' not found"},
    )
    assert (await api.get("/api/tenants/root/events")).status_code == 404
    assert (await anonymous.get("/api/tenants/root/events")).status_code == 401
    bad = await anonymous.get("/api/tenants/root/events", params={"access_token": "nope"})
    assert bad.status_code == 401

    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    # EventSource cannot send headers: the token travels as a query parameter.
    events = await read_events(
        anonymous, f"/api/tenants/{tenant_id}/events", params={"access_token": root_token}
    )
    assert snapshots(events)[-1]["status"] == "Active"
    admin = await token_for(api_url, tenant["adminEmail"], PASSWORD, tenant=tenant_id)
    forbidden = await anonymous.get(
        f"/api/tenants/{tenant_id}/events", params={"access_token": admin}
    )
    assert forbidden.status_code == 403


async def test_fifty_subscribers_cost_the_same_queries_as_one(
    api: httpx.AsyncClient, api_app: FastAPI, settings: Settings
) -> None:
    counter = api_app.state.query_counter

    async def run_with(subscribers: int) -> tuple[int, int]:
        tenant_id = unique_tenant_id()
        url = f"/api/tenants/{tenant_id}/events"
        async with step_held(settings, tenant_id, "migrate_tenant_database"):
            assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
            await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
            before = counter.queries
            first = asyncio.create_task(read_events(api, url))
            await asyncio.sleep(0.5)
            joined = counter.queries
            others = [asyncio.create_task(read_events(api, url)) for _ in range(subscribers - 1)]
            await asyncio.sleep(0.5)
            added = counter.queries - joined
        streams = await asyncio.gather(first, *others)
        assert all(snapshots(s)[-1]["status"] == "Active" for s in streams)
        assert len({s[-1].id for s in streams}) == 1
        return counter.queries - before, added

    one, _ = await run_with(1)
    fifty, added_by_49 = await run_with(50)
    assert added_by_49 == 0, "joining subscribers must share the reader, not query"
    assert fifty == one, f"{fifty} queries with 50 subscribers vs {one} with 1"


async def test_keep_alive_pings_flow_while_nothing_changes(
    settings: Settings, api: httpx.AsyncClient, root_token: str
) -> None:
    tenant_id = unique_tenant_id()
    quick = settings.model_copy(update={"sse_ping_seconds": 1.0})
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        with serve_in_thread(create_app(quick)) as url:
            headers = {"Authorization": f"Bearer {root_token}"}
            async with (
                httpx.AsyncClient(base_url=url, headers=headers) as client,
                client.stream("GET", f"/api/tenants/{tenant_id}/events") as response,
            ):
                received = ""
                async with asyncio.timeout(10):
                    async for chunk in response.aiter_text():
                        received += chunk
                        if received.count(": ping") >= 2:
                            break
    assert "event: progress" in received
    assert received.count(": ping") >= 2


async def test_a_client_that_goes_away_is_noticed_and_its_reader_released(
    api: httpx.AsyncClient, api_app: FastAPI, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    hub = api_app.state.progress_hub
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "migrate_tenant_database", "running")
        streams = [
            asyncio.create_task(read_events(api, f"/api/tenants/{tenant_id}/events"))
            for _ in range(3)
        ]
        reader = None
        async with asyncio.timeout(10):
            while reader is None or reader.subscribers < 3:
                reader = hub._readers.get(f"provision-tenant-{tenant_id}")
                await asyncio.sleep(0.05)
        for stream in streams:  # the browser tabs close
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        async with asyncio.timeout(10):  # sse-starlette notices the disconnect
            while True:
                if reader.subscribers == 0:
                    break
                await asyncio.sleep(0.05)
    assert reader.subscribers == 0
