"""The one-batch path for a fresh tenant schema builds exactly what Alembic's online upgrade
builds, version table included, so later revisions apply to it unchanged."""

import uuid
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.migrate import (
    alembic_config,
    alembic_turn,
    current_revision_sync,
    head_revision,
    upgrade,
)
from core.naming import quote_ident
from core.schema import is_downgrade
from core.tenant_ddl import fresh_schema_sql, migration_sql, run_batch, upgrade_fresh

pytestmark = pytest.mark.integration

CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,
               column_default
        FROM information_schema.columns WHERE table_schema = :s ORDER BY 1, 2""",
    "constraints": """
        SELECT t.relname, c.contype, replace(pg_get_constraintdef(c.oid), :s, 'SCHEMA')
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = :s ORDER BY 1, 2, 3""",
    "indexes": """
        SELECT tablename, replace(indexdef, :s, 'SCHEMA') FROM pg_indexes
        WHERE schemaname = :s ORDER BY 1, 2""",
}


async def catalog(conn: AsyncConnection, schema: str) -> dict[str, list[Any]]:
    found = {
        k: [tuple(r) for r in await conn.execute(text(q), {"s": schema})]
        for k, q in CATALOG.items()
    }
    found["version"] = list(
        (
            await conn.execute(
                text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version")
            )
        ).scalars()
    )
    return found


async def test_fresh_schema_in_one_batch_matches_the_online_upgrade(
    tenants_db: AsyncEngine,
) -> None:
    online, batch = (f"ddl_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("online", "batch"))
    rendered = await fresh_schema_sql()
    async with tenants_db.begin() as conn:
        for schema in (online, batch):
            await conn.execute(text(f"CREATE SCHEMA {quote_ident(schema)}"))
    async with tenants_db.begin() as conn:
        assert await upgrade(conn, "tenant", online) == head_revision("tenant")
    async with tenants_db.begin() as conn:
        assert await upgrade_fresh(conn, batch, rendered) is None
    async with tenants_db.connect() as conn:
        expected, got = await catalog(conn, online), await catalog(conn, batch)
    assert got == expected
    assert got["version"] == [head_revision("tenant")]
    assert len(got["columns"]) > 10

    # Alembic sees the batch-made schema at head; the batch path leaves it alone.
    async with tenants_db.begin() as conn:
        assert await upgrade(conn, "tenant", batch) == head_revision("tenant")
        assert await upgrade_fresh(conn, batch, rendered) == head_revision("tenant")


async def _alembic_to(conn: AsyncConnection, schema: str, revision: str) -> None:
    """Alembic's own online upgrade or downgrade of `schema` to `revision`."""

    def run(sync_conn: Connection) -> None:
        cfg = alembic_config("tenant", schema)
        cfg.attributes["connection"] = sync_conn
        current = current_revision_sync(sync_conn, schema)
        move = command.downgrade if is_downgrade(current, revision) else command.upgrade
        move(cfg, revision)

    async with alembic_turn():
        await conn.run_sync(run)


@pytest.mark.parametrize(("start", "target"), [("t0002", "t0003"), ("t0003", "t0002")])
async def test_each_step_as_a_batch_matches_alembic_online(
    tenants_db: AsyncEngine, start: str, target: str
) -> None:
    """A fleet migration's batch (core/tenant_ddl.py) builds what Alembic builds online, up and
    down; the revision after the batch is the target."""
    online, batch = (f"step_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("online", "batch"))
    async with tenants_db.begin() as conn:
        for schema in (online, batch):
            await conn.execute(text(f"CREATE SCHEMA {quote_ident(schema)}"))
    async with tenants_db.begin() as conn:
        await _alembic_to(conn, online, start)
        await run_batch(conn, batch, await migration_sql(None, start))
    async with tenants_db.connect() as conn:
        assert await catalog(conn, online) == await catalog(conn, batch)

    async with tenants_db.begin() as conn:
        await _alembic_to(conn, online, target)
        await run_batch(conn, batch, await migration_sql(start, target))
    async with tenants_db.connect() as conn:
        expected, got = await catalog(conn, online), await catalog(conn, batch)
    assert got == expected
    assert got["version"] == [target]
