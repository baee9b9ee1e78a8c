"""Helpers of the schema-migration tests: run MigrateTenant on its own, and look at a tenant's
storage in PostgreSQL itself (its `alembic_version` and the objects each revision makes)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.client import Client, WorkflowHandle

from core.database import create_oneshot_engine, with_database
from core.migrate import current_revision
from core.naming import quote_ident
from core.settings import Settings
from workflows.migrate_tenant import MigrateTenant, migrate_tenant_workflow_id
from workflows.models import MigrateTenantInput, MigrateTenantResult, tenant_search_attributes


@dataclass(frozen=True)
class StoredSchema:
    revision: str | None
    tables: frozenset[str]
    task_columns: frozenset[str]
    indexes: frozenset[str]


@asynccontextmanager
async def tenant_storage(
    settings: Settings, tenant: dict[str, Any]
) -> AsyncIterator[tuple[AsyncConnection, str]]:
    """A connection to the tenant's database (in a transaction, rolled back) and its schema."""
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, tenant["database"]))
    try:
        async with engine.connect() as conn:
            yield conn, tenant["schema"]
    finally:
        await engine.dispose()


async def stored_schema(settings: Settings, tenant: dict[str, Any]) -> StoredSchema:
    async with tenant_storage(settings, tenant) as (conn, schema):
        revision = await current_revision(conn, schema)
        tables = await conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        )
        columns = await conn.scalars(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = :s AND table_name = 'tasks'"
            ),
            {"s": schema},
        )
        indexes = await conn.scalars(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = :s"), {"s": schema}
        )
        stored = StoredSchema(revision, frozenset(tables), frozenset(columns), frozenset(indexes))
        await conn.rollback()
    return stored


def at_t0003(stored: StoredSchema) -> bool:
    """Every object of revision t0003 is there (and its version row)."""
    return (
        stored.revision == "t0003"
        and {"labels", "task_labels"} <= stored.tables
        and "priority" in stored.task_columns
        and "ix_tasks_assignee_id_done" in stored.indexes
    )


def at_t0002(stored: StoredSchema) -> bool:
    """At t0002, with nothing of t0003 left (none half-made either)."""
    return (
        stored.revision == "t0002"
        and {"members", "projects", "tasks"} <= stored.tables
        and not {"labels", "task_labels"} & stored.tables
        and "priority" not in stored.task_columns
        and "ix_tasks_assignee_id_done" not in stored.indexes
    )


async def execute_in_storage(settings: Settings, tenant: dict[str, Any], sql: str) -> None:
    """Run `sql` in the tenant's schema, as an operator with psql would (committed)."""
    async with tenant_storage(settings, tenant) as (conn, schema):
        await conn.execute(text(f"SET search_path TO {quote_ident(schema)}"))
        await conn.execute(text(sql))
        await conn.commit()


async def start_migration(
    client: Client, settings: Settings, tenant_id: str, target: str, rollout_id: str | None = None
) -> WorkflowHandle[Any, MigrateTenantResult]:
    """Start MigrateTenant on its own, as a rollout starts it as a child."""
    rollout_id = rollout_id or uuid.uuid4().hex[:8]
    return await client.start_workflow(
        MigrateTenant.run,
        MigrateTenantInput(tenant_id, target, rollout_id),
        id=migrate_tenant_workflow_id(tenant_id, rollout_id),
        task_queue=settings.temporal_task_queue,
        search_attributes=tenant_search_attributes(tenant_id, None),
    )


async def migrate(
    client: Client, settings: Settings, tenant_id: str, target: str
) -> MigrateTenantResult:
    handle = await start_migration(client, settings, tenant_id, target)
    return await handle.result()
