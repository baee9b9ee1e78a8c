"""The state of a long-running parent workflow (a bulk action, a fleet rollout): read it now, or
follow it live for SSE.

`describe` (server side, no worker) decides how: an open run is asked with its `progress` query;
a closed run's state is its result (read from the close event, no worker). Only a run that closed
without a result (terminated, or cancelled from outside) needs a worker to replay it. Following
long-polls the history (api/history_watch.py) and reads again after each workflow task, so the
number of reads follows the workflow's changes, not a timer.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.history_watch import watch_history
from api.progress_source import DESCRIBE_TIMEOUT, QUERY_ERRORS, QUERY_TIMEOUT

log = logging.getLogger(__name__)

T = TypeVar("T")
# A stream re-reads the state at least this often should the history long-poll miss a change.
FALLBACK_SECONDS = 15.0


class WorkflowMissing(LookupError):
    """Temporal does not know the workflow."""


async def read_state(handle: WorkflowHandle[Any, T], query: Callable[..., T]) -> T:
    """The state now: the open run's `query`, or the closed run's result (WorkflowMissing;
    RPCError or one of QUERY_ERRORS when Temporal or every worker is away)."""
    try:
        description = await handle.describe(rpc_timeout=DESCRIBE_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowMissing(handle.id) from err
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        return await handle.query(query, rpc_timeout=QUERY_TIMEOUT)
    try:
        return await handle.result(follow_runs=False, rpc_timeout=DESCRIBE_TIMEOUT)
    except WorkflowFailureError as err:
        # Terminated or cancelled from outside: its last state is with the worker (a replay).
        log.info("%s ended without a result: %s", handle.id, err)
        return await handle.query(query, rpc_timeout=QUERY_TIMEOUT)


async def follow_state(
    handle: WorkflowHandle[Any, Any],
    read: Callable[[], Awaitable[T]],
    version: Callable[[T], int],
    final: Callable[[T], bool],
    after: int = -1,
) -> AsyncIterator[T]:
    """`read()` each time the workflow may have changed; yield states with a version above
    `after` (each once), until a final one, or the workflow has closed."""
    dirty, closed = asyncio.Event(), asyncio.Event()
    dirty.set()
    watcher = asyncio.create_task(watch_history(handle, dirty, closed))
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dirty.wait(), FALLBACK_SECONDS)
            dirty.clear()
            try:
                state = await read()
            except (*QUERY_ERRORS, WorkflowMissing) as err:
                log.warning("%s cannot be read now: %s", handle.id, err)
                if closed.is_set():
                    return
                continue
            if version(state) > after:
                after = version(state)
                yield state
            if final(state) or closed.is_set():
                return
    finally:
        watcher.cancel()
