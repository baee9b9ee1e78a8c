"""The operations view's figures (GET /api/ops/summary), from the control-plane database and
Temporal; no metrics store needed. Where each figure comes from:

- tenants created per minute: `tenants.created_on` (the row is written when the request is
  accepted; a deleted id provisioned again counts again);
- time to Active: completed `ProvisionTenant` runs of this deployment's task queue that closed
  within the window, from Temporal visibility: the run's start to its close. A run closes right
  after the tenant turns Active and its notification is written; a sign-up's run sends the
  welcome e-mail first, which counts in. (`tenants.updated_on` is no substitute: any later edit
  moves it);
- failures by step: failed runs of the tenant workflows closed within the window; the step is
  the one the run's final snapshot (the failure's details) shows as failed. The newest
  FAILED_RUNS_READ are read, one history request each the first time (a closed run never
  changes: its step is remembered by run id, FailedSteps);
- in flight: tenant rows in a status with work under way;
- workers and backlog: Temporal's DescribeTaskQueue of the task queue, for workflow and
  activity tasks: workers are the distinct poller identities seen lately, backlog its
  approximate count of tasks waiting.
"""

import asyncio
import logging
import math
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecution, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.ops_schemas import FailedStep, MinuteFigures, OpsSummary, TaskQueueFigures
from core.lifecycle import IN_FLIGHT
from core.models import Tenant
from core.status import ROOT_TENANT_ID

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)
# Bounds on what one summary reads from Temporal (the view refreshes every few seconds).
COMPLETED_RUNS_READ = 5000
FAILED_RUNS_READ = 100
TENANT_WORKFLOWS = ("ProvisionTenant", "UpdateTenant", "DeprovisionTenant")
# Closed runs whose failed step is remembered (several windows' worth of FAILED_RUNS_READ).
REMEMBERED_RUNS = 1000


class FailedSteps:
    """The failed step of closed runs by run id, the oldest forgotten first: a closed run never
    changes, so each is read from Temporal once per API process (one per app, on its state)."""

    def __init__(self, size: int = REMEMBERED_RUNS) -> None:
        self.size = size
        self._steps: OrderedDict[str, str] = OrderedDict()

    def get(self, run_id: str) -> str | None:
        return self._steps.get(run_id)

    def put(self, run_id: str, step: str) -> None:
        self._steps[run_id] = step
        while len(self._steps) > self.size:
            self._steps.popitem(last=False)


async def summary(
    session: AsyncSession, client: Client, task_queue: str, steps: FailedSteps
) -> OpsSummary:
    now = datetime.now(UTC)
    # The window is whole minutes, the current one last, so the totals are the bars' sums.
    since = now.replace(second=0, microsecond=0) - WINDOW + timedelta(minutes=1)
    created, in_flight = await _rows(session, since)
    await session.close()  # no pooled connection held (in a transaction) while Temporal answers
    durations, failures, queue = await asyncio.gather(
        _time_to_active(client, task_queue, since),
        _failures_by_step(client, task_queue, since, steps),
        _task_queue(client, task_queue),
    )
    all_durations = [seconds for per_minute in durations.values() for seconds in per_minute]
    minutes = [since + timedelta(minutes=i) for i in range(60)]
    return OpsSummary(
        generated_at=now,
        window_minutes=60,
        minutes=[
            MinuteFigures(
                minute=minute,
                created=created.get(minute, 0),
                activated=len(durations.get(minute, [])),
                p50_seconds=percentile(durations.get(minute, []), 50),
                p95_seconds=percentile(durations.get(minute, []), 95),
            )
            for minute in minutes
        ],
        created=sum(created.values()),
        activated=len(all_durations),
        p50_seconds=percentile(all_durations, 50),
        p95_seconds=percentile(all_durations, 95),
        failures_by_step=failures,
        in_flight=sum(in_flight.values()),
        in_flight_by_status=in_flight,
        task_queue=queue,
    )


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def _rows(
    session: AsyncSession, since: datetime
) -> tuple[dict[datetime, int], dict[str, int]]:
    minute = func.date_trunc("minute", Tenant.created_on)
    created = await session.execute(
        select(minute, func.count())
        .where(Tenant.created_on >= since, Tenant.id != ROOT_TENANT_ID)
        .group_by(minute)
    )
    in_flight = await session.execute(
        select(Tenant.status, func.count())
        .where(Tenant.status.in_([s.value for s in IN_FLIGHT]))
        .group_by(Tenant.status)
    )
    return (
        {at.astimezone(UTC): count for at, count in created.all()},
        {str(status): int(count) for status, count in in_flight.all()},
    )


def _closed_since(task_queue: str, since: datetime) -> str:
    return f"TaskQueue = '{_quoted(task_queue)}' AND CloseTime >= '{since.isoformat()}'"


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


async def _time_to_active(
    client: Client, task_queue: str, since: datetime
) -> dict[datetime, list[float]]:
    """Seconds from start to close of each completed provisioning run, by its close minute."""
    query = (
        f"WorkflowType = 'ProvisionTenant' AND ExecutionStatus = 'Completed' AND "
        f"{_closed_since(task_queue, since)}"
    )
    by_minute: dict[datetime, list[float]] = defaultdict(list)
    try:
        async for run in client.list_workflows(query, limit=COMPLETED_RUNS_READ):
            if run.close_time is None:
                continue
            minute = run.close_time.astimezone(UTC).replace(second=0, microsecond=0)
            by_minute[minute].append((run.close_time - run.start_time).total_seconds())
    except RPCError as err:
        log.warning("ops summary: cannot list completed runs: %s", err)
    return by_minute


async def _failures_by_step(
    client: Client, task_queue: str, since: datetime, steps: FailedSteps
) -> list[FailedStep]:
    types = " OR ".join(f"WorkflowType = '{name}'" for name in TENANT_WORKFLOWS)
    query = f"({types}) AND ExecutionStatus = 'Failed' AND {_closed_since(task_queue, since)}"
    try:
        runs = [run async for run in client.list_workflows(query, limit=FAILED_RUNS_READ)]
    except RPCError as err:
        log.warning("ops summary: cannot list failed runs: %s", err)
        return []
    reads = asyncio.Semaphore(8)

    async def failed_step(run: WorkflowExecution) -> tuple[str, str]:
        step = steps.get(run.run_id)
        if step is None:
            async with reads:
                step = await _failed_step(client, run)
            if step is not None:
                steps.put(run.run_id, step)
        return run.workflow_type, step or "unknown"

    counts = Counter(await asyncio.gather(*(failed_step(run) for run in runs)))
    return [
        FailedStep(workflow_type=workflow_type, step=step, count=count)
        for (workflow_type, step), count in counts.most_common()
    ]


async def _failed_step(client: Client, run: WorkflowExecution) -> str | None:
    """The step the run's final snapshot shows as failed ('unknown' if it shows none; None if
    Temporal cannot be read now: asked again next time)."""
    handle = client.get_workflow_handle(run.id, run_id=run.run_id)
    try:
        await handle.result(follow_runs=False)
    except WorkflowFailureError as err:
        cause = err.cause
        details: Sequence[Any] = cause.details if isinstance(cause, ApplicationError) else ()
        snapshot = details[0] if details else None
        steps = snapshot.get("steps", []) if isinstance(snapshot, dict) else []
        failed = [s["name"] for s in steps if isinstance(s, dict) and s.get("status") == "failed"]
        if failed:
            return str(failed[-1])
    except RPCError as err:
        log.warning("ops summary: cannot read %s: %s", run.id, err)
        return None
    return "unknown"


async def _task_queue(client: Client, task_queue: str) -> TaskQueueFigures | None:
    workers: set[str] = set()
    backlog = 0
    oldest = 0.0
    try:
        for kind in (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ):
            answer = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=kind,
                    report_stats=True,
                )
            )
            workers |= {poller.identity for poller in answer.pollers}
            backlog += answer.stats.approximate_backlog_count
            oldest = max(oldest, answer.stats.approximate_backlog_age.ToTimedelta().total_seconds())
    except RPCError as err:
        log.warning("ops summary: cannot describe task queue %s: %s", task_queue, err)
        return None
    return TaskQueueFigures(
        name=task_queue, workers=len(workers), backlog=backlog, backlog_age_seconds=oldest
    )
