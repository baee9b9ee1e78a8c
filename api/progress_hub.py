"""One reader per workflow per API process, shared by every SSE subscriber of that workflow.

A reader long-polls the workflow's history (`wait_new_event`) and, when a workflow task has
completed (the only time the workflow's state can change), queries the `progress` snapshot once
and hands it to all its subscribers; so the number of queries does not grow with subscribers. A
slow fallback timer re-queries in case the long poll misses something. A closed run's final
snapshot comes from its result (or failure details) — never from a query, which would make a
worker replay the whole history — or, once Temporal has forgotten the run, from the tenant row.

Event ids come from the workflow (`run start ms * 1000 + snapshot version`), so every API
process numbers a snapshot the same way, and a client reconnecting elsewhere with
`Last-Event-ID` neither misses nor repeats one.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.schemas import ProgressOut
from core import lifecycle
from core.models import Tenant
from core.status import TenantStatus
from workflows.models import PROGRESS_QUERY

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 15.0
QUERY_TIMEOUT = timedelta(seconds=5)
# How long a reader outlives its last subscriber (a reload, a reconnect, a late subscriber).
LINGER_SECONDS = 30.0

_STATE_CHANGES = {EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED}
_CLOSES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


@dataclass(frozen=True)
class Snapshot:
    event_id: int
    progress: ProgressOut

    @property
    def terminal(self) -> bool:
        return self.progress.status.is_terminal

    @cached_property
    def data(self) -> str:
        """The event's JSON, serialised once however many subscribers send it."""
        return self.progress.model_dump_json(by_alias=True)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def snapshot_of(progress: ProgressOut) -> Snapshot:
    if progress.run_started_at is None:
        return Snapshot(0, progress)
    return Snapshot(_ms(progress.run_started_at) * 1000 + min(progress.version, 999), progress)


def row_snapshot(tenant: Tenant, *, final: bool) -> Snapshot:
    """The tenant row as a snapshot without steps: provisional (id 0, superseded by the first
    live one) while the run is open, or final when Temporal no longer has the run."""
    progress = ProgressOut(
        tenant_id=tenant.id,
        workflow_type="",
        status=TenantStatus(tenant.status),
        steps=[],
        error=tenant.provisioning_error,
        updated_at=tenant.updated_on,
    )
    return Snapshot(_ms(tenant.updated_on) * 1000 + 999 if final else 0, progress)


class WorkflowReader:
    def __init__(self, hub: "ProgressHub", tenant_id: str, workflow_id: str) -> None:
        self._hub = hub
        self.tenant_id = tenant_id
        self.workflow_id = workflow_id
        self.latest: Snapshot | None = None
        self.subscribers = 0
        self._changed = asyncio.Condition()
        self._linger: asyncio.TimerHandle | None = None
        self.task = asyncio.create_task(self._run(), name=f"progress-reader:{workflow_id}")

    @property
    def finished(self) -> bool:
        return self.task.done()

    async def next_after(self, event_id: int) -> Snapshot | None:
        """The newest snapshot with an id above `event_id`, waiting for one if need be; None
        once the reader has finished without one (the stream then ends)."""

        def ready() -> bool:
            newer = self.latest is not None and self.latest.event_id > event_id
            return newer or self.task.done()

        async with self._changed:
            await self._changed.wait_for(ready)
            if self.latest is None or self.latest.event_id <= event_id:
                return None
            return self.latest

    async def _publish(self, snapshot: Snapshot) -> None:
        if self.latest is not None and snapshot.event_id <= self.latest.event_id:
            return
        async with self._changed:
            self.latest = snapshot
            self._changed.notify_all()

    async def _run(self) -> None:
        handle = self._hub.client.get_workflow_handle(self.workflow_id)
        dirty, closed = asyncio.Event(), asyncio.Event()
        dirty.set()
        watcher = asyncio.create_task(self._watch(handle, dirty, closed))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(dirty.wait(), FALLBACK_SECONDS)
                dirty.clear()
                if closed.is_set():
                    await self._publish(await self._final(handle))
                    return
                snapshot = await self._query(handle)
                if snapshot is not None:
                    await self._publish(snapshot)
                if self.latest is not None and self.latest.terminal:
                    return
        except Exception:
            log.exception("progress reader of %s failed", self.workflow_id)
            await self._publish(await self._row(final=True))
        finally:
            watcher.cancel()
            async with self._changed:
                self._changed.notify_all()  # waiters see the reader has finished

    async def _watch(
        self, handle: WorkflowHandle[Any, Any], dirty: asyncio.Event, closed: asyncio.Event
    ) -> None:
        delay = 0.5
        while True:
            try:
                async for event in handle.fetch_history_events(wait_new_event=True):
                    if event.event_type in _STATE_CHANGES:
                        dirty.set()
                    elif event.event_type in _CLOSES:
                        break
                closed.set()
                dirty.set()
                return
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    closed.set()
                    dirty.set()
                    return
                log.warning("history long-poll of %s failed: %s", self.workflow_id, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _query(self, handle: WorkflowHandle[Any, Any]) -> Snapshot | None:
        try:
            progress = await handle.query(PROGRESS_QUERY, rpc_timeout=QUERY_TIMEOUT)
        except (TimeoutError, RPCError) as err:
            # No worker to answer, or Temporal unreachable: show the row until a query works.
            log.warning("progress query of %s failed: %s", self.workflow_id, err)
            return await self._row(final=False) if self.latest is None else None
        return snapshot_of(ProgressOut.model_validate(progress))

    async def _final(self, handle: WorkflowHandle[Any, Any]) -> Snapshot:
        progress: Any = None
        try:
            result = await handle.result(follow_runs=False)
            progress = result.get("progress") if isinstance(result, dict) else None
        except WorkflowFailureError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.details:
                progress = cause.details[0]
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        if isinstance(progress, dict):
            return snapshot_of(ProgressOut.model_validate(progress))
        # Cancelled, terminated, or forgotten by Temporal: the row holds the final state.
        return await self._row(final=True)

    async def _row(self, *, final: bool) -> Snapshot:
        async with self._hub.sessions() as session:
            tenant = await session.get(Tenant, self.tenant_id)
            assert tenant is not None, f"tenant {self.tenant_id} vanished"
            if final:  # a terminated run left the row in flight: make it honest first
                tenant = await lifecycle.settle_closed_run(session, self._hub.client, tenant)
        return row_snapshot(tenant, final=final)

    def attach(self) -> None:
        self.subscribers += 1
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None

    def detach(self) -> None:
        self.subscribers -= 1
        if self.subscribers == 0:
            loop = asyncio.get_running_loop()
            self._linger = loop.call_later(LINGER_SECONDS, self._hub.forget, self)


class ProgressHub:
    def __init__(self, client: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.client = client
        self.sessions = sessions
        self._readers: dict[str, WorkflowReader] = {}

    @property
    def readers(self) -> int:
        return len(self._readers)

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant: Tenant) -> AsyncIterator[WorkflowReader]:
        assert tenant.workflow_id is not None
        reader = self._readers.get(tenant.workflow_id)
        # A finished reader is stale once the tenant has moved on (a retry, a repeated delete).
        if reader is not None and reader.finished and not _shows(reader, tenant.status):
            self.forget(reader)
            reader = None
        if reader is None:
            reader = WorkflowReader(self, tenant.id, tenant.workflow_id)
            self._readers[tenant.workflow_id] = reader
        reader.attach()
        try:
            yield reader
        finally:
            reader.detach()

    def forget(self, reader: WorkflowReader) -> None:
        if self._readers.get(reader.workflow_id) is reader and reader.subscribers == 0:
            del self._readers[reader.workflow_id]
            reader.task.cancel()

    async def close(self) -> None:
        tasks = [reader.task for reader in self._readers.values()]
        self._readers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _shows(reader: WorkflowReader, status: str) -> bool:
    return reader.latest is not None and reader.latest.progress.status == status
