"""Wake a reader when a workflow's state may have changed: a long poll of its history.

Shared by the tenant progress readers (api/progress_hub.py) and the bulk-action and rollout
streams (api/workflow_state.py). A completed workflow task is the only time a workflow's state
can change; a close event (or a run Temporal no longer knows) ends the watch. A run that
continued as new has not closed the workflow: the watch goes on with the new run (the SDK's
history iterator stays on the run it started with). Temporal unreachable: the poll is tried
again, backing off from 0.5 s to 10 s.
"""

import asyncio
import logging
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

log = logging.getLogger(__name__)

STATE_CHANGES = {EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED}
CLOSES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
}
CONTINUED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW


async def watch_history(
    handle: WorkflowHandle[Any, Any], dirty: asyncio.Event, closed: asyncio.Event
) -> None:
    """Set `dirty` after each completed workflow task and each continue-as-new; set `closed`
    (and `dirty`) once the workflow's last run has closed."""
    run: WorkflowHandle[Any, Any] | None = handle

    def log_retry(state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        log.warning("history long-poll of %s failed: %s", handle.id, err)

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_transient),
        wait=wait_exponential(multiplier=0.5, max=10.0),
        before_sleep=log_retry,
    ):
        with attempt:
            while run is not None:
                run = await _watch_run(run, dirty)
    closed.set()
    dirty.set()


async def _watch_run(
    handle: WorkflowHandle[Any, Any], dirty: asyncio.Event
) -> WorkflowHandle[Any, Any] | None:
    """Watch one run to its end: the handle of the run it continued as, or None once closed."""
    try:
        async for event in handle.fetch_history_events(wait_new_event=True):
            if event.event_type in STATE_CHANGES:
                dirty.set()
            elif event.event_type == CONTINUED:
                dirty.set()
                attributes = event.workflow_execution_continued_as_new_event_attributes
                # The SDK offers no public accessor for a handle's client.
                client = handle._client
                return client.get_workflow_handle(handle.id, run_id=attributes.new_execution_run_id)
            elif event.event_type in CLOSES:
                return None
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    return None


def _transient(err: BaseException) -> bool:
    """Temporal unreachable or overloaded; NOT_FOUND (the run is gone) ends the watch."""
    return isinstance(err, RPCError) and err.status != RPCStatusCode.NOT_FOUND
