"""DeprovisionTenant: Deleting, drop the database or schema, remove the users, Deleted.

Stopped half-way (a failure, a cancel), the tenant is Failed with the error — never Active:
`DELETE` again finishes the job (every step is idempotent).
"""

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.models import TenantRef
    from activities.progress import describe_error
    from core.status import TenantStatus
    from workflows.models import (
        DeprovisionTenantInput,
        NotificationType,
        OperationResult,
        StepName,
    )
    from workflows.removal import delete_users, drop_storage
    from workflows.tracking import TrackedWorkflow, Tracker


@workflow.defn(name="DeprovisionTenant")
class DeprovisionTenant(TrackedWorkflow):
    @workflow.init
    def __init__(self, input: DeprovisionTenantInput) -> None:
        steps = [StepName.DROP_DATABASE, StepName.DELETE_USERS, StepName.MARK_DELETED]
        self.tracker = Tracker(input.tenant_id, input.name, "DeprovisionTenant", steps)

    @workflow.run
    async def run(self, input: DeprovisionTenantInput) -> OperationResult:
        track, ref = self.tracker, TenantRef(input.tenant_id)
        try:
            await track.set_status(TenantStatus.DELETING)
            await drop_storage(track, ref)
            await delete_users(track, ref)
            track.ignore_cancel_requests()  # storage and users are gone: finish as Deleted
            await track.final_step(
                StepName.MARK_DELETED,
                "set_tenant_status",
                lambda: track.set_status(TenantStatus.DELETED),
            )
        except (ActivityError, asyncio.CancelledError) as err:
            cancelled = is_cancelled_exception(err)
            cause = "cancelled" if cancelled else describe_error(getattr(err, "cause", None) or err)
            error = f"Deletion stopped ({cause}); delete again to finish"
            track.ignore_cancel_requests()
            track.cancel_pending()
            await track.record_failure(error)
            await self._notify(input, NotificationType.TENANT_DELETION_FAILED, error)
            if cancelled:
                raise
            raise ApplicationError(
                error, track.progress, type="DeprovisionFailed", non_retryable=True
            ) from err
        await self._notify(
            input, NotificationType.TENANT_DELETED, f"Tenant '{input.name}' was deleted"
        )
        return OperationResult(input.tenant_id, TenantStatus.DELETED, track.progress)

    async def _notify(
        self, input: DeprovisionTenantInput, type: NotificationType, text: str
    ) -> None:
        await self.tracker.notify(input.initiated_by, input.operation_id, type.value, text)
