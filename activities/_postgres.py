"""Create tenant databases and schemas idempotently, marked as ours with a comment.

A database or schema that exists without our marker belongs to someone else: we fail for good
rather than adopt it (and later drop it). CREATE DATABASE cannot share a transaction with
COMMENT, so an unmarked database that is still empty is taken to be ours, left by a crash
between the two statements.
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import URL, Row, String, literal, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.errors import STORAGE_NAME_TAKEN
from activities.translate import for_operator, technical_detail
from core.database import create_database, create_oneshot_engine, sqlstate
from core.naming import quote_ident


def _quote_literal(value: str) -> str:
    # COMMENT ON takes no bind parameters: render the literal with the dialect's own quoting.
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(
        literal(value, String).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    )


def _taken(kind: str, name: str) -> ApplicationError:
    return ApplicationError(
        f"{kind} {name} already exists and does not belong to this tenant",
        type=STORAGE_NAME_TAKEN,
        non_retryable=True,
    )


async def create_owned_database(server: AsyncEngine, name: str, marker: str) -> bool:
    """Ensure database `name` exists and carries `marker`. True if this call created it.
    `server`: an AUTOCOMMIT engine on the server's maintenance database."""
    async with server.connect() as conn, advisory_lock(conn, f"database:{name}"):
        for _ in range(2):
            found = await _marker(conn, _DATABASE_MARKER, name)
            if found is not None:
                if found[0] == marker:
                    return False
                if found[0] is None and await _database_is_empty(server.url.set(database=name)):
                    await comment_on(conn, "DATABASE", name, marker)
                    return False
                raise _taken("database", name)
            if not await _create_database(conn, name):
                continue  # created concurrently: look again
            await comment_on(conn, "DATABASE", name, marker)
            return True
    raise _taken("database", name)


async def create_owned_schema(
    database: AsyncEngine,
    name: str,
    marker: str,
    take_spare: Callable[[AsyncConnection, str], Awaitable[bool]] | None = None,
) -> bool:
    """Ensure schema `name` exists in `database` with `marker`. True if this call created it
    (or renamed a spare to it, when `take_spare` finds one: activities/spares.py)."""
    async with database.begin() as conn:
        # Serialise concurrent attempts on this schema for the length of the transaction.
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": name})
        found = await _marker(conn, _SCHEMA_MARKER, name)
        if found is not None:
            if found[0] == marker:
                return False
            raise _taken("schema", name)
        if take_spare is None or not await take_spare(conn, name):
            await conn.execute(text(f"CREATE SCHEMA {quote_ident(name)}"))
        await comment_on(conn, "SCHEMA", name, marker)
        return True


OBJECT_IN_USE = "55006"


async def _create_database(conn: AsyncConnection, name: str) -> bool:
    try:
        return await create_database(conn, name)
    except Exception as err:
        # CREATE DATABASE copies template1, which must have no other session connected.
        translated = for_operator(err, "copy the template database")
        if sqlstate(err) == OBJECT_IN_USE and translated is not None:
            raise translated from err
        raise


async def comment_on(conn: AsyncConnection, kind: str, name: str, marker: str) -> None:
    await conn.execute(text(f"COMMENT ON {kind} {quote_ident(name)} IS {_quote_literal(marker)}"))


async def _database_is_empty(database: URL) -> bool:
    engine = create_oneshot_engine(database)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
                    " AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p')"
                )
            )
        return bool(count == 0)
    finally:
        await engine.dispose()


async def drop_owned_database(server: AsyncEngine, name: str, marker: str) -> bool:
    """Drop database `name` if it carries `marker`. True if this call dropped it."""
    async with server.connect() as conn, advisory_lock(conn, f"database:{name}"):
        found = await _marker(conn, _DATABASE_MARKER, name)
        if found is None:
            return False
        if found[0] != marker:
            raise _taken("database", name)
        await conn.execute(text(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)"))
        return True


async def drop_owned_schema(database: AsyncEngine, name: str, marker: str) -> bool:
    """Drop schema `name` (and everything in it) if it carries `marker`."""
    async with database.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": name})
        found = await _marker(conn, _SCHEMA_MARKER, name)
        if found is None:
            return False
        if found[0] != marker:
            raise _taken("schema", name)
        await conn.execute(text(f"DROP SCHEMA {quote_ident(name)} CASCADE"))
        return True


# How long a step waits for another worker's work on the same tenant before the attempt fails
# (and is retried by its policy) instead of waiting forever behind a stuck session.
LOCK_TIMEOUT = "30s"
LOCK_NOT_AVAILABLE = "55P03"


@contextlib.asynccontextmanager
async def advisory_lock(conn: AsyncConnection, key: str) -> AsyncIterator[None]:
    """Serialise work on `key` across workers, for as long as the block runs (a session-level
    lock: CREATE/DROP DATABASE cannot run in a transaction). Waits at most LOCK_TIMEOUT."""
    await conn.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
    try:
        await conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": key})
    except Exception as err:
        if sqlstate(err) == LOCK_NOT_AVAILABLE:
            raise ApplicationError(
                f"Another session has been working on {key.split(':', 1)[-1]} for over "
                f"{LOCK_TIMEOUT}; will try again",
                technical_detail(err),
            ) from err
        raise
    finally:
        await conn.execute(text("RESET lock_timeout"))
    try:
        yield
    finally:
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})
        except BaseException:
            # A session lock must never go back to a pool still held: close the connection.
            await conn.invalidate()
            raise


_DATABASE_MARKER = (
    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"
)
_SCHEMA_MARKER = (
    "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :name"
)


async def _marker(conn: AsyncConnection, lookup: str, name: str) -> Row[Any] | None:
    """None if the object does not exist, else a row holding its comment (our marker, or not)."""
    return (await conn.execute(text(lookup), {"name": name})).first()
