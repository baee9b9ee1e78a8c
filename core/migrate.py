"""Alembic, in-process, on a connection we own (the Alembic cookbook's connection sharing).

Alembic keeps `context` and `op` as module globals, so two upgrades interleaved on one event
loop would trample each other: every upgrade in this process takes `_alembic_lock`.
"""

import asyncio
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.naming import quote_ident

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
Environment = Literal["controlplane", "tenant"]

_alembic_lock = asyncio.Lock()


def alembic_config(environment: Environment, schema: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / environment))
    if schema is not None:
        cfg.attributes["schema"] = schema
    return cfg


def head_revision(environment: Environment) -> str:
    head = ScriptDirectory.from_config(alembic_config(environment)).get_current_head()
    assert head is not None, f"the {environment} environment has no revisions"
    return head


async def upgrade(
    conn: AsyncConnection, environment: Environment, schema: str | None = None
) -> str:
    """Upgrade to head on `conn` (in a transaction the caller commits); return the revision."""
    cfg = alembic_config(environment, schema)

    def _run(sync_conn: Connection) -> str:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")
        revision = current_revision_sync(sync_conn, schema)
        assert revision is not None
        return revision

    async with _alembic_lock:
        return await conn.run_sync(_run)


async def current_revision(conn: AsyncConnection, schema: str | None = None) -> str | None:
    return await conn.run_sync(current_revision_sync, schema)


def current_revision_sync(conn: Connection, schema: str | None = None) -> str | None:
    if schema is not None:
        conn.execute(text(f"SET LOCAL search_path TO {quote_ident(schema)}"))
    ctx = MigrationContext.configure(conn, opts={"version_table_schema": schema})
    return ctx.get_current_revision()
