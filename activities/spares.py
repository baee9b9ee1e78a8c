"""Spare schemas: empty tenant schemas already at the newest revision, kept in each shared
tenants database for new shared tenants to take.

A new shared tenant's storage step renames a spare to the tenant's schema name and marks it as
the tenant's (a catalog update: under a millisecond idle), where it would create an empty schema
for the migration step to fill with the whole DDL batch (~10 ms idle, 25-50 ms on a busy 2-core
machine, on the way to Active). The migration step then finds the schema at head and has nothing
left to do; every later migration sees an ordinary tenant schema, with Alembic's version table.

A spare is made by the same rendered batch as a fresh schema (`core/tenant_ddl.py`), in one
transaction, in the background of the worker that took one (one worker at a time per database,
by a session advisory lock), up to `SPARE_SCHEMAS` of them. Spares carry the revision they were
made at in their comment: only those at the worker's head are taken, older ones (a new tenant
revision was deployed) are dropped and made again. With none ready, a tenant's schema is made
the ordinary way: spares only move work off the path to Active, they are never required.
"""

import asyncio
import contextlib
import logging
import uuid

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from activities._engines import Engines
from activities._postgres import comment_on
from core.naming import quote_ident
from core.tenant_ddl import fresh_schema_sql, run_batch

log = logging.getLogger(__name__)

# '$' never appears in a tenant's storage name (core/naming.py), so no tenant can own this name.
SPARE_PREFIX = "tf$spare_"
_SPARES = text(
    "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace "
    "WHERE starts_with(nspname, :prefix)"
)
# Another worker taking the same spare at the same moment holds its lock: skip to the next one.
_READY_SPARE = text(
    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :prefix) "
    "AND obj_description(oid, 'pg_namespace') = :marker "
    "AND pg_try_advisory_xact_lock(hashtext('spare:' || nspname)) LIMIT 1"
)


_SPARE_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('spare:' || :n))")


def spare_marker(revision: str) -> str:
    return f"tenantflow-spare:{revision}"


async def take_spare(conn: AsyncConnection, name: str, revision: str) -> bool:
    """In the caller's transaction: rename a spare at `revision` to `name` (the caller marks it
    as the tenant's in the same transaction). False when none is ready."""
    spare = await conn.scalar(
        _READY_SPARE, {"prefix": SPARE_PREFIX, "marker": spare_marker(revision)}
    )
    if spare is None:
        return False
    try:
        async with conn.begin_nested():
            await conn.execute(
                text(f"ALTER SCHEMA {quote_ident(spare)} RENAME TO {quote_ident(name)}")
            )
    except DBAPIError:
        # Renamed by a transaction that committed after this one read the catalog.
        log.info("spare schema %s was taken meanwhile", spare)
        return False
    return True


class SparePool:
    """Keeps `target` spares in each shared tenants database this worker creates tenants in."""

    def __init__(self, engines: Engines, target: int) -> None:
        self.engines = engines
        self.target = target
        self._filling: dict[str, asyncio.Task[None]] = {}

    def top_up(self, database: str) -> None:
        """Make spares in the background until `database` has `target` of them (no-op while a
        top-up of it runs here)."""
        if self.target <= 0 or database in self._filling:
            return
        task = asyncio.create_task(self._top_up(database), name=f"spare schemas of {database}")
        self._filling[database] = task
        task.add_done_callback(lambda _: self._filling.pop(database, None))

    async def _top_up(self, database: str) -> None:
        key = f"spares:{database}"
        try:
            async with self.engines.locks().connect() as lock_conn:
                got = await lock_conn.scalar(
                    text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": key}
                )
                if not got:
                    return  # another worker is at it
                try:
                    while await self._make_one(database):
                        pass
                finally:
                    await lock_conn.execute(
                        text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key}
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            # Never fatal: without spares, schemas are made the ordinary way. Tried again when
            # the next tenant takes (or finds no) spare.
            log.exception("could not make spare schemas in %s", database)

    async def _make_one(self, database: str) -> bool:
        """Drop spares of another revision, make one if fewer than `target` are ready; whether it
        made one."""
        head, sql = await fresh_schema_sql()
        engine = self.engines.shared(database)
        async with engine.begin() as conn:
            spares = (await conn.execute(_SPARES, {"prefix": SPARE_PREFIX})).all()
            ready = sum(comment == spare_marker(head) for _, comment in spares)
            for name, comment in spares:
                # Under the lock a taker holds, so a spare being renamed is left alone.
                if comment != spare_marker(head) and await conn.scalar(_SPARE_LOCK, {"n": name}):
                    await conn.execute(text(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE"))
        if ready >= self.target:
            return False
        name = f"{SPARE_PREFIX}{uuid.uuid4().hex[:16]}"
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {quote_ident(name)}"))
            await run_batch(conn, name, sql)
            await comment_on(conn, "SCHEMA", name, spare_marker(head))
        return True

    async def close(self) -> None:
        tasks, self._filling = list(self._filling.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
