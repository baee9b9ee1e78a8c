"""Connections to the control-plane server: URL handling and engines."""

from typing import Any

from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.naming import quote_ident

_DRIVERS = {"postgres", "postgresql", "postgresql+asyncpg"}


def async_url(url: str | URL) -> URL:
    """Accept `postgresql://`, `postgres://` and `postgresql+asyncpg://`; use asyncpg."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername not in _DRIVERS:
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, not {parsed.drivername!r}")
    return parsed.set(drivername="postgresql+asyncpg")


def with_database(url: str | URL, database: str) -> URL:
    return async_url(url).set(database=database)


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    # hide_parameters: driver errors must not carry bound values (a password hash) into
    # logs, workflow history or the progress shown to users.
    return create_async_engine(async_url(url), pool_pre_ping=True, hide_parameters=True, **kwargs)


def create_oneshot_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An engine without a pool, for a few statements against one database."""
    return create_async_engine(async_url(url), poolclass=NullPool, hide_parameters=True, **kwargs)


DUPLICATE_DATABASE = "42P04"


async def create_database(conn: AsyncConnection, name: str) -> bool:
    """CREATE DATABASE `name` on an AUTOCOMMIT connection. False if it exists already (made
    meanwhile by another process: the duplicate-database error is not a failure)."""
    try:
        await conn.execute(text(f"CREATE DATABASE {quote_ident(name)}"))
    except Exception as err:
        if sqlstate(err) == DUPLICATE_DATABASE:
            return False
        raise
    return True


async def create_database_unless_exists(conn: AsyncConnection, name: str) -> bool:
    """On an AUTOCOMMIT connection to the server: True if this call created `name`."""
    found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    return found is None and await create_database(conn, name)


async def ensure_database(server_url: str | URL, name: str) -> bool:
    """Create database `name` on the server unless it exists. True if this call created it."""
    engine = create_oneshot_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            return await create_database_unless_exists(conn, name)
    finally:
        await engine.dispose()


def sqlstate(err: BaseException) -> str | None:
    """The SQLSTATE of a driver error, wrapped by SQLAlchemy or raw (asyncpg's own, from a
    driver-level call), if there is one."""
    state = getattr(getattr(err, "orig", None), "sqlstate", None) or getattr(err, "sqlstate", None)
    return str(state) if state else None


def server_message(err: BaseException) -> str:
    """What PostgreSQL itself said (message, then detail and hint), without the driver's class
    names: 'relation "labels" already exists'."""
    driver_error = getattr(getattr(err, "orig", None), "__cause__", None) or err
    parts = [getattr(driver_error, "message", None) or str(driver_error)]
    parts += [getattr(driver_error, key, None) for key in ("detail", "hint")]
    return "; ".join(str(part).rstrip(".") for part in parts if part)


def redacted(url: str | URL) -> str:
    return async_url(url).render_as_string(hide_password=True)
