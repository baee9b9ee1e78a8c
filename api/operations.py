"""Operations on an existing tenant: update, retry, cancel, delete.

Each moves the row out of the statuses it accepts and starts (or cancels) the workflow inside one
transaction, the way `api/provisioning.py` creates tenants: a racing second request finds the row
already moved and gets 409; a start that fails rolls the row back.
"""

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from api.reconcile import reconcile
from api.schemas import TenantAccepted, TenantChange
from core.models import Tenant
from core.settings import Settings
from core.status import ROOT_TENANT_ID, TenantStatus
from workflows.deprovision_tenant import DeprovisionTenant
from workflows.models import (
    CANCEL_REQUESTED_BY_SIGNAL,
    DeprovisionTenantInput,
    ProvisionTenantInput,
    UpdateTenantInput,
    deprovision_workflow_id,
    provision_workflow_id,
    search_attributes,
    update_workflow_id,
)
from workflows.provision_tenant import ProvisionTenant
from workflows.update_tenant import UpdateTenant

S = TenantStatus
RETRYABLE = {S.FAILED, S.CANCELLED}
CANCELLABLE = {S.PENDING, S.PROVISIONING}
DELETABLE = {S.ACTIVE, S.FAILED, S.CANCELLED}


class Operations:
    def __init__(self, session: AsyncSession, client: Client, settings: Settings) -> None:
        self.session = session
        self.client = client
        self.settings = settings

    async def update(self, tenant_id: str, change: TenantChange, user_id: str) -> TenantAccepted:
        tenant = await self._load(tenant_id, "edit")
        operation = str(uuid.uuid4())
        workflow_id = update_workflow_id(tenant_id, operation)
        arg = UpdateTenantInput(tenant_id, change.name, change.is_active, user_id, operation)
        return await self._start(
            tenant, {S.ACTIVE}, S.UPDATING, "edited", UpdateTenant.run, arg, workflow_id, user_id
        )

    async def retry(self, tenant_id: str, user_id: str) -> TenantAccepted:
        tenant = await self._load(tenant_id, "retry")
        if tenant.workflow_id and tenant.workflow_id.startswith("deprovision-"):
            raise Conflict(f"Deleting tenant '{tenant_id}' failed: DELETE it again to finish")
        if tenant.workflow_id and tenant.workflow_id.startswith("update-"):
            # A tenant that was Active: never re-provision it (a cancel would compensate by
            # dropping its data). Re-apply the row's current name and flag instead.
            operation = str(uuid.uuid4())
            update = UpdateTenantInput(tenant_id, tenant.name, tenant.is_active, user_id, operation)
            workflow_id = update_workflow_id(tenant_id, operation)
            return await self._start(
                tenant,
                RETRYABLE,
                S.UPDATING,
                "retried",
                UpdateTenant.run,
                update,
                workflow_id,
                user_id,
            )
        arg = ProvisionTenantInput(
            tenant_id=tenant.id,
            name=tenant.name,
            admin_email=tenant.admin_email or "",
            has_isolated_database=tenant.has_isolated_database,
            initiated_by=user_id,
            operation_id=str(uuid.uuid4()),
        )
        workflow_id = provision_workflow_id(tenant_id)
        return await self._start(
            tenant, RETRYABLE, S.PENDING, "retried", ProvisionTenant.run, arg, workflow_id, user_id
        )

    async def delete(self, tenant_id: str, user_id: str) -> TenantAccepted:
        tenant = await self._load(tenant_id, "delete")
        if tenant.status == S.DELETING and tenant.workflow_id:  # asked twice: already under way
            return TenantAccepted(id=tenant.id, status=S.DELETING, workflow_id=tenant.workflow_id)
        arg = DeprovisionTenantInput(tenant.id, tenant.name, user_id, str(uuid.uuid4()))
        workflow_id = deprovision_workflow_id(tenant_id)
        return await self._start(
            tenant,
            DELETABLE,
            S.DELETING,
            "deleted",
            DeprovisionTenant.run,
            arg,
            workflow_id,
            user_id,
        )

    async def cancel(self, tenant_id: str, user_id: str) -> TenantAccepted:
        tenant = await self._load(tenant_id, "cancel")
        self._require(tenant, CANCELLABLE, "cancelled")
        assert tenant.workflow_id is not None
        handle = self.client.get_workflow_handle(tenant.workflow_id)
        try:
            await handle.signal(CANCEL_REQUESTED_BY_SIGNAL, user_id)
            await handle.cancel()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise Conflict(f"Tenant '{tenant_id}' has no running provisioning") from err
            raise ServiceUnavailable(f"Could not cancel: {err.message}") from err
        return TenantAccepted(id=tenant.id, status=S(tenant.status), workflow_id=tenant.workflow_id)

    async def _load(self, tenant_id: str, verb: str) -> Tenant:
        if tenant_id == ROOT_TENANT_ID:
            raise BadRequest(f"Cannot {verb} root tenant")
        tenant = await self.session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"Tenant '{tenant_id}' not found")
        tenant = await reconcile(self.session, self.client, tenant)
        await self.session.commit()
        return tenant

    @staticmethod
    def _require(tenant: Tenant, allowed: Collection[TenantStatus], done: str) -> None:
        if tenant.status not in allowed:
            raise _wrong_status(tenant, allowed, done)

    async def _start(
        self,
        tenant: Tenant,
        allowed: Collection[TenantStatus],
        status: TenantStatus,
        done: str,
        run: Any,
        arg: Any,
        workflow_id: str,
        user_id: str,
    ) -> TenantAccepted:
        self._require(tenant, allowed, done)
        async with self.session.begin():
            moved = await self.session.scalar(
                update(Tenant)
                .where(Tenant.id == tenant.id, Tenant.status.in_(list(allowed)))
                .values(status=status, workflow_id=workflow_id, initiated_by=user_id)
                .returning(Tenant.id)
            )
            if moved is None:  # another request got there first
                await self.session.refresh(tenant)
                raise _wrong_status(tenant, allowed, done)
            try:
                await self.client.start_workflow(
                    run,
                    arg,
                    id=workflow_id,
                    task_queue=self.settings.temporal_task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    search_attributes=search_attributes(tenant.id, status),
                )
            except WorkflowAlreadyStartedError as err:
                raise Conflict(f"Tenant '{tenant.id}' already has {workflow_id} running") from err
            except RPCError as err:
                raise ServiceUnavailable(f"Could not start the workflow: {err.message}") from err
        return TenantAccepted(id=tenant.id, status=status, workflow_id=workflow_id)


def _wrong_status(tenant: Tenant, allowed: Collection[TenantStatus], done: str) -> Conflict:
    accepted = " or ".join(sorted(allowed))
    return Conflict(
        f"Tenant '{tenant.id}' is {tenant.status}: only a tenant that is {accepted} can be {done}"
    )
