"""A tenant's history: every workflow run that carried its `TenantId`, from Temporal visibility.

One visibility query lists the runs (any type, open or closed, retries and bulk-started ones
alike). A closed run's error comes from its close event (`result()` of that run: read by the
server, no worker); a run's steps come from its result or failure details, and only an open run,
or a cancelled one that left no details, is queried (api/progress_source.py decides).
"""

import asyncio
import re
from typing import Any
from urllib.parse import quote

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.service import RPCError

from api.progress_source import DESCRIBE_TIMEOUT, Run
from api.schemas import RunOut
from core.status import TenantStatus
from workflows.models import TENANT_STATUS

# The newest runs shown; older ones stay in Temporal (the Web UI link lists them all).
MAX_RUNS = 200
# Run ids are UUIDs; checked before one goes into a visibility query.
RUN_ID = re.compile(r"^[0-9a-fA-F-]{36}$")

_LABELS = {
    "ProvisionTenant": "Provision",
    "UpdateTenant": "Update",
    "DeprovisionTenant": "Delete",
    "MigrateTenant": "Migrate schema",
}
_STATUS = {
    WorkflowExecutionStatus.RUNNING: "Running",
    WorkflowExecutionStatus.COMPLETED: "Completed",
    WorkflowExecutionStatus.FAILED: "Failed",
    WorkflowExecutionStatus.CANCELED: "Cancelled",
    WorkflowExecutionStatus.TERMINATED: "Terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "ContinuedAsNew",
    WorkflowExecutionStatus.TIMED_OUT: "TimedOut",
}
# Closed runs whose close event says why they ended.
_ENDED_BADLY = {
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
}


def tenant_query(tenant_id: str, run_id: str | None = None) -> str:
    # Tenant ids are slugs (core/naming.py) and run ids checked UUIDs: nothing to escape.
    query = f"TenantId='{tenant_id}'"
    return f"{query} AND RunId='{run_id}'" if run_id else query


def web_url(ui: str, namespace: str, workflow_id: str, run_id: str) -> str:
    ns, wid, rid = (quote(part, safe="") for part in (namespace, workflow_id, run_id))
    return f"{ui.rstrip('/')}/namespaces/{ns}/workflows/{wid}/{rid}/history"


async def _error(client: Client, execution: WorkflowExecution) -> str | None:
    if execution.status not in _ENDED_BADLY:
        return None
    return await close_error(client.get_workflow_handle(execution.id, run_id=execution.run_id))


async def close_error(handle: WorkflowHandle[Any, Any]) -> str | None:
    """Why a closed run ended badly, from its close event; None if it did not."""
    try:
        await handle.result(follow_runs=False, rpc_timeout=DESCRIBE_TIMEOUT)
    except WorkflowFailureError as err:
        cause: Any = err.cause
        return str(getattr(cause, "message", None) or cause or err)
    except RPCError:
        return None  # forgotten meanwhile: the status says enough
    return None


def tenant_status(execution: WorkflowExecution) -> TenantStatus | None:
    value = execution.typed_search_attributes.get(TENANT_STATUS)
    try:
        return TenantStatus(value) if value else None
    except ValueError:
        return None


async def list_runs(client: Client, ui: str, tenant_id: str) -> list[RunOut]:
    executions = [e async for e in client.list_workflows(tenant_query(tenant_id), limit=MAX_RUNS)]
    executions.sort(key=lambda e: e.start_time, reverse=True)
    errors = await asyncio.gather(*(_error(client, e) for e in executions))
    return [
        RunOut(
            workflow_id=e.id,
            run_id=e.run_id,
            workflow_type=e.workflow_type,
            label=_LABELS.get(e.workflow_type, e.workflow_type),
            status=_STATUS.get(e.status, "Unknown") if e.status else "Unknown",
            tenant_status=tenant_status(e),
            started_at=e.start_time,
            closed_at=e.close_time,
            error=error,
            web_url=web_url(ui, client.namespace, e.id, e.run_id),
        )
        for e, error in zip(executions, errors, strict=True)
    ]


async def find_run(client: Client, tenant_id: str, run_id: str) -> WorkflowExecution | None:
    """The tenant's run `run_id` (None if it is not one of the tenant's)."""
    async for execution in client.list_workflows(tenant_query(tenant_id, run_id), limit=1):
        return execution
    return None


def as_run(client: Client, execution: WorkflowExecution) -> Run:
    return Run(
        handle=client.get_workflow_handle(execution.id, run_id=execution.run_id),
        run_id=execution.run_id,
        open=execution.status == WorkflowExecutionStatus.RUNNING,
        started_at=execution.start_time,
        status=execution.status,
    )
