"""ProvisionTenant: admin user, database or schema, migrations, then Active.

Each step is one activity with its own policy (workflows/policies.py). The workflow keeps a
progress snapshot, answered by the `progress` query; activities report failed attempts with a
signal so the snapshot shows retries while Temporal performs them.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.control_plane import ControlPlaneActivities
    from activities.models import AttemptFailure, NotificationRequest, StatusChange, TenantRef
    from activities.progress import ATTEMPT_FAILED_SIGNAL, describe_error
    from activities.tenant_storage import TenantStorageActivities
    from core.status import TenantStatus
    from workflows import policies
    from workflows.models import (
        PROGRESS_QUERY,
        TENANT_STATUS,
        NotificationType,
        Progress,
        ProvisionTenantInput,
        ProvisionTenantResult,
        StepName,
        StepProgress,
        StepStatus,
    )

T = TypeVar("T")

# Which step an activity's attempt reports belong to.
_STEP_OF_ACTIVITY = {
    "create_admin_user": StepName.CREATE_ADMIN_USER,
    "create_tenant_database": StepName.CREATE_DATABASE,
    "migrate_tenant_database": StepName.MIGRATE_DATABASE,
    "set_tenant_status": StepName.ACTIVATE,
}


@workflow.defn(name="ProvisionTenant")
class ProvisionTenant:
    @workflow.init
    def __init__(self, input: ProvisionTenantInput) -> None:
        self._progress = Progress(
            tenant_id=input.tenant_id,
            workflow_type="ProvisionTenant",
            status=TenantStatus.PENDING,
            steps=[StepProgress(name) for name in StepName],
            updated_at=workflow.now(),
            run_started_at=workflow.info().start_time,
        )

    @workflow.run
    async def run(self, input: ProvisionTenantInput) -> ProvisionTenantResult:
        ref = TenantRef(input.tenant_id)
        try:
            await self._set_status(TenantStatus.PROVISIONING, new_attempt=True)
            admin = await self._step(
                StepName.CREATE_ADMIN_USER,
                lambda: workflow.execute_activity_method(
                    ControlPlaneActivities.create_admin_user,
                    ref,
                    **_options(policies.CREATE_ADMIN_USER),
                ),
            )
            storage = await self._step(
                StepName.CREATE_DATABASE,
                lambda: workflow.execute_activity_method(
                    TenantStorageActivities.create_tenant_database,
                    ref,
                    **_options(policies.CREATE_DATABASE),
                ),
            )
            await self._step(
                StepName.MIGRATE_DATABASE,
                lambda: workflow.execute_activity_method(
                    TenantStorageActivities.migrate_tenant_database,
                    ref,
                    **_options(policies.MIGRATE_DATABASE),
                ),
            )
            await self._step(
                StepName.ACTIVATE,
                lambda: self._set_status(TenantStatus.ACTIVE),
            )
        except ActivityError as err:
            await self._fail(describe_error(err.cause or err))
            await self._notify(
                input,
                NotificationType.TENANT_CREATION_FAILED,
                f"Provisioning tenant '{input.name}' failed: {self._progress.error}",
            )
            raise ApplicationError(
                self._progress.error or "provisioning failed",
                self._progress,  # details: the final snapshot, for readers of the closed run
                type="ProvisioningFailed",
                non_retryable=True,
            ) from err
        await self._notify(
            input, NotificationType.TENANT_CREATED, f"Tenant '{input.name}' is ready"
        )
        return ProvisionTenantResult(
            tenant_id=input.tenant_id,
            status=TenantStatus.ACTIVE,
            database=storage.database,
            schema=storage.schema,
            admin_user_id=admin.user_id,
            progress=self._progress,
        )

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress

    @workflow.signal(name=ATTEMPT_FAILED_SIGNAL)
    def attempt_failed(self, failure: AttemptFailure) -> None:
        step = self._find(_STEP_OF_ACTIVITY.get(failure.activity))
        # Reports may arrive late; only an active step's newest attempt counts.
        if step is None or step.status not in (StepStatus.RUNNING, StepStatus.RETRYING):
            return
        if failure.attempt < step.attempt:
            return
        step.last_error = failure.error
        if failure.will_retry:
            step.status = StepStatus.RETRYING
            step.attempt = failure.attempt + 1
        self._touch()

    async def _step(self, name: StepName, run: Callable[[], Awaitable[T]]) -> T:
        step = self._find(name)
        assert step is not None
        step.status, step.attempt, step.started_at = StepStatus.RUNNING, 1, workflow.now()
        self._touch()
        try:
            result = await run()
        except ActivityError as err:
            step.status, step.finished_at = StepStatus.FAILED, workflow.now()
            step.last_error = describe_error(err.cause or err)
            self._touch()
            raise
        step.status, step.finished_at = StepStatus.COMPLETED, workflow.now()
        self._touch()
        return result

    async def _set_status(self, status: TenantStatus, *, new_attempt: bool = False) -> None:
        await workflow.execute_activity_method(
            ControlPlaneActivities.set_tenant_status,
            StatusChange(self._progress.tenant_id, status, new_attempt=new_attempt),
            **_options(policies.STATUS_UPDATE),
        )
        self._progress.status = status
        workflow.upsert_search_attributes([TENANT_STATUS.value_set(status.value)])
        self._touch()

    async def _fail(self, error: str) -> None:
        self._progress.status, self._progress.error = TenantStatus.FAILED, error
        workflow.upsert_search_attributes([TENANT_STATUS.value_set(TenantStatus.FAILED.value)])
        self._touch()
        try:
            await workflow.execute_activity_method(
                ControlPlaneActivities.set_tenant_status,
                StatusChange(self._progress.tenant_id, TenantStatus.FAILED, error=error),
                **_options(policies.STATUS_UPDATE),
            )
        except ActivityError:
            workflow.logger.exception("could not record the failure on the tenant row")

    async def _notify(
        self, input: ProvisionTenantInput, type: NotificationType, message: str
    ) -> None:
        # Runs recorded before notifications existed did not send one: keep replaying them.
        if not input.initiated_by or not workflow.patched("notify-initiator"):
            return
        request = NotificationRequest(
            key=f"{workflow.info().workflow_id}:{input.operation_id}:{type.value}",
            user_id=input.initiated_by,
            type=type.value,
            message=message,
            tenant_id=input.tenant_id,
            tenant_name=input.name,
        )
        try:
            await workflow.execute_activity_method(
                ControlPlaneActivities.record_notification,
                request,
                **_options(policies.STATUS_UPDATE),
            )
        except ActivityError:
            workflow.logger.exception("could not record the %s notification", type.value)

    def _find(self, name: StepName | None) -> StepProgress | None:
        return next((s for s in self._progress.steps if s.name == name), None)

    def _touch(self) -> None:
        self._progress.updated_at = workflow.now()
        self._progress.version += 1


def _options(policy: "policies.ActivityPolicy") -> dict[str, Any]:
    return {
        "start_to_close_timeout": policy.start_to_close_timeout,
        "heartbeat_timeout": policy.heartbeat_timeout,
        "retry_policy": policy.retry_policy,
    }
