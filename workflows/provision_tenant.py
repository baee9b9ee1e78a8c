"""ProvisionTenant: admin user, database or schema, migrations, then Active.

Each step is one activity with its own policy (workflows/policies.py). Cancelled — from the API,
the Web UI or `temporal workflow cancel`, all the same — it compensates in reverse order what
its started steps created (the database or schema, the admin user) and ends Cancelled.
"""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.control_plane import ControlPlaneActivities
    from activities.email import EmailActivities
    from activities.models import (
        AdminUser,
        Migrated,
        TenantRef,
        TenantStorage,
        WelcomeEmail,
    )
    from activities.progress import describe_error
    from activities.tenant_storage import TenantStorageActivities
    from core.status import TenantStatus
    from workflows import policies, telemetry
    from workflows.models import (
        CANCEL_REQUESTED_BY_SIGNAL,
        TENANT_SCHEMA_REVISION,
        NotificationType,
        ProvisionTenantInput,
        ProvisionTenantResult,
        StepName,
        canceller,
    )
    from workflows.removal import delete_users, drop_storage
    from workflows.tracking import (
        CANCEL_WINS,
        UNCANCELLABLE_FINAL_STEP,
        TrackedWorkflow,
        Tracker,
        options,
    )

# workflow.patched() id: compensation removes everything the tenant owns (earlier runs' too).
COMPENSATE_ALL = "compensate-everything-the-tenant-owns"
FAST_PATH = "local-writes-and-parallel-first-steps"
# The activation as a normal activity again (a local one could commit Active from a workflow task
# that then failed, and the retried task take the cancel branch: compensation after Active).
DURABLE_ACTIVATION = "activation-as-a-normal-activity"
# The TenantSchemaRevision search attribute, set once the tenant is Active.
SCHEMA_REVISION_ATTRIBUTE = "tenant-schema-revision-attribute"
A = TypeVar("A")
B = TypeVar("B")
CANCELLATION_OUTCOMES = frozenset(
    {NotificationType.TENANT_CANCELLED, NotificationType.TENANT_CANCELLATION_FAILED}
)

# The schema is migrated as soon as the storage exists, while the admin user may still be made
# (it waits on Argon2): one activity round trip fewer on the way to Active.
PIPELINED_SCHEMA = "schema-migrated-once-storage-exists"
# One patch for all of the above, and then some, at the cost of one marker and one search-
# attribute upsert instead of a pair per patch: a run that records it takes every earlier
# patch's branch without recording theirs (Tracker.patched), moves the row to Provisioning in
# its admin user step instead of in its first workflow task, records the "ready" notification
# in the activation's transaction, and upserts the Active status and the schema revision in
# one command. Runs recorded before it replay through the individual patches.
LEAN = "provision-tenant-lean-2026-11"
IMPLIED_BY_LEAN = frozenset(
    {
        FAST_PATH,
        PIPELINED_SCHEMA,
        DURABLE_ACTIVATION,
        SCHEMA_REVISION_ATTRIBUTE,
        COMPENSATE_ALL,
        "notify-initiator",
        "welcome-email",
        CANCEL_WINS,
        UNCANCELLABLE_FINAL_STEP,
    }
)
PROVISION_STEPS = [
    StepName.CREATE_ADMIN_USER,
    StepName.CREATE_DATABASE,
    StepName.MIGRATE_DATABASE,
    StepName.ACTIVATE,
]


@workflow.defn(name="ProvisionTenant")
class ProvisionTenant(TrackedWorkflow):
    @workflow.init
    def __init__(self, input: ProvisionTenantInput) -> None:
        self.tracker = Tracker(input.tenant_id, input.name, "ProvisionTenant", PROVISION_STEPS)
        self._cancelled_by: str | None = None

    @workflow.run
    async def run(self, input: ProvisionTenantInput) -> ProvisionTenantResult:
        try:
            return await self._provision(input)
        except (ActivityError, asyncio.CancelledError) as err:
            if is_cancelled_exception(err):
                await self._compensate(input)
                raise
            assert isinstance(err, ActivityError)
            error = describe_error(err.cause or err)
            await self.tracker.record_failure(error)
            await self._notify(
                input,
                NotificationType.TENANT_CREATION_FAILED,
                f"Provisioning tenant '{input.name}' failed: {error}",
            )
            raise ApplicationError(
                error,
                self.tracker.progress,  # details: the final snapshot, for readers of the run
                type="ProvisioningFailed",
                non_retryable=True,
            ) from err

    async def _provision(self, input: ProvisionTenantInput) -> ProvisionTenantResult:
        ref, track = TenantRef(input.tenant_id), self.tracker
        lean = workflow.patched(LEAN)
        if lean:
            track.implied_patches = IMPLIED_BY_LEAN
        # Fewer round trips: status and notification writes run in the workflow's own task,
        # and the admin user and the storage (independent of each other) are made at once.
        fast = track.patched(FAST_PATH)
        track.local_writes = fast
        if lean:
            track.show_status(TenantStatus.PROVISIONING)  # the row: by the admin user step
        else:
            await track.set_status(TenantStatus.PROVISIONING, new_attempt=True)
        admin_ref = TenantRef(input.tenant_id, begins_attempt=lean)
        if fast and track.patched(PIPELINED_SCHEMA):
            admin, (storage, migrated) = await together(
                self._create_admin_user(admin_ref), self._storage_and_schema(ref)
            )
        else:
            if fast:
                admin, storage = await together(
                    self._create_admin_user(ref), self._create_storage(ref)
                )
            else:
                admin = await self._create_admin_user(ref)
                storage = await self._create_storage(ref)
            migrated = await self._migrate(ref)
        track.ignore_cancel_requests()  # too late to cancel: finish as Active
        durable = fast and track.patched(DURABLE_ACTIVATION)
        ready = f"Tenant '{input.name}' is ready"
        revision = TENANT_SCHEMA_REVISION.value_set(migrated.revision)
        if lean:
            notification = track.notification_for(
                input.initiated_by, input.operation_id, NotificationType.TENANT_CREATED.value, ready
            )
            await track.final_step(
                StepName.ACTIVATE,
                "set_tenant_status",
                lambda: track.set_status(
                    TenantStatus.ACTIVE, durable=True, notification=notification, also=[revision]
                ),
            )
        else:
            await track.final_step(
                StepName.ACTIVATE,
                "set_tenant_status",
                lambda: track.set_status(TenantStatus.ACTIVE, durable=durable),
            )
            if workflow.patched(SCHEMA_REVISION_ATTRIBUTE):
                workflow.upsert_search_attributes([revision])
        took = workflow.now() - workflow.info().workflow_start_time
        telemetry.provisioned(input.has_isolated_database, took)
        if input.send_welcome_email and track.patched("welcome-email"):
            await self._welcome(input)
        if not lean:
            await self._notify(input, NotificationType.TENANT_CREATED, ready)
        return ProvisionTenantResult(
            tenant_id=input.tenant_id,
            status=TenantStatus.ACTIVE,
            database=storage.database,
            schema=storage.schema,
            admin_user_id=admin.user_id,
            progress=track.progress,
        )

    async def _create_admin_user(self, ref: TenantRef) -> AdminUser:
        return await self.tracker.step(
            StepName.CREATE_ADMIN_USER,
            "create_admin_user",
            lambda: workflow.execute_activity_method(
                ControlPlaneActivities.create_admin_user,
                ref,
                **options(policies.CREATE_ADMIN_USER),
            ),
        )

    async def _create_storage(self, ref: TenantRef) -> TenantStorage:
        return await self.tracker.step(
            StepName.CREATE_DATABASE,
            "create_tenant_database",
            lambda: workflow.execute_activity_method(
                TenantStorageActivities.create_tenant_database,
                ref,
                **options(policies.CREATE_DATABASE),
            ),
        )

    async def _migrate(self, ref: TenantRef) -> Migrated:
        return await self.tracker.step(
            StepName.MIGRATE_DATABASE,
            "migrate_tenant_database",
            lambda: workflow.execute_activity_method(
                TenantStorageActivities.migrate_tenant_database,
                ref,
                **options(policies.MIGRATE_DATABASE),
            ),
        )

    async def _storage_and_schema(self, ref: TenantRef) -> tuple[TenantStorage, Migrated]:
        storage = await self._create_storage(ref)
        if storage.revision is not None:
            # A spare schema, at head and recorded: no migration activity (decided by the
            # step's result in history, so a replay decides the same).
            self.tracker.completed_without_activity(StepName.MIGRATE_DATABASE)
            return storage, Migrated(storage.revision)
        return storage, await self._migrate(ref)

    async def _welcome(self, input: ProvisionTenantInput) -> None:
        email = WelcomeEmail(input.tenant_id, input.name, input.admin_email)
        try:
            await self.tracker.step(
                StepName.SEND_WELCOME,
                "send_welcome_email",
                lambda: workflow.execute_activity_method(
                    EmailActivities.send_welcome_email, email, **options(policies.SEND_EMAIL)
                ),
            )
        except ActivityError:
            # The tenant works without the e-mail; the step shows the error to operators.
            workflow.logger.exception("welcome e-mail to %s failed", input.admin_email)

    async def _compensate(self, input: ProvisionTenantInput) -> None:
        """Undo, newest first, what the tenant owns; then Cancelled (or Failed).

        Everything the tenant owns, not only what this run's started steps made: an earlier,
        failed run may have left its database and admin user. Removal is idempotent and checks
        the ownership marker; a provisioning run only ever starts for a tenant that was never
        Active (a failed update is retried as an update), so there is no data to keep."""
        track, ref = self.tracker, TenantRef(input.tenant_id)
        started = {s.name for s in track.progress.steps if s.started_at is not None}
        if track.patched(COMPENSATE_ALL):
            started |= {StepName.CREATE_DATABASE, StepName.CREATE_ADMIN_USER}
        track.ignore_cancel_requests()
        track.cancel_pending()
        try:
            if StepName.CREATE_DATABASE in started:
                await drop_storage(track, ref)
            if StepName.CREATE_ADMIN_USER in started:
                await delete_users(track, ref)
            await track.set_status(
                TenantStatus.CANCELLED, error="Provisioning was cancelled; nothing was kept"
            )
        except ActivityError as err:
            error = f"Cancelled, but cleaning up failed: {describe_error(err.cause or err)}"
            await track.record_failure(error)
            telemetry.compensated("ProvisionTenant", "failed")
            await self._notify(input, NotificationType.TENANT_CANCELLATION_FAILED, error)
            return
        telemetry.compensated("ProvisionTenant", "cleaned")
        await self._notify(
            input,
            NotificationType.TENANT_CANCELLED,
            f"Provisioning of tenant '{input.name}' was cancelled",
        )

    async def _notify(self, input: ProvisionTenantInput, type: NotificationType, text: str) -> None:
        # Runs recorded before notifications existed did not send one: keep replaying them.
        if not self.tracker.patched("notify-initiator"):
            return
        user = input.initiated_by
        if type in CANCELLATION_OUTCOMES:
            # Whoever asked to cancel hears how it went; a cancel that came too late (the run
            # finished Active) leaves the outcome with the user who started the run.
            by = canceller(workflow.cancellation_reason()) or self._cancelled_by
            user = by or user
        await self.tracker.notify(user, input.operation_id, type.value, text)

    @workflow.signal(name=CANCEL_REQUESTED_BY_SIGNAL)
    def cancel_requested_by(self, user_id: str) -> None:
        """Sent by API versions that did not put the user in the cancel reason."""
        self._cancelled_by = user_id


async def together(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both at once. Each is awaited to its end before anything else happens (no compensation
    may race a step still creating what it removes); a cancel wins over a failure, a failure
    over success."""
    one, two = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in (one, two):
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome
    if isinstance(one, BaseException):
        raise one
    if isinstance(two, BaseException):
        raise two
    return one, two
