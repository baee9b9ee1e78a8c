"""SSE subscribers that timestamp each `progress` event the moment it is parsed."""

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bench.rawsse import HTTPStatusError, events
from core.status import TenantStatus

TERMINAL = frozenset(status.value for status in TenantStatus if status.is_terminal)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@dataclass(frozen=True)
class Received:
    at: float  # wall clock when the client had parsed the event
    status: str
    updated_at: float  # the snapshot's updatedAt: the workflow time of the change
    version: int

    @property
    def delay(self) -> float:
        return self.at - self.updated_at


def _received(at: float, data: str) -> Received:
    snapshot = json.loads(data)
    return Received(at, snapshot["status"], epoch(snapshot["updatedAt"]), snapshot["version"])


@dataclass
class Subscriber:
    url: str
    events: list[Received] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None

    @property
    def final(self) -> Received | None:
        """The terminal snapshot, if the stream delivered one."""
        if self.events and self.events[-1].status in TERMINAL:
            return self.events[-1]
        return None

    @property
    def changes(self) -> list[Received]:
        """Every event but the first, which is the current snapshot rather than a change."""
        return self.events[1:]

    async def run(self, headers: Mapping[str, str]) -> None:
        """Read the stream until the server ends it (after a terminal snapshot)."""
        try:
            async for event in events(self.url, headers):
                at = time.time()
                if event.event == "progress":
                    self.events.append(_received(at, event.data))
                    self.first.set()
        except (OSError, EOFError, ValueError, HTTPStatusError) as err:
            self.error = f"{type(err).__name__}: {err}"


class Crowd:
    """`n` subscribers of one stream, each a task of its own."""

    def __init__(self, url: str, n: int, headers: Mapping[str, str]) -> None:
        self.subscribers = [Subscriber(url) for _ in range(n)]
        self._tasks = [
            asyncio.create_task(s.run(headers), name=f"subscriber-{i}")
            for i, s in enumerate(self.subscribers)
        ]

    async def wait_first(self, within: float) -> int:
        """Wait (at most `within` s) for every subscriber's first event; how many got one."""
        waits = [asyncio.create_task(s.first.wait()) for s in self.subscribers]
        await asyncio.wait([*waits], timeout=within)
        for wait in waits:
            wait.cancel()
        return sum(s.first.is_set() for s in self.subscribers)

    async def wait_done(self, within: float) -> int:
        """Wait (at most `within` s) for every stream to end; how many have ended."""
        await asyncio.wait(self._tasks, timeout=within)
        return sum(task.done() for task in self._tasks)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
