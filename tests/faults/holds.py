"""Keep a provisioning step running while a test injects its fault, with PostgreSQL locks."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import text

from core.database import create_oneshot_engine
from core.settings import Settings
from tests.helpers import step_held, tenant_body, wait_for_step

ACTIVATE = "activate_tenant"
STEPS = ["create_admin_user", "create_tenant_database", "migrate_tenant_database", ACTIVATE]


@contextlib.asynccontextmanager
async def row_locked(settings: Settings, tenant_id: str) -> AsyncIterator[int]:
    """Hold the tenant's control-plane row: the activation, which updates it, waits. Yields the
    holding session's pid."""
    assert settings.database_url
    engine = create_oneshot_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(
                text("SELECT 1 FROM tenants WHERE id = :t FOR UPDATE"), {"t": tenant_id}
            )
            try:
                yield int(await conn.scalar(text("SELECT pg_backend_pid()")) or 0)
            finally:
                await conn.rollback()
    finally:
        await engine.dispose()


async def wait_until_blocked_by(settings: Settings, holder: int) -> None:
    """Until another session waits for a lock that session `holder` holds. (Status writes are
    local activities: a query waits for them, so the progress cannot tell that one runs.)"""
    assert settings.database_url
    engine = create_oneshot_engine(settings.database_url)
    sql = text("SELECT count(*) FROM pg_stat_activity WHERE :p = ANY(pg_blocking_pids(pid))")
    try:
        async with engine.connect() as conn, asyncio.timeout(30):
            while not await conn.scalar(sql, {"p": holder}):
                await conn.rollback()
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def start_held(
    held: contextlib.AsyncExitStack,
    api: httpx.AsyncClient,
    settings: Settings,
    tenant_id: str,
    step: str,
    *,
    isolated: bool = False,
) -> None:
    """Create the tenant and return once `step` is running; it stays held until `held` closes."""
    first = "migrate_tenant_database" if step == ACTIVATE else step
    before = contextlib.AsyncExitStack()
    await before.enter_async_context(step_held(settings, tenant_id, first, isolated=isolated))
    response = await api.post("/api/tenants", json=tenant_body(tenant_id, isolated=isolated))
    assert response.status_code == 202, response.text
    await wait_for_step(api, tenant_id, first, "running")
    if step == ACTIVATE:
        # The row exists and earlier status writes are done: lock it, then let migrations end.
        holder = await held.enter_async_context(row_locked(settings, tenant_id))
        await before.aclose()
        await wait_until_blocked_by(settings, holder)
    else:
        held.push_async_exit(before)
