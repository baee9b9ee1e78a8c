"""Scale-out: two `python -m api` processes and three `python -m workflows.worker` processes on
one task queue, sharing nothing but PostgreSQL and Temporal. Tenants are created through both
APIs while one worker is SIGKILLed with work in hand; every tenant ends Active exactly once, and
a client sees the right progress and notifications whichever API process it talks to."""

import asyncio
import collections
import contextlib

import httpx
import pytest
from temporalio.client import Client

from core.settings import Settings
from tests.faults.conftest import FULL, sized
from tests.faults.processes import Component, api_process, listening_port, worker_process
from tests.faults.storage import activity_starts, expected_footprint, fleet_footprint
from tests.faults.streams import Watcher
from tests.helpers import (
    listed_runs,
    listen,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_step,
)

# Full size (50 tenants, 5 processes) on a loaded 2-core machine can pass the default 120 s.
pytestmark = [pytest.mark.faults, *([pytest.mark.timeout(300)] if FULL else [])]

HELD_STEP = "migrate_tenant_database"


def workflow_id(tenant_id: str) -> str:
    return f"provision-tenant-{tenant_id}"


async def workers_running(client: Client, tenant_ids: list[str]) -> dict[str, str]:
    """Tenant id → identity (`pid@host`) of the worker whose held step it is, once every
    held step has been picked up by a worker."""
    async with asyncio.timeout(30):
        while True:
            running: dict[str, str] = {}
            for tenant_id in tenant_ids:
                described = await client.get_workflow_handle(workflow_id(tenant_id)).describe()
                for pending in described.raw_description.pending_activities:
                    if pending.activity_type.name == HELD_STEP and pending.last_worker_identity:
                        running[tenant_id] = pending.last_worker_identity
            if len(running) == len(tenant_ids):
                return running
            await asyncio.sleep(0.1)


def by_pid(workers: list[Component], identity: str) -> Component:
    return next(w for w in workers if identity.startswith(f"{w.pid}@"))


async def test_two_apis_three_workers_one_killed_provision_every_tenant_once(
    own_settings: Settings, root_token: str, temporal_client: Client
) -> None:
    tenant_ids = [unique_tenant_id("scale") for _ in range(sized(20, 50))]
    isolated = {t: i % 5 == 4 for i, t in enumerate(tenant_ids)}  # one in five: own database
    held_ids = tenant_ids[:3]  # shared schema, held in migrations until the kill
    half = len(tenant_ids) // 2
    ports = [listening_port(), listening_port()]
    while ports[1] == ports[0]:
        ports[1] = listening_port()
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    headers = {"Authorization": f"Bearer {root_token}"}
    watchers: dict[str, Watcher] = {}

    with contextlib.ExitStack() as processes:
        workers = [
            processes.enter_context(worker_process(own_settings, f"worker-{n}")) for n in (1, 2, 3)
        ]
        apis = [
            processes.enter_context(api_process(own_settings, port, f"api-{n}"))
            for n, port in enumerate(ports, start=1)
        ]
        await asyncio.gather(
            *(w.wait_for_output("worker polling", within=90) for w in workers),
            *(a.wait_for_output("Uvicorn running", within=90) for a in apis),
        )
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, headers=headers, timeout=60)
                )
                for url in urls
            ]
            # One tab of root's on each API process: each must hear of every tenant, whichever
            # process created it.
            listeners = [await listen(url, root_token) for url in urls]
            for listener in listeners:
                stack.push_async_callback(listener.close)

            async def create(index: int, tenant_id: str) -> None:
                """Through API (index % 2); its progress watched through the other one."""
                body = tenant_body(tenant_id, isolated=isolated[tenant_id])
                response = await clients[index % 2].post("/api/tenants", json=body)
                assert response.status_code == 202, response.text
                watchers[tenant_id] = Watcher(urls[(index + 1) % 2], root_token, tenant_id)

            async with contextlib.AsyncExitStack() as held:
                for tenant_id in held_ids:
                    await held.enter_async_context(step_held(own_settings, tenant_id, HELD_STEP))
                await asyncio.gather(*(create(i, t) for i, t in enumerate(tenant_ids[:half])))
                await asyncio.gather(
                    *(wait_for_step(clients[0], t, HELD_STEP, "running") for t in held_ids)
                )
                running = await workers_running(temporal_client, held_ids)
                # The worker with the most held steps in hand: what it was doing just vanishes.
                busiest = collections.Counter(running.values()).most_common(1)[0][0]
                victim = by_pid(workers, busiest)
                await victim.kill()
            # Holds released; the rest of the tenants arrive while only two workers are left.
            await asyncio.gather(*(create(i, t) for i, t in enumerate(tenant_ids) if i >= half))
            async with asyncio.timeout(90):
                await asyncio.gather(*(w.task for w in watchers.values()))
            for listener in listeners:
                for tenant_id in tenant_ids:
                    await listener.wait_for(tenant_id, "TenantCreated")

            for index, tenant_id in enumerate(tenant_ids):
                response = await clients[index % 2].get(f"/api/tenants/{tenant_id}/progress")
                assert response.status_code == 200, response.text
                final = response.json()
                events = watchers[tenant_id].events
                ids = [event_id for event_id, _ in events]
                assert ids == sorted(set(ids)), f"{tenant_id}: an event repeated or out of order"
                assert events[-1][1] == final, tenant_id
                assert final["status"] == "Active", final
                for client in clients:
                    response = await client.get(f"/api/tenants/{tenant_id}")
                    assert response.status_code == 200, response.text
                    assert response.json()["status"] == "Active", response.text
            for listener in listeners:
                for tenant_id in tenant_ids:
                    types = [body["type"] for body in listener.about(tenant_id)]
                    assert types == ["TenantCreated"], (tenant_id, types)
        # Together: the exit stack would stop them one after the other.
        await asyncio.gather(*(asyncio.to_thread(c.stop) for c in [*apis, *workers]))

    # Nothing twice: one database or schema, one admin user, one row, one provisioning run each.
    footprints = await fleet_footprint(own_settings, tenant_ids)
    for tenant_id, found in footprints.items():
        assert found == expected_footprint(isolated[tenant_id]), (tenant_id, found)
    query = f"TaskQueue = '{own_settings.temporal_task_queue}'"
    runs = await listed_runs(temporal_client, query, expected=len(tenant_ids), within=30)
    assert sorted(runs) == sorted(workflow_id(t) for t in tenant_ids)
    # The killed worker's steps were taken over by a surviving worker.
    taken_over = [t for t, identity in running.items() if identity == busiest]
    for tenant_id in taken_over:
        starts = await activity_starts(temporal_client, workflow_id(tenant_id), HELD_STEP)
        # History records an activity's last attempt only: a later one, on another worker.
        attempt, identity = starts[-1]
        assert attempt >= 2 and identity != busiest, (tenant_id, starts)
