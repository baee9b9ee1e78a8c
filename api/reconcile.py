"""Make a tenant row honest about a run that ended without recording its outcome.

Our workflows update the row before they close, so a closed run behind a row that is still in
flight (Pending, Provisioning, Updating, Deleting) was terminated by an operator, timed out, or
failed while the database was unreachable. Nothing was rolled back: the row becomes Failed with
an error saying so, and `retry` or `DELETE` can clean up.
"""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core.models import Tenant
from core.status import TenantStatus

IN_FLIGHT = frozenset(
    {TenantStatus.PENDING, TenantStatus.PROVISIONING, TenantStatus.UPDATING, TenantStatus.DELETING}
)


def _ended(how: str, workflow_id: str) -> str:
    return (
        f"Workflow {workflow_id} {how} without recording an outcome; nothing was rolled back. "
        "Retry or delete the tenant to clean up."
    )


async def reconcile(session: AsyncSession, client: Client, tenant: Tenant) -> Tenant:
    if TenantStatus(tenant.status) not in IN_FLIGHT or tenant.workflow_id is None:
        return tenant
    try:
        description = await client.get_workflow_handle(tenant.workflow_id).describe()
        status = description.status
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            return tenant  # cannot tell now: leave the row as it is
        status = None
    if status == WorkflowExecutionStatus.RUNNING:
        return tenant
    how = {
        WorkflowExecutionStatus.TERMINATED: "was terminated",
        WorkflowExecutionStatus.TIMED_OUT: "timed out",
        None: "is unknown to Temporal",
    }.get(status, f"ended ({status.name.lower() if status else 'unknown'})")
    # Conditional: a row that moved on meanwhile (its workflow did record an outcome) stays.
    await session.execute(
        update(Tenant)
        .where(
            Tenant.id == tenant.id,
            Tenant.status == tenant.status,
            Tenant.workflow_id == tenant.workflow_id,
        )
        .values(status=TenantStatus.FAILED, provisioning_error=_ended(how, tenant.workflow_id))
    )
    await session.commit()
    await session.refresh(tenant)
    return tenant
