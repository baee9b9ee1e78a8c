"""Starting provisioning: the tenant row and the workflow, together or not at all.

The row is inserted and the workflow started inside one database transaction. A duplicate id
blocks on the row's key until the first request commits, then gets 409; a start that fails
rolls the row back. If the API dies after the start but before the commit, the workflow's first
activity finds no row (after a few retries) and the run fails without creating anything.
"""

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.errors import Conflict, ServiceUnavailable
from api.schemas import TenantAccepted, TenantCreate
from core.models import Tenant
from core.naming import storage_name
from core.passwords import hash_password_async
from core.settings import Settings
from core.status import TenantStatus
from workflows.models import ProvisionTenantInput, provision_workflow_id, search_attributes
from workflows.provision_tenant import ProvisionTenant


def _already_exists(tenant_id: str) -> Conflict:
    return Conflict(f"Tenant '{tenant_id}' already exists")


async def start_provisioning(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    request: TenantCreate,
    *,
    initiated_by: str | None,
    send_welcome_email: bool = False,
) -> TenantAccepted:
    name = storage_name(settings.tenant_storage_prefix, request.id)
    # Hashed before the transaction opens: the row lock is held for milliseconds, not for ~150.
    password_hash = await hash_password_async(request.password.get_secret_value())
    isolated = request.has_isolated_database
    workflow_id = provision_workflow_id(request.id)
    async with session.begin():
        inserted = await session.scalar(
            insert(Tenant)
            .values(
                id=request.id,
                name=request.name,
                status=TenantStatus.PENDING,
                is_active=True,
                has_isolated_database=isolated,
                database_name=name if isolated else settings.tenants_database,
                schema_name="public" if isolated else name,
                admin_email=request.admin_email,
                admin_password_hash=password_hash,
                workflow_id=workflow_id,
                initiated_by=initiated_by,
            )
            .on_conflict_do_nothing(index_elements=[Tenant.id])
            .returning(Tenant.id)
        )
        if inserted is None:
            raise _already_exists(request.id)
        try:
            await client.start_workflow(
                ProvisionTenant.run,
                ProvisionTenantInput(
                    tenant_id=request.id,
                    name=request.name,
                    admin_email=request.admin_email,
                    has_isolated_database=isolated,
                    initiated_by=initiated_by,
                    operation_id=str(uuid.uuid4()),
                    send_welcome_email=send_welcome_email,
                ),
                id=workflow_id,
                task_queue=settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # A failed run may be started again (retry); a running or successful one not.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                search_attributes=search_attributes(request.id, TenantStatus.PENDING),
            )
        except WorkflowAlreadyStartedError as err:
            raise _already_exists(request.id) from err
        except RPCError as err:
            raise ServiceUnavailable(f"Could not start provisioning: {err.message}") from err
    return TenantAccepted(id=request.id, status=TenantStatus.PENDING, workflow_id=workflow_id)
