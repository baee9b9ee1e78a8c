"""Bulk actions: resolve the tenants, start the BulkAction workflow, read and follow its state.

The targets are fixed when the request is accepted (ids as given, or the filter's matches at
that moment); each is then judged on its own by the workflow, through the lifecycle's rules. The
workflow is the only record of a bulk action: its `progress` query while it runs, its result
once it has ended (no worker needed to read that).
"""

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from api.tenant_list import TenantFilter
from api.workflow_state import WorkflowMissing, follow_state, read_state
from core.actions import Action
from core.models import Tenant
from workflows.bulk_action import (
    BulkActionInput,
    BulkActionWorkflow,
    BulkProgress,
    bulk_workflow_id,
)

MAX_TENANTS = 1000
DEFAULT_CONCURRENCY = 10
MAX_CONCURRENCY = 50


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
    """The bulk's state now (BulkMissing; RPCError or one of QUERY_ERRORS when Temporal or
    every worker is away)."""
    try:
        return await read_state(_handle(client, bulk_id), BulkActionWorkflow.progress)
    except WorkflowMissing as err:
        raise BulkMissing(bulk_id) from err


def follow(client: Client, bulk_id: str) -> AsyncIterator[BulkProgress]:
    """The state each time it changes, until the bulk has finished (or ended otherwise)."""
    return follow_state(
        _handle(client, bulk_id),
        lambda: read(client, bulk_id),
        version=lambda state: state.version,
        final=lambda state: state.finished,
    )
