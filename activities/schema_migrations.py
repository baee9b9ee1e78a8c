"""Activities of one tenant's schema migration (MigrateTenant): begin, migrate, finish.

`begin_tenant_migration` moves the row Active -> Migrating under the run's workflow id (through
core/lifecycle.py, conditional on its status) or says why the tenant is skipped; from then on an
edit, delete, cancel or retry of the tenant gets the lifecycle's 409. `migrate_tenant_schema`
takes the tenant's storage from the revision it is at to the target, up or down, in ONE
transaction, under the tenant's migration lock: committed whole or rolled back whole, never in
between. `finish_tenant_migration` puts the row back to Active with the revision its storage is
at and the migration's error (if any).

A listing of the tenants to migrate, a keyset page at a time, is `core.schema.migration_candidates`
(the rollout's own activity calls it).
"""

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._heartbeat import heartbeating
from activities._postgres import LOCK_TIMEOUT
from activities.errors import (
    ILLEGAL_TRANSITION,
    MIGRATION_FAILED,
    TENANT_BUSY,
    TENANT_NOT_FOUND,
)
from activities.progress import AttemptReporter, reports_failed_attempts
from activities.tenant_storage import Placement, TenantStorageActivities, is_permanent_sql_error
from activities.translate import for_operator, reason, technical_detail
from core import lifecycle
from core.database import server_message
from core.lifecycle import Operation
from core.migrate import current_revision
from core.models import Tenant
from core.schema import record_revision, tenant_revisions
from core.status import TenantStatus
from core.tenant_ddl import migration_sql, run_batch

S = TenantStatus


@dataclass(frozen=True)
class MigrationBegin:
    tenant_id: str
    target_revision: str


@dataclass(frozen=True)
class MigrationStart:
    """`skipped` set: the row was left as it is (in `status`), and why. Else it is Migrating
    under the run, `from_revision` what the row said (None: unknown)."""

    tenant_id: str
    skipped: str | None = None
    from_revision: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class MigrationStep:
    tenant_id: str
    target_revision: str
    # Where the row says the storage is (a guess: what the storage holds decides).
    expected_revision: str | None = None


@dataclass(frozen=True)
class SchemaMigrated:
    from_revision: str | None
    revision: str


@dataclass(frozen=True)
class MigrationEnd:
    tenant_id: str
    # Where the storage is, if the workflow knows (its migration step returned it); None: read.
    revision: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class MigrationEnded:
    """The revision the tenant is at; `recorded`: this call moved the row back to Active (False:
    it was not Migrating under this run: never begun, or finished before)."""

    revision: str | None
    recorded: bool


class SchemaMigrationActivities:
    def __init__(
        self,
        control_plane: AsyncEngine,
        reporter: AttemptReporter,
        storage: TenantStorageActivities,
    ) -> None:
        self.control_plane = control_plane
        self.reporter = reporter
        # Its engines (pools per database) and the tenant's placement and migration lock.
        self.storage = storage

    @activity.defn(name="begin_tenant_migration")
    @reports_failed_attempts
    async def begin_tenant_migration(self, begin: MigrationBegin) -> MigrationStart:
        """The row to Migrating for this run, or why the tenant is skipped."""
        workflow_id = activity.info().workflow_id
        async with AsyncSession(self.control_plane, expire_on_commit=False) as session:
            tenant = await session.get(Tenant, begin.tenant_id)
            if tenant is None:
                return MigrationStart(begin.tenant_id, skipped="no such tenant")
            known = tenant.schema_revision
            if tenant.status == S.MIGRATING and tenant.workflow_id == workflow_id:
                return MigrationStart(tenant.id, from_revision=known)  # begun by an attempt before
            if tenant.database_name is None:
                return MigrationStart(tenant.id, "it has no tenant schema", None, tenant.status)
            if tenant.status not in (S.DELETED, S.DELETING, S.MIGRATING):
                if known == begin.target_revision:
                    return MigrationStart(tenant.id, f"already at {known}", known, tenant.status)
            if tenant.status == S.UPDATING:
                # Back to Active in a moment: wait (the policy retries), rather than skip it.
                raise ApplicationError(
                    f"Tenant '{tenant.id}' is Updating: its migration waits for the update",
                    type=TENANT_BUSY,
                )
            try:
                await lifecycle.begin(
                    session, tenant, Operation.MIGRATE, S.MIGRATING, workflow_id=workflow_id
                )
            except lifecycle.WrongStatus as err:
                return MigrationStart(tenant.id, str(err), known, tenant.status)
            await session.commit()
        return MigrationStart(tenant.id, from_revision=known)

    @activity.defn(name="migrate_tenant_schema")
    @reports_failed_attempts
    async def migrate_tenant_schema(self, step: MigrationStep) -> SchemaMigrated:
        """Take the tenant's schema to `target_revision` (up or down) in one transaction; a
        no-op when it is there. Idempotent: what the storage holds decides, under its lock."""
        placement = await self.storage.placement(step.tenant_id)
        expected, target = step.expected_revision, step.target_revision
        async with heartbeating():
            # The SQL for a pair is rendered before any connection is held (it may wait for this
            # process's Alembic turn); a storage found elsewhere than expected costs one more
            # pass, rendering for where it is.
            for _ in range(3):
                # A revision this code does not know (the row's or the storage's) cannot be
                # rendered: say so, for good, rather than retry the renderer's error.
                _check_known(step.tenant_id, expected)
                sql = None if expected == target else await migration_sql(expected, target)
                found = await self._migrate(step.tenant_id, placement, expected, target, sql)
                if found is None:
                    return SchemaMigrated(expected, target)
                if found == target:
                    return SchemaMigrated(found, found)
                expected = found
        raise ApplicationError(f"The schema revision of tenant '{step.tenant_id}' kept changing")

    async def _migrate(
        self,
        tenant_id: str,
        placement: Placement,
        expected: str | None,
        target: str,
        sql: str | None,
    ) -> str | None:
        """Run `sql` if the storage is at `expected` (None returned: migrated); else the
        revision found (nothing done)."""
        try:
            async with self.storage.migrating(placement) as conn:
                # A tenant's session holding a lock the DDL needs: give up and retry later,
                # rather than queue every query of the tenant behind the migration.
                await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                found = await current_revision(conn, placement.schema)
                if found != expected or sql is None:
                    return found
                await run_batch(conn, placement.schema, sql)
                return None
        except Exception as err:
            raise _failure(err, tenant_id, expected, target) from err

    @activity.defn(name="finish_tenant_migration")
    @reports_failed_attempts
    async def finish_tenant_migration(self, end: MigrationEnd) -> MigrationEnded:
        """Back to Active, with the revision the storage is at and the migration's error."""
        workflow_id = activity.info().workflow_id
        async with self.control_plane.connect() as conn:
            row = (
                await conn.execute(
                    select(Tenant.status, Tenant.workflow_id, Tenant.schema_revision).where(
                        Tenant.id == end.tenant_id
                    )
                )
            ).first()
        if row is None:
            raise ApplicationError(
                f"tenant {end.tenant_id} not found", type=TENANT_NOT_FOUND, non_retryable=True
            )
        if row.status != S.MIGRATING or row.workflow_id != workflow_id:
            return MigrationEnded(row.schema_revision, recorded=False)
        revision = end.revision
        if revision is None:  # no control-plane connection is held while the storage is read
            revision = await self._stored_revision(await self.storage.placement(end.tenant_id))
        try:
            async with self.control_plane.begin() as conn:
                await lifecycle.record(conn, end.tenant_id, S.ACTIVE, workflow_id=workflow_id)
                await record_revision(conn, end.tenant_id, revision, end.error)
        except lifecycle.IllegalTransition as err:
            raise ApplicationError(str(err), type=ILLEGAL_TRANSITION, non_retryable=True) from err
        return MigrationEnded(revision, recorded=True)

    async def _stored_revision(self, placement: Placement) -> str | None:
        engines = self.storage.engines
        async with (
            engines.database(placement.database, shared=not placement.isolated) as engine,
            engine.begin() as conn,
        ):
            return await current_revision(conn, placement.schema)


def _check_known(tenant_id: str, found: str | None) -> None:
    if found is not None and found not in {r.id for r in tenant_revisions()[1]}:
        raise ApplicationError(
            f"The schema of tenant '{tenant_id}' is at {found}, a revision this version of "
            "Tenantflow does not know: migrate it with the version that made it",
            type=MIGRATION_FAILED,
            non_retryable=True,
        )


def _failure(err: Exception, tenant_id: str, start: str | None, target: str) -> Exception:
    """A sentence for the operator. A statement PostgreSQL refused (a conflicting object, ...)
    fails for good, with what it said; connection trouble or a lock timeout is retried."""
    if isinstance(err, ApplicationError):
        return err
    moving = f"from {start or 'an empty schema'} to {target}"
    if is_permanent_sql_error(err):
        return ApplicationError(
            f"Migrating tenant '{tenant_id}' {moving} failed: PostgreSQL refused it because "
            f"{reason(err)} ({server_message(err)}). Nothing was changed: its transaction was "
            "rolled back. Repair the tenant's schema, then retry it.",
            technical_detail(err),
            type=MIGRATION_FAILED,
            non_retryable=True,
        )
    return for_operator(err, f"migrate tenant '{tenant_id}' {moving}") or err
