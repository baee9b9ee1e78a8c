"""One reader per workflow run per API process, shared by every SSE subscriber of that workflow.

A reader first describes the workflow (`api/progress_source.py`): a closed run's final snapshot
is published at once, worker or no worker. On an open run it long-polls the run's history
(`wait_new_event`) and, when a workflow task has completed (the only time the workflow's state
can change), queries the `progress` snapshot once and hands it to all its subscribers; so the
number of queries does not grow with subscribers. A slow fallback timer re-queries in case the
long poll misses something. While no worker answers, subscribers see the row, provisionally.

A reader belongs to one run: a finished reader is reused (within its linger) only while that run
is still the workflow's current one, so a retry never shows the previous run's outcome.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from api.history_watch import watch_history
from api.progress_source import (
    QUERY_ERRORS,
    QUERY_PATIENCE,
    QUERY_TIMEOUT,
    Run,
    Snapshot,
    closing_snapshot,
    describe_run,
    final_row,
    query_progress,
    row_snapshot,
)
from core.models import Tenant

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 15.0
# How long a reader outlives its last subscriber (a reload, a reconnect, a late subscriber).
LINGER_SECONDS = 30.0


class WorkflowReader:
    def __init__(self, hub: "ProgressHub", tenant_id: str, workflow_id: str) -> None:
        self._hub = hub
        self.tenant_id = tenant_id
        self.workflow_id = workflow_id
        self.latest: Snapshot | None = None
        # The run this reader follows (None: Temporal did not know the workflow).
        self.run_id: str | None = None
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
        try:
            run = await describe_run(self._hub.client, self.workflow_id)
            self.run_id = run.run_id if run is not None else None
            if run is None or not run.open:
                await self._publish(await self._final(run))
                return
            await self._follow(run)
        except Exception:
            log.exception("progress reader of %s failed", self.workflow_id)
            # The row as it is, if it holds a final state (the run is unknown, not gone: no
            # guessing at its outcome); an in-flight row's id would outrank the run's own
            # snapshots. Else subscribers end without it (503, or a reconnect later).
            try:
                if (row := await self._row(None)).terminal:
                    await self._publish(row)
            except Exception:
                log.exception("progress reader of %s: the row cannot be read", self.workflow_id)
        finally:
            async with self._changed:
                self._changed.notify_all()  # waiters see the reader has finished

    async def _follow(self, run: Run) -> None:
        dirty, closed = asyncio.Event(), asyncio.Event()
        dirty.set()
        watcher = asyncio.create_task(watch_history(run.handle, dirty, closed))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(dirty.wait(), FALLBACK_SECONDS)
                dirty.clear()
                if closed.is_set():
                    await self._publish(await self._final(run))
                    return
                snapshot = await self._query(run)
                if snapshot is not None:
                    await self._publish(snapshot)
                if self.latest is not None and self.latest.terminal:
                    return
        finally:
            watcher.cancel()

    async def _query(self, run: Run) -> Snapshot | None:
        query = asyncio.ensure_future(query_progress(run, QUERY_TIMEOUT))
        try:
            if self.latest is None:
                # Subscribers should not wait on a missing worker: show the row meanwhile.
                await asyncio.wait({query}, timeout=QUERY_PATIENCE.total_seconds())
                if not query.done():
                    await self._publish(await self._row(run))
            return await query
        except QUERY_ERRORS as err:
            # No worker to answer, or Temporal unreachable: the row stands in until one answers.
            log.warning("progress query of %s failed: %s", self.workflow_id, err)
            return await self._row(run) if self.latest is None else None
        finally:
            query.cancel()  # a no-op once it is done; else the reader is being cancelled

    async def _final(self, run: Run | None) -> Snapshot:
        if run is not None and (snapshot := await closing_snapshot(run)) is not None:
            return snapshot
        # Cancelled, terminated, or forgotten by Temporal: the row holds the final state.
        async with self._hub.sessions() as session:
            return final_row(await self._tenant(session), run)

    async def _row(self, open_run: Run | None) -> Snapshot:
        async with self._hub.sessions() as session:
            return row_snapshot(await self._tenant(session), open_run)

    async def _tenant(self, session: AsyncSession) -> Tenant:
        tenant = await session.get(Tenant, self.tenant_id)
        assert tenant is not None, f"tenant {self.tenant_id} vanished"
        return tenant

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

    @property
    def subscribers(self) -> int:
        return sum(reader.subscribers for reader in self._readers.values())

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant: Tenant) -> AsyncIterator[WorkflowReader]:
        assert tenant.workflow_id is not None
        reader = await self._reader_for(tenant.id, tenant.workflow_id)
        reader.attach()
        try:
            yield reader
        finally:
            reader.detach()

    async def _reader_for(self, tenant_id: str, workflow_id: str) -> WorkflowReader:
        reader = self._readers.get(workflow_id)
        # A finished reader is stale once its run is no longer the workflow's current one (a
        # retry, a repeated delete), however alike the two runs' outcomes look.
        if reader is not None and reader.finished and not await self._current(reader):
            if self._readers.get(workflow_id) is reader:
                del self._readers[workflow_id]
        reader = self._readers.get(workflow_id)
        if reader is None:
            reader = WorkflowReader(self, tenant_id, workflow_id)
            self._readers[workflow_id] = reader
        return reader

    async def _current(self, reader: WorkflowReader) -> bool:
        try:
            run = await describe_run(self.client, reader.workflow_id)
        except RPCError:
            return False  # cannot tell: a fresh reader will find out
        return (run.run_id if run is not None else None) == reader.run_id

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
