"""The two removal steps, shared by compensation (ProvisionTenant) and deletion
(DeprovisionTenant): the tenant's database or schema, then its users. Both are idempotent and
check ownership, so they may run whatever exists.

Runs inside workflows (deterministic): imported through `imports_passed_through`.
"""

from temporalio import workflow

from activities.control_plane import ControlPlaneActivities
from activities.models import Removed, TenantRef
from activities.tenant_storage import TenantStorageActivities
from workflows import policies
from workflows.models import StepName
from workflows.tracking import Tracker, options


async def drop_storage(track: Tracker, ref: TenantRef) -> Removed:
    return await track.step(
        StepName.DROP_DATABASE,
        "drop_tenant_database",
        lambda: workflow.execute_activity_method(
            TenantStorageActivities.drop_tenant_database,
            ref,
            **options(policies.REMOVE_STORAGE),
        ),
    )


async def delete_users(track: Tracker, ref: TenantRef) -> Removed:
    return await track.step(
        StepName.DELETE_USERS,
        "delete_tenant_users",
        lambda: workflow.execute_activity_method(
            ControlPlaneActivities.delete_tenant_users,
            ref,
            **options(policies.CONTROL_PLANE_WRITE),
        ),
    )
