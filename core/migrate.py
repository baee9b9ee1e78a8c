"""Alembic, in-process, on a connection we own (the Alembic cookbook's connection sharing).

Alembic keeps `context` and `op` as module globals, so two upgrades interleaved on one event
loop would trample each other: every upgrade in this process holds `alembic_turn()`. Callers that
need connections for an upgrade take their turn *first*: waiting for the turn must never hold a
pooled connection (fifteen queued migrations would empty the pool for everything else).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
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
_waiting = 0


def waiting_for_turn() -> int:
    """How many upgrades in this process are queued behind the one that runs."""
    return _waiting


@contextlib.asynccontextmanager
async def alembic_turn() -> AsyncIterator[None]:
    """This process's one Alembic run at a time; `upgrade` inside it must say `turn_held`."""
    global _waiting
    _waiting += 1
    try:
        await _alembic_lock.acquire()
    finally:
        _waiting -= 1
    try:
        yield
    finally:
        _alembic_lock.release()


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
    conn: AsyncConnection,
    environment: Environment,
    schema: str | None = None,
    *,
    turn_held: bool = False,
) -> str:
    """Upgrade to head on `conn` (in a transaction the caller commits); return the revision.
    Takes this process's Alembic turn unless the caller holds it (`turn_held`)."""
    cfg = alembic_config(environment, schema)

    def _run(sync_conn: Connection) -> str:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")
        revision = current_revision_sync(sync_conn, schema)
        assert revision is not None
        return revision

    if turn_held:
        assert _alembic_lock.locked(), "turn_held without alembic_turn()"
        return await conn.run_sync(_run)
    async with _alembic_lock:
        return await conn.run_sync(_run)


async def current_revision(conn: AsyncConnection, schema: str | None = None) -> str | None:
    return await conn.run_sync(current_revision_sync, schema)


def current_revision_sync(conn: Connection, schema: str | None = None) -> str | None:
    if schema is not None:
        conn.execute(text(f"SET LOCAL search_path TO {quote_ident(schema)}"))
    ctx = MigrationContext.configure(conn, opts={"version_table_schema": schema})
    return ctx.get_current_revision()
