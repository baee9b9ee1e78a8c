"""MigrateTenant: one tenant's schema to one revision, up or down (a fleet rollout's child).

Begin (the row Active -> Migrating, or skipped with the reason), migrate (one transaction),
finish (Active again, with the revision its storage is at and the migration's error). A failed
migration is an outcome, not a failure of the run: the tenant stays Active at its old revision
with the error on its row, and the run returns "failed" for the rollout to count.

Cancelled (the rollout's cancel, the Web UI, the CLI): a migration under way is asked to stop
and its transaction rolls back whole (or has committed whole); the row is then put back to
Active at the revision its storage holds, and the run ends Cancelled — or returns "migrated"
when the migration had committed first (the cancel came too late).
"""

import asyncio
import dataclasses
from typing import NamedTuple

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.errors import TENANT_BUSY
    from activities.progress import describe_error
    from activities.schema_migrations import (
        MigrationBegin,
        MigrationEnd,
        MigrationEnded,
        MigrationStart,
        MigrationStep,
        SchemaMigrated,
        SchemaMigrationActivities,
    )
    from core.status import TenantStatus
    from workflows import policies
    from workflows.models import (
        TENANT_ID,
        TENANT_SCHEMA_REVISION,
        MigrateTenantInput,
        MigrateTenantResult,
        MigrationOutcome,
        StepName,
    )
    from workflows.tracking import TrackedWorkflow, Tracker, options

Outcome = MigrationOutcome


def migrate_tenant_workflow_id(tenant_id: str, rollout_id: str) -> str:
    return f"migrate-tenant-{tenant_id}-{rollout_id}"


@workflow.defn(name="MigrateTenant")
class MigrateTenant(TrackedWorkflow):
    @workflow.init
    def __init__(self, input: MigrateTenantInput) -> None:
        steps = [StepName.MIGRATE_SCHEMA, StepName.ACTIVATE]
        self.tracker = Tracker(input.tenant_id, input.tenant_id, "MigrateTenant", steps)
        self.tracker.progress.status = TenantStatus.MIGRATING

    @workflow.run
    async def run(self, input: MigrateTenantInput) -> MigrateTenantResult:
        track = self.tracker
        self._show(TENANT_ID, input.tenant_id)  # started without it (by hand, from the CLI)
        start: MigrationStart | None = None
        migrated: SchemaMigrated | None = None
        error: str | None = None
        cancelled = False
        try:
            start = begun = await workflow.execute_activity_method(
                SchemaMigrationActivities.begin_tenant_migration,
                MigrationBegin(input.tenant_id, input.target_revision),
                **options(policies.BEGIN_MIGRATION),
            )
            if begun.skipped is not None:
                return self._skipped(input, begun.skipped, begun.from_revision, begun.status)
            track.show_status(TenantStatus.MIGRATING)
            self._show(TENANT_SCHEMA_REVISION, begun.from_revision)
            step = MigrationStep(input.tenant_id, input.target_revision, begun.from_revision)
            migrated = await track.step(
                StepName.MIGRATE_SCHEMA,
                "migrate_tenant_schema",
                lambda: workflow.execute_activity_method(
                    SchemaMigrationActivities.migrate_tenant_schema,
                    step,
                    **options(policies.MIGRATE_DATABASE),
                ),
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                cancelled = True
            elif start is None and _type(err) == TENANT_BUSY:
                # Left as it was, like a skipped tenant, but reported failed: the rollout lists
                # it with its reason and /retry takes it up again (only the result differs).
                reason = f"{describe_error(err.cause or err)} (gave up waiting)"
                left = self._skipped(input, reason, None, TenantStatus.UPDATING)
                return dataclasses.replace(left, outcome=Outcome.FAILED)
            else:
                error = describe_error(err.cause or err)
        except asyncio.CancelledError:
            cancelled = True
        # From here on nothing stops the run: the row goes back to Active whatever happened.
        track.ignore_cancel_requests()
        track.cancel_pending()
        ended = await self._finish(input, migrated, error)
        error = error or ended.error
        revision = ended.revision
        began = start.from_revision if start else None
        at_target = revision == input.target_revision
        # Cancelled: unless its migration had committed already (the cancel came too late).
        if cancelled and not (start is not None and at_target and began != revision):
            raise asyncio.CancelledError("cancel requested")
        if error is not None or not at_target:
            outcome = Outcome.FAILED
            error = error or f"the tenant's schema is at {revision}, not {input.target_revision}"
        elif migrated is not None and migrated.from_revision == migrated.revision:
            outcome, error = Outcome.SKIPPED, f"already at {revision}"
        else:
            outcome = Outcome.MIGRATED
        from_revision = migrated.from_revision if migrated else began
        return MigrateTenantResult(
            input.tenant_id, outcome, from_revision, revision, error, track.progress
        )

    async def _finish(
        self, input: MigrateTenantInput, migrated: SchemaMigrated | None, error: str | None
    ) -> "_Ended":
        """The row back to Active (if this run holds it); the revision the tenant is at."""
        track = self.tracker
        end = MigrationEnd(input.tenant_id, migrated.revision if migrated else None, error)
        try:
            ended: MigrationEnded = await track.final_step(
                StepName.ACTIVATE,
                "finish_tenant_migration",
                lambda: workflow.execute_activity_method(
                    SchemaMigrationActivities.finish_tenant_migration,
                    end,
                    **options(policies.FINISH_MIGRATION),
                ),
            )
        except ActivityError as err:
            # The row stays Migrating behind this closed run: the API's sweep settles it.
            failure = f"could not record the outcome: {describe_error(err.cause or err)}"
            track.progress.error = failure
            return _Ended(migrated.revision if migrated else None, failure)
        if ended.recorded:
            track.show_status(TenantStatus.ACTIVE, error)
        self._show(TENANT_SCHEMA_REVISION, ended.revision)
        return _Ended(ended.revision, None)

    def _skipped(
        self, input: MigrateTenantInput, reason: str, revision: str | None, status: str | None
    ) -> MigrateTenantResult:
        """Left as it was. `status`: the row's, shown as the run's TenantStatus (a tenant's
        newest run says what the tenant is; a skipped migration is no exception)."""
        track = self.tracker
        track.cancel_pending()
        if status is not None:
            track.show_status(TenantStatus(status), reason)
        else:
            track.progress.error = reason
            track.touch()
        return MigrateTenantResult(
            input.tenant_id, Outcome.SKIPPED, revision, revision, reason, track.progress
        )

    def _show(self, key: SearchAttributeKey[str], value: str | None) -> None:
        """Set a search attribute, unless the run already has that value (set at its start)."""
        if value is not None and workflow.info().typed_search_attributes.get(key) != value:
            workflow.upsert_search_attributes([key.value_set(value)])


class _Ended(NamedTuple):
    revision: str | None
    # Set when the outcome could not be recorded.
    error: str | None


def _type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None
