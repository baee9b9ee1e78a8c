"""What every tenant workflow does besides its own steps: keep the progress snapshot, mirror the
status on the tenant row and in the `TenantStatus` search attribute, and notify the initiator
(the record_notification activity adds the tenant's admins).

Runs inside workflows (deterministic): imported through `imports_passed_through`.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

from activities.control_plane import ControlPlaneActivities
from activities.models import AttemptFailure, NotificationRequest, StatusChange
from activities.progress import ATTEMPT_FAILED_SIGNAL, describe_error
from activities.translate import describe_detail
from core.status import TenantStatus
from workflows import policies, telemetry
from workflows.models import PROGRESS_QUERY, TENANT_STATUS, Progress, StepProgress, StepStatus

T = TypeVar("T")

# workflow.patched() ids of command-changing fixes (see tests/histories for replays).
CANCEL_WINS = "cancel-wins-over-a-failed-attempt"
LOCAL_WRITES = "status-and-notifications-as-local-activities"
UNCANCELLABLE_FINAL_STEP = "uncancellable-final-step"


def local_options(policy: policies.ActivityPolicy) -> dict[str, Any]:
    """For a short control-plane write run in the workflow's own task: no round trip through
    the server's task queues (its result is a marker in history)."""
    return {
        "start_to_close_timeout": policy.start_to_close_timeout,
        "retry_policy": policy.retry_policy,
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }


def options(policy: policies.ActivityPolicy) -> dict[str, Any]:
    return {
        "start_to_close_timeout": policy.start_to_close_timeout,
        "heartbeat_timeout": policy.heartbeat_timeout,
        "retry_policy": policy.retry_policy,
        # On cancellation, wait for the step to stop before compensating, so cleanup never
        # races a step that is still creating what it removes.
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }


class Tracker:
    def __init__(
        self, tenant_id: str, tenant_name: str, workflow_type: str, steps: Sequence[str]
    ) -> None:
        self.tenant_name = tenant_name
        self.progress = Progress(
            tenant_id=tenant_id,
            workflow_type=workflow_type,
            status=TenantStatus.PENDING,
            steps=[StepProgress(name) for name in steps],
            updated_at=workflow.now(),
            run_started_at=workflow.info().start_time,
        )
        # Which step a failed-attempt report from an activity belongs to.
        self._step_of_activity: dict[str, StepProgress] = {}
        self._compensating = False
        self._failure_detail: str | None = None  # of the step that failed last
        # Status and notification writes as local activities (set by the workflow, behind
        # workflow.patched(LOCAL_WRITES): runs recorded before ran them as activities).
        self.local_writes = False
        # Patch ids a workflow's newer single patch stands for (see `patched`).
        self.implied_patches: frozenset[str] = frozenset()

    def patched(self, patch_id: str) -> bool:
        """`workflow.patched(patch_id)`, or True without a marker when the run recorded a later
        patch that implies it: each patch costs the run a marker and a search-attribute upsert,
        so a new run records one patch for all the fixes it takes (ProvisionTenant's LEAN)."""
        return patch_id in self.implied_patches or workflow.patched(patch_id)

    @property
    def tenant_id(self) -> str:
        return self.progress.tenant_id

    def find(self, name: str) -> StepProgress | None:
        return next((s for s in self.progress.steps if s.name == name), None)

    def add_step(self, name: str) -> StepProgress:
        step = StepProgress(name)
        self.progress.steps.append(step)
        self.touch()
        return step

    async def step(self, name: str, activity: str, run: Callable[[], Awaitable[T]]) -> T:
        """Run one step, tracked. A cancel request that its activity finished despite (it waits
        for cancellation to complete) still cancels the workflow after the step."""
        self._raise_if_cancel_requested()
        step = self.find(name) or self.add_step(name)
        step.status, step.attempt, step.started_at = StepStatus.RUNNING, 1, workflow.now()
        self._step_of_activity[activity] = step
        self.touch()
        try:
            result = await run()
        except ActivityError as err:
            step.last_error = describe_error(err.cause or err)
            step.last_error_detail = describe_detail(err.cause or err)
            # An attempt that fails after a cancel request (the server retries no more once
            # one is pending) is the cancel's outcome, not a failure: compensate, end Cancelled.
            if self.cancel_requested and self.patched(CANCEL_WINS):
                self._finish(step, StepStatus.CANCELLED)
                raise asyncio.CancelledError(f"cancel requested: {step.last_error}") from err
            self._finish(step, StepStatus.FAILED)
            self._failure_detail = step.last_error_detail
            telemetry.step_failed(self.progress.workflow_type, name, _error_type(err))
            raise
        except asyncio.CancelledError:
            # Only a real cancellation: an evicted workflow's coroutine is closed with
            # GeneratorExit, and must not touch workflow state on its way out.
            self._finish(step, StepStatus.CANCELLED)
            raise
        self._finish(step, StepStatus.COMPLETED)
        self._raise_if_cancel_requested()
        return result

    def completed_without_activity(self, name: str) -> None:
        """A step the previous one's result made unnecessary: shown done, no activity run."""
        self._raise_if_cancel_requested()
        step = self.find(name) or self.add_step(name)
        step.status, step.attempt, step.started_at = StepStatus.RUNNING, 1, workflow.now()
        self._finish(step, StepStatus.COMPLETED)

    async def final_step(self, name: str, activity: str, run: Callable[[], Awaitable[T]]) -> T:
        """The point of no return (Active, Deleted): not cancellable. A cancel request that
        reached the step itself would cancel its activity between two attempts — one that may
        already have committed (an attempt past its timeout still finishes its transaction) —
        and the workflow would compensate after the row said Active. Shielded, the activity is
        never asked to cancel and its retries go on; the run finishes as if the cancel came too
        late, which it did."""
        if not self.patched(UNCANCELLABLE_FINAL_STEP):
            return await self.step(name, activity, run)
        self.ignore_cancel_requests()
        inner = asyncio.ensure_future(self.step(name, activity, run))
        try:
            return await asyncio.shield(inner)
        except asyncio.CancelledError:
            return await inner

    @property
    def cancel_requested(self) -> bool:
        """A cancel request (API, Web UI or CLI) arrived and may still stop the run."""
        return workflow.cancellation_reason() is not None and not self._compensating

    def _raise_if_cancel_requested(self) -> None:
        if self.cancel_requested:
            raise asyncio.CancelledError(f"cancel requested: {workflow.cancellation_reason()}")

    def ignore_cancel_requests(self) -> None:
        """From now on a cancel request no longer stops the run: its cleanup is under way, or its
        final step has begun (undoing an Active or Deleted tenant would be worse than finishing)."""
        self._compensating = True

    def _finish(self, step: StepProgress, status: StepStatus) -> None:
        step.status, step.finished_at = status, workflow.now()
        self._step_of_activity = {k: v for k, v in self._step_of_activity.items() if v is not step}
        self.touch()

    def cancel_pending(self) -> None:
        for step in self.progress.steps:
            if step.status == StepStatus.PENDING:
                step.status = StepStatus.CANCELLED
        self.touch()

    def attempt_failed(self, failure: AttemptFailure) -> None:
        step = self._step_of_activity.get(failure.activity)
        # Reports may arrive late; only a running step's newest attempt counts.
        if step is None or failure.attempt < step.attempt:
            return
        step.last_error = failure.error
        step.last_error_detail = failure.error_detail
        if failure.will_retry:
            step.status = StepStatus.RETRYING
            step.attempt = failure.attempt + 1
        self.touch()

    async def set_status(
        self,
        status: TenantStatus,
        *,
        error: str | None = None,
        error_detail: str | None = None,
        new_attempt: bool = False,
        durable: bool = False,
        notification: NotificationRequest | None = None,
        also: Sequence[SearchAttributeUpdate[Any]] = (),
    ) -> None:
        """`durable`: a point of no return (the activation) is never a local activity. A local
        activity's write commits while the workflow task that ran it may still fail; the retried
        task can then take another branch (a cancel that arrived meanwhile) after the row already
        says Active. A normal activity is only scheduled once its task completed.
        `notification` (from `notification_for`) is recorded in the same transaction; `also`:
        search attributes upserted with the status, in one command."""
        change = StatusChange(
            self.tenant_id,
            status,
            error=error,
            new_attempt=new_attempt,
            error_detail=error_detail,
            notification=notification,
        )
        if self.local_writes and not durable:
            await workflow.execute_local_activity_method(
                ControlPlaneActivities.set_tenant_status,
                change,
                **local_options(policies.STATUS_UPDATE),
            )
        else:
            await workflow.execute_activity_method(
                ControlPlaneActivities.set_tenant_status,
                change,
                **options(policies.STATUS_UPDATE),
            )
        self.show_status(status, error, error_detail, also=also)

    def show_status(
        self,
        status: TenantStatus,
        error: str | None = None,
        error_detail: str | None = None,
        *,
        also: Sequence[SearchAttributeUpdate[Any]] = (),
    ) -> None:
        self.progress.status = status
        if error is not None:
            self.progress.error, self.progress.error_detail = error, error_detail
        workflow.upsert_search_attributes([TENANT_STATUS.value_set(status.value), *also])
        self.touch()

    async def record_failure(self, error: str) -> None:
        """Show Failed at once, then store it on the row (best effort: the run fails anyway).
        The technical detail kept with `error` is that of the step that failed the run."""
        detail = self._failure_detail
        self.show_status(TenantStatus.FAILED, error, detail)
        try:
            await self.set_status(TenantStatus.FAILED, error=error, error_detail=detail)
        except ActivityError:
            workflow.logger.exception("could not record the failure on the tenant row")

    async def notify(self, user_id: str | None, operation: str, type: str, message: str) -> None:
        """Notify `user_id` and the tenant's admins (nobody for public sign-up, whose admin
        gets the welcome e-mail); `operation` keys it against repeats."""
        request = self.notification_for(user_id, operation, type, message)
        if request is None:
            return
        try:
            if self.local_writes:
                await workflow.execute_local_activity_method(
                    ControlPlaneActivities.record_notification,
                    request,
                    **local_options(policies.STATUS_UPDATE),
                )
            else:
                await workflow.execute_activity_method(
                    ControlPlaneActivities.record_notification,
                    request,
                    **options(policies.STATUS_UPDATE),
                )
        except ActivityError:
            workflow.logger.exception("could not record the %s notification", type)

    def notification_for(
        self, user_id: str | None, operation: str, type: str, message: str
    ) -> NotificationRequest | None:
        """What `notify` records (None: nobody to tell), for a step that records it itself."""
        if not user_id:
            return None
        return NotificationRequest(
            key=f"{workflow.info().workflow_id}:{operation}:{type}",
            user_id=user_id,
            type=type,
            message=message,
            tenant_id=self.tenant_id,
            tenant_name=self.tenant_name,
        )

    def touch(self) -> None:
        self.progress.updated_at = workflow.now()
        self.progress.version += 1


class TrackedWorkflow:
    """The handlers every tenant workflow answers with its tracker: the progress query and the
    failed-attempt reports of its activities. Queries and signals add no commands: moving them
    here changes no history."""

    tracker: Tracker

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self.tracker.progress

    @workflow.signal(name=ATTEMPT_FAILED_SIGNAL)
    def attempt_failed(self, failure: AttemptFailure) -> None:
        self.tracker.attempt_failed(failure)


def _error_type(err: ActivityError) -> str:
    """A bounded name for what failed a step: the ApplicationError's type, else the class name
    (TimeoutError, CancelledError, ...)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return cause.type
    return type(cause or err).__name__
