"""Activities on a tenant's own storage: its database or schema, and its Alembic migrations."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._engines import Engines
from activities._heartbeat import heartbeating
from activities._postgres import (
    advisory_lock,
    create_owned_database,
    create_owned_schema,
    drop_owned_database,
    drop_owned_schema,
)
from activities.errors import MIGRATION_FAILED, TENANT_MISCONFIGURED, TENANT_NOT_FOUND
from activities.models import Migrated, Removed, TenantRef, TenantStorage
from activities.progress import AttemptReporter, reports_failed_attempts
from activities.spares import SparePool, take_spare
from activities.translate import DATABASE_ERROR, for_operator
from core import lifecycle
from core.database import create_database_unless_exists, sqlstate
from core.migrate import alembic_turn, upgrade
from core.models import Tenant
from core.naming import ownership_marker
from core.schema import record_revision
from core.tenant_ddl import fresh_schema_sql, upgrade_fresh


@dataclass(frozen=True)
class Placement:
    isolated: bool
    database: str
    schema: str

    @property
    def migration_key(self) -> str:
        """The advisory lock serialising migrations of this storage across workers."""
        return f"migrate:{self.database}:{self.schema}"


class TenantStorageActivities:
    def __init__(
        self, control_plane: AsyncEngine, reporter: AttemptReporter, spare_schemas: int = 0
    ) -> None:
        self.control_plane = control_plane
        self.reporter = reporter
        self.engines = Engines(control_plane)
        # Shared tenants databases known to exist (checked once per process, not per tenant).
        self._databases: set[str] = set()
        self.spares = SparePool(self.engines, spare_schemas)

    async def close(self) -> None:
        await self.spares.close()
        await self.engines.dispose()

    @activity.defn(name="create_tenant_database")
    @reports_failed_attempts
    async def create_tenant_database(self, ref: TenantRef) -> TenantStorage:
        """Create the tenant's database (isolated) or its schema in the shared database."""
        placement = await self.placement(ref.tenant_id)
        marker = ownership_marker(ref.tenant_id)
        async with heartbeating():
            return await self._create(ref.tenant_id, placement, marker)

    async def _create(self, tenant_id: str, placement: Placement, marker: str) -> TenantStorage:
        server = self.engines.server()
        if placement.isolated:
            created = await create_owned_database(server, placement.database, marker)
        else:
            if placement.database not in self._databases:
                async with server.connect() as conn:
                    await create_database_unless_exists(conn, placement.database)
                self._databases.add(placement.database)
            # Rendered once per process, and only when there are spares to take.
            head = (await fresh_schema_sql())[0] if self.spares.target > 0 else ""
            taken: list[str] = []

            async def take(conn: AsyncConnection, name: str) -> bool:
                if head and await take_spare(conn, name, head):
                    taken.append(head)
                return bool(taken)

            try:
                created = await create_owned_schema(
                    self.engines.shared(placement.database), placement.schema, marker, take
                )
            except Exception as err:
                if sqlstate(err) == INVALID_CATALOG_NAME:  # dropped since: create it next time
                    self._databases.discard(placement.database)
                raise
            self.spares.top_up(placement.database)  # the one taken, or the first ones
            if taken:
                # At head already: the revision is the migration step's to record, which the
                # workflow skips for this storage.
                async with self.control_plane.begin() as conn:
                    await record_revision(conn, tenant_id, head)
                return TenantStorage(placement.database, placement.schema, created, head)
        return TenantStorage(placement.database, placement.schema, created)

    @activity.defn(name="drop_tenant_database")
    @reports_failed_attempts
    async def drop_tenant_database(self, ref: TenantRef) -> Removed:
        """Drop the tenant's database or schema, if it is there and marked as the tenant's."""
        placement = await self.placement(ref.tenant_id)
        marker = ownership_marker(ref.tenant_id)
        async with heartbeating():
            if placement.isolated:
                dropped = await drop_owned_database(
                    self.engines.server(), placement.database, marker
                )
            else:
                dropped = await drop_owned_schema(
                    self.engines.shared(placement.database), placement.schema, marker
                )
        async with self.control_plane.begin() as conn:
            await record_revision(conn, ref.tenant_id, None)  # no storage, no revision
        return Removed(dropped, int(dropped))

    @activity.defn(name="migrate_tenant_database")
    @reports_failed_attempts
    async def migrate_tenant_database(self, ref: TenantRef) -> Migrated:
        """Bring the tenant's schema to the newest Alembic revision (a no-op when it is there)."""
        placement = await self.placement(ref.tenant_id)
        # One migration per tenant at a time across workers, coordinated in the control plane
        # (the tenant's database may be brand new) on a connection of its own: this process's
        # Alembic turn is taken first, and no pooled connection waits for either lock.
        rendered = await fresh_schema_sql()  # once per process; before any connection is held
        async with heartbeating():
            try:
                async with self.migrating(placement) as conn:
                    found = await upgrade_fresh(conn, placement.schema, rendered)
                revision = rendered[0]
                # At an older revision: Alembic, one upgrade at a time. A spare schema (or a
                # step run again) is at head already.
                if found is not None and found != revision:
                    async with alembic_turn(), self.migrating(placement) as conn:
                        revision = await upgrade(conn, "tenant", placement.schema, turn_held=True)
            except Exception as err:
                permanent = is_permanent_sql_error(err)  # MIGRATION_FAILED is never retried
                translated = for_operator(
                    err,
                    "migrate the tenant's schema",
                    type=MIGRATION_FAILED if permanent else DATABASE_ERROR,
                    non_retryable=permanent,
                )
                if translated is not None:
                    raise translated from err
                raise
        async with self.control_plane.begin() as conn:
            await record_revision(conn, ref.tenant_id, revision)
        return Migrated(revision)

    @contextlib.asynccontextmanager
    async def migrating(self, placement: Placement) -> AsyncIterator[AsyncConnection]:
        """A transaction on the tenant's database, while this worker holds the tenant's
        migration lock (taken on a control-plane connection outside the worker's pool)."""
        async with (
            self.engines.locks().connect() as lock_conn,
            advisory_lock(lock_conn, placement.migration_key),
            self.engines.database(placement.database, shared=not placement.isolated) as engine,
            engine.begin() as conn,
        ):
            yield conn

    async def placement(self, tenant_id: str) -> Placement:
        async with self.control_plane.begin() as conn:
            # The API starts the run inside the transaction that creates (or revives) the row,
            # and this may be the run's first step to read it.
            await lifecycle.wait_for_creation(conn, tenant_id)
            row = (
                await conn.execute(
                    select(
                        Tenant.has_isolated_database, Tenant.database_name, Tenant.schema_name
                    ).where(Tenant.id == tenant_id)
                )
            ).first()
        if row is None:
            raise ApplicationError(
                f"tenant {tenant_id} not found", type=TENANT_NOT_FOUND, non_retryable=True
            )
        if not row.database_name or not row.schema_name:
            raise ApplicationError(
                f"tenant {tenant_id} has no storage assigned",
                type=TENANT_MISCONFIGURED,
                non_retryable=True,
            )
        return Placement(row.has_isolated_database, row.database_name, row.schema_name)


INVALID_CATALOG_NAME = "3D000"  # the database does not exist

# SQLSTATE classes of a statement the server rejects for good (a broken migration), unlike a
# lost connection (08), a shutdown (57) or a serialisation failure (40), which retries can fix.
_PERMANENT_SQLSTATE_CLASSES = frozenset({"0A", "22", "23", "2B", "42"})


def is_permanent_sql_error(err: Exception) -> bool:
    state = sqlstate(err)
    return state is not None and state[:2] in _PERMANENT_SQLSTATE_CLASSES
