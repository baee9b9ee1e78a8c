"""A browser's EventSource on a tenant's progress stream, for tests that run it across API
processes (one killed and restarted, or two side by side)."""

import asyncio
import contextlib
import json
from typing import Any

import httpx
from httpx_sse import aconnect_sse

TERMINAL = {"Active", "Failed", "Cancelled", "Deleted"}


class Watcher:
    """What a browser's EventSource does: read `progress` events; when the connection drops,
    reconnect with the last id seen, until the final snapshot (or a 204: nothing more)."""

    def __init__(self, base_url: str, token: str, tenant_id: str) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.connections = 0
        self.watching = asyncio.Event()  # the first snapshot arrived
        self._path = f"/api/tenants/{tenant_id}/events"
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(60, connect=5),
        )
        self.task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        async with self._client:
            while not self.events or self.events[-1][1]["status"] not in TERMINAL:
                headers = {"Last-Event-ID": str(self.events[-1][0])} if self.events else {}
                with contextlib.suppress(httpx.TransportError):
                    async with aconnect_sse(self._client, "GET", self._path, headers=headers) as s:
                        if s.response.status_code == 204:
                            return
                        if s.response.status_code == 200:
                            self.connections += 1
                            async for event in s.aiter_sse():
                                if event.data:  # not a keep-alive
                                    self.events.append((int(event.id), json.loads(event.data)))
                                    self.watching.set()
                await asyncio.sleep(0.2)  # EventSource's reconnection delay
