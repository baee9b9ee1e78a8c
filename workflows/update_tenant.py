"""UpdateTenant: Updating, apply the new name and active flag, back to Active (or Failed)."""

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.control_plane import ControlPlaneActivities
    from activities.models import TenantUpdate
    from activities.progress import describe_error
    from core.status import TenantStatus
    from workflows import policies
    from workflows.models import (
        NotificationType,
        OperationResult,
        StepName,
        UpdateTenantInput,
    )
    from workflows.tracking import TrackedWorkflow, Tracker, options


@workflow.defn(name="UpdateTenant")
class UpdateTenant(TrackedWorkflow):
    @workflow.init
    def __init__(self, input: UpdateTenantInput) -> None:
        steps = [StepName.APPLY_UPDATE, StepName.ACTIVATE]
        self.tracker = Tracker(input.tenant_id, input.name, "UpdateTenant", steps)

    @workflow.run
    async def run(self, input: UpdateTenantInput) -> OperationResult:
        track = self.tracker
        change = TenantUpdate(input.tenant_id, input.name, input.is_active)
        try:
            await track.set_status(TenantStatus.UPDATING)
            await track.step(
                StepName.APPLY_UPDATE,
                "apply_tenant_update",
                lambda: workflow.execute_activity_method(
                    ControlPlaneActivities.apply_tenant_update,
                    change,
                    **options(policies.CONTROL_PLANE_WRITE),
                ),
            )
            track.ignore_cancel_requests()  # applied: finish as Active
            await track.final_step(
                StepName.ACTIVATE,
                "set_tenant_status",
                lambda: track.set_status(TenantStatus.ACTIVE),
            )
        except (ActivityError, asyncio.CancelledError) as err:
            if is_cancelled_exception(err):
                # The update is one statement: applied or not, the tenant is consistent.
                track.ignore_cancel_requests()
                track.cancel_pending()
                await track.set_status(TenantStatus.ACTIVE, error="The update was cancelled")
                await self._notify(input, NotificationType.TENANT_UPDATE_FAILED, "were cancelled")
                raise
            assert isinstance(err, ActivityError)
            error = describe_error(err.cause or err)
            await track.record_failure(error)
            await self._notify(input, NotificationType.TENANT_UPDATE_FAILED, f"failed: {error}")
            raise ApplicationError(
                error, track.progress, type="UpdateFailed", non_retryable=True
            ) from err
        await self._notify(input, NotificationType.TENANT_UPDATED, "were saved")
        return OperationResult(input.tenant_id, TenantStatus.ACTIVE, track.progress)

    async def _notify(self, input: UpdateTenantInput, type: NotificationType, what: str) -> None:
        # "Changes to tenant 'Globex' were saved" / "... failed: <error>" (only activity input:
        # the wording can change without breaking the replay of recorded histories).
        text = f"Changes to tenant '{input.name}' {what}"
        await self.tracker.notify(input.initiated_by, input.operation_id, type.value, text)
