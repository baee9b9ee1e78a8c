"""Where a progress snapshot comes from, worker or no worker.

A query needs a worker. On an open run the worker that has it cached answers in a few ms; on a
closed run a worker must replay the whole history (90-270 ms), and with no worker up a query
hangs until its deadline. So `describe` (server-side, ~2-3 ms) decides first:

- a closed run's final snapshot comes from its result or its failure's details (both read from
  the close event by the server: no worker), or from the row when the run left neither
  (cancelled, terminated, forgotten by Temporal);
- an open run is queried; while no worker answers, the row stands in as a *provisional*
  snapshot: never final, numbered just below the run's first real snapshot, so the first answer
  of a worker supersedes it on every stream.

Both `GET /progress` (`current_snapshot`) and the shared SSE reader (`api/progress_hub.py`) read
progress this way.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.schemas import ProgressOut
from core import lifecycle
from core.models import Tenant
from core.status import TenantStatus
from workflows.models import PROGRESS_QUERY

log = logging.getLogger(__name__)

DESCRIBE_TIMEOUT = timedelta(seconds=5)
# How long a reader waits for a worker's answer before it shows the row provisionally.
QUERY_PATIENCE = timedelta(seconds=1)
QUERY_TIMEOUT = timedelta(seconds=5)
# What a query on an open run raises when no worker answers (or Temporal is unreachable).
QUERY_ERRORS = (TimeoutError, RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError)


@dataclass(frozen=True)
class Snapshot:
    event_id: int
    progress: ProgressOut
    # The row standing in for an open run that no worker answers for: never final.
    provisional: bool = False

    @property
    def terminal(self) -> bool:
        return not self.provisional and self.progress.status.is_terminal

    @cached_property
    def data(self) -> str:
        """The event's JSON, serialised once however many subscribers send it."""
        return self.progress.model_dump_json(by_alias=True)


@dataclass(frozen=True)
class Run:
    """One run of a workflow, as `describe` saw it; `handle` is bound to this run."""

    handle: WorkflowHandle[Any, Any]
    run_id: str
    open: bool
    started_at: datetime
    status: WorkflowExecutionStatus | None = None


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def snapshot_of(progress: ProgressOut) -> Snapshot:
    """A snapshot from the workflow: numbered `run start ms * 1000 + version`, the same on every
    API process, so `Last-Event-ID` works across them."""
    if progress.run_started_at is None:
        return Snapshot(0, progress)
    return Snapshot(_ms(progress.run_started_at) * 1000 + min(progress.version, 999), progress)


def row_snapshot(tenant: Tenant, open_run: Run | None = None) -> Snapshot:
    """The tenant row as a snapshot without steps: provisional while `open_run` is open (the run
    starts its first task after it starts, so its first snapshot's id is higher), else final."""
    progress = ProgressOut(
        tenant_id=tenant.id,
        workflow_type="",
        status=TenantStatus(tenant.status),
        steps=[],
        error=tenant.provisioning_error,
        error_detail=tenant.provisioning_error_detail,
        updated_at=tenant.updated_on,
    )
    if open_run is not None:
        return Snapshot(_ms(open_run.started_at) * 1000 - 1, progress, provisional=True)
    return Snapshot(_ms(tenant.updated_on) * 1000 + 999, progress)


async def describe_run(client: Client, workflow_id: str) -> Run | None:
    """The workflow's current run; None if Temporal does not know the workflow (any more)."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=DESCRIBE_TIMEOUT
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return Run(
        handle=client.get_workflow_handle(workflow_id, run_id=description.run_id),
        run_id=description.run_id,
        open=description.status == WorkflowExecutionStatus.RUNNING,
        started_at=description.start_time,
        status=description.status,
    )


async def query_progress(run: Run, rpc_timeout: timedelta) -> Snapshot:
    """Ask the open run (its worker) for its snapshot; raises one of QUERY_ERRORS."""
    progress = await run.handle.query(PROGRESS_QUERY, rpc_timeout=rpc_timeout)
    return snapshot_of(ProgressOut.model_validate(progress))


async def closing_snapshot(run: Run) -> Snapshot | None:
    """A closed run's final snapshot from its result or failure details (no worker needed);
    None when it left neither: the row then holds the final state."""
    progress: Any = None
    try:
        result = await run.handle.result(follow_runs=False, rpc_timeout=DESCRIBE_TIMEOUT)
        progress = result.get("progress") if isinstance(result, dict) else None
    except WorkflowFailureError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.details:
            progress = cause.details[0]
        elif isinstance(cause, CancelledError):
            # A cancelled run closes without details: its compensation steps live only in its
            # state. A worker replays it (the last resort, cancellations are rare); none: row.
            try:
                return await query_progress(run, QUERY_PATIENCE)
            except QUERY_ERRORS as unanswered:
                log.info("no worker to replay cancelled %s: %s", run.handle.id, unanswered)
                return None
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    if isinstance(progress, dict):
        return snapshot_of(ProgressOut.model_validate(progress))
    return None


def final_row(tenant: Tenant, run: Run | None) -> Snapshot:
    """The row as the final state. A row still in flight behind a closed (or forgotten) run was
    left so by a run stopped from outside: shown as what the sweep (api/sweeper.py) will make
    it — readers never write."""
    snapshot = row_snapshot(tenant)
    if TenantStatus(tenant.status) not in lifecycle.IN_FLIGHT or tenant.workflow_id is None:
        return snapshot
    status, closed = TenantStatus(tenant.status), run.status if run else None
    if status == TenantStatus.MIGRATING:  # the sweep reads which revision it is at
        error = lifecycle.migration_closed_without_outcome(tenant.workflow_id, closed, None)
    else:
        error = lifecycle.closed_without_outcome(tenant.workflow_id, closed)
    settled = lifecycle.settled_status(status)
    progress = snapshot.progress.model_copy(update={"status": settled, "error": error})
    return Snapshot(snapshot.event_id, progress)


async def current_snapshot(session: AsyncSession, client: Client, tenant: Tenant) -> Snapshot:
    """The tenant's snapshot now, within about QUERY_PATIENCE even with no worker up."""
    assert tenant.workflow_id is not None
    run = await describe_run(client, tenant.workflow_id)
    if run is not None and run.open:
        try:
            return await query_progress(run, QUERY_PATIENCE)
        except QUERY_ERRORS as err:
            log.info("progress query of %s unanswered: %s", tenant.workflow_id, err)
            return row_snapshot(tenant, run)
    if run is not None and (closing := await closing_snapshot(run)) is not None:
        return closing
    return final_row(tenant, run)
