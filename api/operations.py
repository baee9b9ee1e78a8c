"""Starting work on tenants: create, update, retry, cancel, delete.

Each moves the row (through core/lifecycle.py, the one owner of its status) and starts the
workflow inside one database transaction: a racing second request finds the row already taken
or moved and gets 409, and a start that fails rolls the row back. If the API dies after the start
but before the commit, the workflow's first status write finds no row (or the old status) and the
run fails without creating anything.
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from api.schemas import TenantAccepted, TenantChange, TenantCreate
from core import actions, lifecycle, logs
from core.actions import Action, Work
from core.lifecycle import Operation
from core.models import Tenant
from core.naming import storage_name
from core.passwords import admin_password_columns
from core.settings import Settings
from core.status import ROOT_TENANT_ID, TenantStatus
from workflows.deprovision_tenant import DeprovisionTenant
from workflows.models import (
    DeprovisionTenantInput,
    ProvisionTenantInput,
    UpdateTenantInput,
    cancel_reason,
    deprovision_workflow_id,
    provision_workflow_id,
    search_attributes,
    update_workflow_id,
)
from workflows.provision_tenant import ProvisionTenant
from workflows.update_tenant import UpdateTenant

S = TenantStatus


async def load_tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    logs.bind(tenant_id)
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"Tenant '{tenant_id}' not found")
    return tenant


class Operations:
    def __init__(self, session: AsyncSession, client: Client, settings: Settings) -> None:
        self.session = session
        self.client = client
        self.settings = settings

    async def create(
        self, request: TenantCreate, initiated_by: str | None, *, send_welcome_email: bool = False
    ) -> TenantAccepted:
        name = storage_name(self.settings.tenant_storage_prefix, request.id)
        # Sealed for the worker to hash (no Argon2 in the request); without PASSWORD_SEALING_KEY
        # hashed, before the transaction opens: the row lock is held for milliseconds.
        admin_password = await admin_password_columns(
            self.settings.sealing_key(), request.id, request.password.get_secret_value()
        )
        isolated = request.has_isolated_database
        workflow_id = provision_workflow_id(request.id)
        arg = ProvisionTenantInput(
            tenant_id=request.id,
            name=request.name,
            admin_email=request.admin_email,
            has_isolated_database=isolated,
            initiated_by=initiated_by,
            operation_id=str(uuid.uuid4()),
            send_welcome_email=send_welcome_email,
        )
        async with self.session.begin():
            created = await lifecycle.create(
                self.session,
                {
                    "id": request.id,
                    "name": request.name,
                    "is_active": True,
                    "has_isolated_database": isolated,
                    "database_name": name if isolated else self.settings.tenants_database,
                    "schema_name": "public" if isolated else name,
                    "admin_email": request.admin_email,
                    **admin_password,
                    "workflow_id": workflow_id,
                    "initiated_by": initiated_by,
                },
            )
            if not created:
                raise Conflict(f"Tenant '{request.id}' already exists")
            await self._start(
                ProvisionTenant.run,
                arg,
                request.id,
                workflow_id,
                S.PENDING,
                # The row decides (new, or a Deleted tenant's id provisioned again, whose
                # earlier run succeeded); a second running one is refused (conflict policy).
                WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                conflict=f"Tenant '{request.id}' already exists",
                unavailable="Could not start provisioning",
            )
        return TenantAccepted(id=request.id, status=S.PENDING, workflow_id=workflow_id)

    async def update(self, tenant_id: str, change: TenantChange, user_id: str) -> TenantAccepted:
        tenant = await self._load(tenant_id, Operation.UPDATE)
        return await self._update(tenant, Operation.UPDATE, change.name, change.is_active, user_id)

    async def retry(self, tenant_id: str, user_id: str) -> TenantAccepted:
        tenant = await self._load(tenant_id, Operation.RETRY)
        _require(tenant, Operation.RETRY)
        # Which retry it is (provision again, re-apply an update, or neither) is decided in one
        # place for single requests and bulk actions alike.
        try:
            work = actions.plan(tenant, Action.RETRY).work
        except actions.Skip as err:
            raise Conflict(f"Tenant '{tenant_id}' cannot be retried: {err}") from err
        if work is Work.UPDATE:
            # A tenant that was Active: never re-provision it (a cancel would compensate by
            # dropping its data). Re-apply the row's current name and flag instead.
            return await self._update(
                tenant, Operation.RETRY, tenant.name, tenant.is_active, user_id
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
        return await self._move(
            tenant, Operation.RETRY, S.PENDING, ProvisionTenant.run, arg, workflow_id, user_id
        )

    async def delete(self, tenant_id: str, user_id: str) -> TenantAccepted:
        tenant = await self._load(tenant_id, Operation.DELETE)
        if tenant.status == S.DELETING and tenant.workflow_id:  # asked twice: already under way
            return TenantAccepted(id=tenant.id, status=S.DELETING, workflow_id=tenant.workflow_id)
        arg = DeprovisionTenantInput(tenant.id, tenant.name, user_id, str(uuid.uuid4()))
        workflow_id = deprovision_workflow_id(tenant_id)
        return await self._move(
            tenant, Operation.DELETE, S.DELETING, DeprovisionTenant.run, arg, workflow_id, user_id
        )

    async def cancel(self, tenant_id: str, user_id: str) -> TenantAccepted:
        """Ask the run to cancel; the workflow compensates and records Cancelled itself."""
        tenant = await self._load(tenant_id, Operation.CANCEL)
        _require(tenant, Operation.CANCEL)
        assert tenant.workflow_id is not None
        handle = self.client.get_workflow_handle(tenant.workflow_id)
        try:
            # The reason names the user, who is told the outcome (the Web UI's and the CLI's
            # cancels name nobody: the user who started the run is told).
            await handle.cancel(reason=cancel_reason(user_id))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise Conflict(f"Tenant '{tenant_id}' has no running provisioning") from err
            raise ServiceUnavailable(f"Could not cancel: {err.message}") from err
        return TenantAccepted(id=tenant.id, status=S(tenant.status), workflow_id=tenant.workflow_id)

    async def _update(
        self, tenant: Tenant, operation: Operation, name: str, is_active: bool, user_id: str
    ) -> TenantAccepted:
        operation_id = str(uuid.uuid4())
        arg = UpdateTenantInput(tenant.id, name, is_active, user_id, operation_id)
        workflow_id = update_workflow_id(tenant.id, operation_id)
        return await self._move(
            tenant, operation, S.UPDATING, UpdateTenant.run, arg, workflow_id, user_id
        )

    async def _load(self, tenant_id: str, operation: Operation) -> Tenant:
        if tenant_id == ROOT_TENANT_ID:
            raise BadRequest(f"Cannot {operation} root tenant")
        tenant = await load_tenant(self.session, tenant_id)
        if tenant.status == S.DELETED:
            # Checked first, so retry and DELETE agree on what a Deleted tenant is.
            done = lifecycle.OPERATIONS[operation].done
            raise Conflict(f"Tenant '{tenant_id}' is Deleted: a deleted tenant cannot be {done}")
        # A run stopped from outside left the row in flight: settle it before deciding.
        tenant = await lifecycle.settle_closed_run(self.session, self.client, tenant)
        await self.session.commit()
        return tenant

    async def _move(
        self,
        tenant: Tenant,
        operation: Operation,
        status: TenantStatus,
        run: Any,
        arg: Any,
        workflow_id: str,
        user_id: str,
    ) -> TenantAccepted:
        async with self.session.begin():
            try:
                await lifecycle.begin(
                    self.session,
                    tenant,
                    operation,
                    status,
                    workflow_id=workflow_id,
                    initiated_by=user_id,
                )
            except lifecycle.WrongStatus as err:
                raise Conflict(str(err)) from err
            await self._start(
                run,
                arg,
                tenant.id,
                workflow_id,
                status,
                WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                conflict=f"Tenant '{tenant.id}' already has {workflow_id} running",
            )
        return TenantAccepted(id=tenant.id, status=status, workflow_id=workflow_id)

    async def _start(
        self,
        run: Any,
        arg: Any,
        tenant_id: str,
        workflow_id: str,
        status: TenantStatus,
        reuse: WorkflowIDReusePolicy,
        *,
        conflict: str,
        unavailable: str = "Could not start the workflow",
    ) -> None:
        """Start the workflow, inside the caller's transaction (its failure rolls it back)."""
        logs.bind(tenant_id, workflow_id)
        try:
            await self.client.start_workflow(
                run,
                arg,
                id=workflow_id,
                task_queue=self.settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=reuse,
                search_attributes=search_attributes(tenant_id, status),
            )
        except WorkflowAlreadyStartedError as err:
            raise Conflict(conflict) from err
        except RPCError as err:
            raise ServiceUnavailable(f"{unavailable}: {err.message}") from err


def _require(tenant: Tenant, operation: Operation) -> None:
    try:
        lifecycle.require(tenant, operation)
    except lifecycle.WrongStatus as err:
        raise Conflict(str(err)) from err
