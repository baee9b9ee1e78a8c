"""Live progress over SSE: real uvicorn, real worker, real Temporal, real PostgreSQL."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import ServerSentEvent, aconnect_sse
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio.client import Client

from api.main import create_app
from api.progress_hub import ProgressHub
from core.models import Tenant
from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import token_for
from tests.helpers import (
    PASSWORD,
    free_port,
    occupy_database_name,
    serve_in_thread,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)
from workflows.worker import build_worker

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
    assert retrying[0]["lastError"].startswith("Could not reach PostgreSQL")
    assert retrying[0]["lastErrorDetail"].startswith("ConnectionRefusedError: database server")
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
    # The tenant's own admin may follow it; another tenant's stream is 403 for them.
    admin = await token_for(api_url, tenant["adminEmail"], PASSWORD, tenant=tenant_id)
    own = await read_events(
        anonymous, f"/api/tenants/{tenant_id}/events", params={"access_token": admin}
    )
    assert snapshots(own)[-1]["status"] == "Active"
    forbidden = await anonymous.get("/api/tenants/root/events", params={"access_token": admin})
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


@pytest.fixture
async def own_queue(
    settings: Settings, root_token: str
) -> AsyncIterator[tuple[Settings, httpx.AsyncClient]]:
    """An API whose workflows run on a task queue of their own, served only by the workers a
    test starts (`build_worker`) and stops."""
    own = settings.model_copy(update={"temporal_task_queue": f"own-{uuid.uuid4().hex[:8]}"})
    headers = {"Authorization": f"Bearer {root_token}"}
    with serve_in_thread(create_app(own)) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            yield own, client


async def collect_events(
    client: httpx.AsyncClient, url: str, into: list[ServerSentEvent], arrived: asyncio.Event
) -> None:
    """Like read_events, but each event is visible to the test as it arrives."""
    async with aconnect_sse(client, "GET", url) as source:
        assert source.response.status_code == 200
        async for event in source.aiter_sse():
            if event.data:
                into.append(event)
                arrived.set()


async def test_a_finished_tenant_shows_its_final_steps_at_once_with_no_worker_up(
    own_queue: tuple[Settings, httpx.AsyncClient],
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    own, client = own_queue
    tenant_id = unique_tenant_id()
    async with build_worker(temporal_client, control_plane, own):
        assert (await client.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_status(client, tenant_id, {TenantStatus.ACTIVE})
        await temporal_client.get_workflow_handle(f"provision-tenant-{tenant_id}").result()
    # No worker polls the queue any more: a query on the closed run would hang.

    started = time.monotonic()
    async with asyncio.timeout(5):  # it used to hang 20+ s
        response = await client.get(f"/api/tenants/{tenant_id}/progress")
    progress_took = time.monotonic() - started
    assert response.status_code == 200
    progress = response.json()
    assert progress["status"] == "Active"
    assert [s["status"] for s in progress["steps"]] == ["completed"] * 4

    started = time.monotonic()
    async with asyncio.timeout(5):
        events = await read_events(client, f"/api/tenants/{tenant_id}/events")
    events_took = time.monotonic() - started
    (final,) = snapshots(events)
    assert final == progress
    print(
        f"no worker: /progress {progress_took * 1000:.0f} ms, /events {events_took * 1000:.0f} ms"
    )


async def test_an_open_run_with_no_worker_shows_the_row_until_a_worker_takes_over(
    own_queue: tuple[Settings, httpx.AsyncClient],
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    own, client = own_queue
    tenant_id = unique_tenant_id()
    url = f"/api/tenants/{tenant_id}/events"
    assert (await client.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202

    started = time.monotonic()
    async with asyncio.timeout(5):
        response = await client.get(f"/api/tenants/{tenant_id}/progress")
    progress_took = time.monotonic() - started
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["steps"]) == ("Pending", [])

    events: list[ServerSentEvent] = []
    arrived = asyncio.Event()
    stream = asyncio.create_task(collect_events(client, url, events, arrived))
    async with asyncio.timeout(10):
        await arrived.wait()
    (provisional,) = snapshots(events)
    assert (provisional["status"], provisional["steps"]) == ("Pending", [])
    assert not stream.done(), "a provisional snapshot does not end the stream"

    async with build_worker(temporal_client, control_plane, own), asyncio.timeout(30):
        await stream
    assert_well_ordered(events[1:])
    assert int(events[1].id) > int(events[0].id), "the worker's first answer supersedes the row"
    final = snapshots(events)[-1]
    assert final["status"] == "Active"
    assert [s["status"] for s in final["steps"]] == ["completed"] * 4
    print(f"open run, no worker: /progress {progress_took * 1000:.0f} ms")


async def test_a_retried_tenant_never_shows_the_previous_runs_outcome(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    url = f"/api/tenants/{tenant_id}/events"
    await occupy_database_name(settings, tenant_id)  # every run fails the same way
    body = tenant_body(tenant_id, isolated=True)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.FAILED})
    first = await read_events(api, url)
    (failed,) = snapshots(first)
    assert failed["status"] == "Failed"

    # Retried and failed again within the first reader's linger: same status, same error.
    assert (await api.post(f"/api/tenants/{tenant_id}/retry")).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.FAILED})
    again = await read_events(api, url)
    (failed_again,) = snapshots(again)

    assert failed_again["status"] == "Failed"
    assert failed_again["runStartedAt"] != failed["runStartedAt"], "the previous run's snapshot"
    assert int(again[-1].id) > int(first[-1].id)


async def test_with_temporal_unreachable_a_reader_shows_only_a_final_row_as_it_is(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    done, busy = unique_tenant_id(), unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(done))).status_code == 202
    await wait_for_status(api, done, {TenantStatus.ACTIVE})
    nowhere = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    hub = ProgressHub(nowhere, async_sessionmaker(control_plane, expire_on_commit=False))
    async with step_held(settings, busy, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(busy))).status_code == 202
        await wait_for_step(api, busy, "migrate_tenant_database", "running")
        try:
            async with async_sessionmaker(control_plane)() as session:
                rows = [await session.get(Tenant, tenant_id) for tenant_id in (done, busy)]
            latest = []
            for row in rows:
                assert row is not None
                async with hub.subscribe(row) as reader, asyncio.timeout(30):
                    await reader.task
                latest.append(reader.latest)
            active, provisioning = latest
        finally:
            await hub.close()
    assert active is not None and active.progress.status == "Active"
    # Not a guess at the run's outcome (Failed, "unknown to Temporal"): nothing; the API says 503.
    assert provisioning is None
