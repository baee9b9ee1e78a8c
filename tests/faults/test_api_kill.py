"""SIGKILL of an API process while SSE clients watch a run: they reconnect with Last-Event-ID to a
restarted process and see the run to its final state, no event missed or repeated."""

import asyncio
import contextlib

import httpx
import pytest

from core.settings import Settings
from tests.faults.conftest import sized
from tests.faults.processes import api_process, listening_port
from tests.faults.streams import Watcher
from tests.helpers import step_held, tenant_body, unique_tenant_id, wait_for_step

pytestmark = pytest.mark.faults


async def test_api_killed_during_streams_clients_resume_on_a_restarted_process(
    api: httpx.AsyncClient, settings: Settings, root_token: str
) -> None:
    port = listening_port()
    url = f"http://127.0.0.1:{port}"
    tenant_id = unique_tenant_id("sse")
    step = "migrate_tenant_database"
    async with contextlib.AsyncExitStack() as held:
        await held.enter_async_context(step_held(settings, tenant_id, step))
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, step, "running")
        with api_process(settings, port) as first:
            await first.wait_for_output("Uvicorn running")
            watchers = [Watcher(url, root_token, tenant_id) for _ in range(sized(5, 50))]
            async with asyncio.timeout(30):
                await asyncio.gather(*(w.watching.wait() for w in watchers))
            await first.kill()
        seen_before = [len(w.events) for w in watchers]
        with api_process(settings, port) as second:
            await second.wait_for_output("Uvicorn running")
            await held.aclose()  # the run goes on only now, watched through the second process
            async with asyncio.timeout(60):
                await asyncio.gather(*(w.task for w in watchers))

    final = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    assert final["status"] == "Active"
    for watcher, before in zip(watchers, seen_before, strict=True):
        ids = [event_id for event_id, _ in watcher.events]
        assert ids == sorted(set(ids)), "an event was repeated or came out of order"
        assert watcher.connections >= 2 and len(ids) > before
        assert watcher.events[-1][1] == final
