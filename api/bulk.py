"""Bulk actions: resolve the tenants, start the BulkAction workflow, read and follow its state.

The targets are fixed when the request is accepted (ids as given, or the filter's matches at
that moment); each is then judged on its own by the workflow, through the lifecycle's rules. The
workflow is the only record of a bulk action: its `progress` query while it runs, its result
once it has ended (no worker needed to read that).
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.history_watch import watch_history
from api.progress_source import DESCRIBE_TIMEOUT, QUERY_ERRORS, QUERY_TIMEOUT
from api.tenant_list import TenantFilter
from core.actions import Action
from core.models import Tenant
from workflows.bulk_action import (
    BulkActionInput,
    BulkActionWorkflow,
    BulkProgress,
    bulk_workflow_id,
)

log = logging.getLogger(__name__)

MAX_TENANTS = 1000
DEFAULT_CONCURRENCY = 10
MAX_CONCURRENCY = 50
# A stream re-reads the state at least this often should the history long-poll miss a change.
FALLBACK_SECONDS = 15.0


class TooMany(ValueError):
    pass


class BulkMissing(LookupError):
    pass


async def matching_ids(session: AsyncSession, where: TenantFilter) -> list[str]:
    """The filter's tenants now, oldest first (TooMany beyond MAX_TENANTS)."""
    ids = list(
        (
            await session.scalars(
                select(Tenant.id)
                .where(*where.where())
                .order_by(Tenant.created_on, Tenant.id)
                .limit(MAX_TENANTS + 1)
            )
        ).all()
    )
    if len(ids) > MAX_TENANTS:
        raise TooMany(
            f"the filter matches more than {MAX_TENANTS} tenants: narrow it, or act in parts"
        )
    return ids


async def start(
    client: Client,
    task_queue: str,
    action: Action,
    tenant_ids: list[str],
    user_id: str,
    concurrency: int,
) -> tuple[str, str]:
    """Start the bulk action; return its id and workflow id."""
    bulk_id = uuid.uuid4().hex[:12]
    workflow_id = bulk_workflow_id(bulk_id)
    arg = BulkActionInput(bulk_id, action, list(dict.fromkeys(tenant_ids)), user_id, concurrency)
    await client.start_workflow(
        BulkActionWorkflow.run,
        arg,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    return bulk_id, workflow_id


def _handle(client: Client, bulk_id: str) -> WorkflowHandle[BulkActionWorkflow, BulkProgress]:
    return client.get_workflow_handle_for(BulkActionWorkflow.run, bulk_workflow_id(bulk_id))


async def read(client: Client, bulk_id: str) -> BulkProgress:
    """The bulk's state now: its result once closed, else its `progress` query (BulkMissing;
    RPCError or one of QUERY_ERRORS when Temporal or every worker is away)."""
    handle = _handle(client, bulk_id)
    try:
        description = await handle.describe(rpc_timeout=DESCRIBE_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise BulkMissing(bulk_id) from err
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        return await handle.query(BulkActionWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
    try:
        return await handle.result(follow_runs=False, rpc_timeout=DESCRIBE_TIMEOUT)
    except WorkflowFailureError as err:
        # Terminated or cancelled from outside: its last state is with the worker (a replay).
        log.info("bulk %s ended without a result: %s", bulk_id, err)
        return await handle.query(BulkActionWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)


async def follow(client: Client, bulk_id: str) -> AsyncIterator[BulkProgress]:
    """The state each time it changes, until the bulk has finished (or ended otherwise)."""
    dirty, closed = asyncio.Event(), asyncio.Event()
    dirty.set()
    watcher = asyncio.create_task(watch_history(_handle(client, bulk_id), dirty, closed))
    version = -1
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dirty.wait(), FALLBACK_SECONDS)
            dirty.clear()
            try:
                state = await read(client, bulk_id)
            except (*QUERY_ERRORS, BulkMissing) as err:
                log.warning("bulk %s cannot be read now: %s", bulk_id, err)
                if closed.is_set():
                    return
                continue
            if state.version > version:
                version = state.version
                yield state
            if state.finished or closed.is_set():
                return
    finally:
        watcher.cancel()
