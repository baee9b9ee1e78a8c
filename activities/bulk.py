"""Activities of a bulk action: one tenant at a time, through the lifecycle's rules.

`begin_bulk_item` decides (core/actions.py), moves the row (core/lifecycle.py, conditional on
its status) and returns what the workflow needs to start the tenant's own workflow as a child;
for cancel it asks the tenant's run to cancel, as the API does.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core import actions, lifecycle
from core.actions import Action, Work
from core.models import Tenant
from core.status import TenantStatus


@dataclass(frozen=True)
class BulkItem:
    action: Action
    tenant_id: str
    initiated_by: str
    # The workflow id each kind of work would run under (derived by the workflow).
    provision_workflow_id: str
    update_workflow_id: str
    deprovision_workflow_id: str
    cancel_reason: str = ""


@dataclass(frozen=True)
class BulkStart:
    """`skipped` set: nothing was done, and why. Else `work` was begun: the row moved to
    `status` under `workflow_id` (cancel: the cancel was requested)."""

    tenant_id: str
    skipped: str | None = None
    work: Work | None = None
    workflow_id: str = ""
    status: TenantStatus | None = None
    name: str = ""
    admin_email: str = ""
    has_isolated_database: bool = False
    is_active: bool = True


class BulkActivities:
    def __init__(self, engine: AsyncEngine, client: Client) -> None:
        self.engine = engine
        self.client = client

    @activity.defn(name="begin_bulk_item")
    async def begin_bulk_item(self, item: BulkItem) -> BulkStart:
        """Move one tenant's row for the action, or say why it is skipped."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            tenant = await session.get(Tenant, item.tenant_id)
            if tenant is None:
                return BulkStart(item.tenant_id, skipped="no such tenant")
            if activity.info().attempt > 1 and (resumed := _resumed(tenant, item)) is not None:
                return resumed  # the first attempt moved the row; its answer was lost
            try:
                plan = actions.plan(tenant, item.action)
            except actions.Skip as skip:
                return BulkStart(item.tenant_id, skipped=str(skip))
            if plan.work is Work.CANCEL:
                return await self._cancel(tenant, item.cancel_reason)
            workflow_id = {
                Work.PROVISION: item.provision_workflow_id,
                Work.UPDATE: item.update_workflow_id,
                Work.DEPROVISION: item.deprovision_workflow_id,
            }[plan.work]
            assert plan.target is not None
            try:
                await lifecycle.begin(
                    session,
                    tenant,
                    plan.operation,
                    plan.target,
                    workflow_id=workflow_id,
                    initiated_by=item.initiated_by,
                )
            except lifecycle.WrongStatus as err:
                return BulkStart(item.tenant_id, skipped=str(err))
            await session.commit()
            return _started(tenant, plan, workflow_id)

    async def _cancel(self, tenant: Tenant, reason: str) -> BulkStart:
        assert tenant.workflow_id is not None
        try:
            await self.client.get_workflow_handle(tenant.workflow_id).cancel(reason=reason)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return BulkStart(tenant.id, skipped="its run has already ended")
            raise
        return BulkStart(tenant.id, work=Work.CANCEL, workflow_id=tenant.workflow_id)


_TARGETS = {
    Work.PROVISION: TenantStatus.PENDING,
    Work.UPDATE: TenantStatus.UPDATING,
    Work.DEPROVISION: TenantStatus.DELETING,
}


def _resumed(tenant: Tenant, item: BulkItem) -> BulkStart | None:
    """The row as an earlier attempt of this item left it (moved for one of its workflow ids, by
    its user), as if moved now; None if it is not."""
    ids = {
        item.provision_workflow_id: Work.PROVISION,
        item.update_workflow_id: Work.UPDATE,
        item.deprovision_workflow_id: Work.DEPROVISION,
    }
    work = ids.get(tenant.workflow_id or "")
    if work is None or tenant.initiated_by != item.initiated_by:
        return None
    if tenant.status != _TARGETS[work]:
        return None
    is_active = {Action.ACTIVATE: True, Action.DEACTIVATE: False}.get(item.action, tenant.is_active)
    plan = actions.Plan(actions.OPERATION_OF[item.action], work, _TARGETS[work], is_active)
    return _started(tenant, plan, tenant.workflow_id or "")


def _started(tenant: Tenant, plan: actions.Plan, workflow_id: str) -> BulkStart:
    return BulkStart(
        tenant.id,
        work=plan.work,
        workflow_id=workflow_id,
        status=plan.target,
        name=tenant.name,
        admin_email=tenant.admin_email or "",
        has_isolated_database=tenant.has_isolated_database,
        is_active=plan.is_active,
    )
