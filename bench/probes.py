"""Reading the stack from outside the API: Temporal's query counter, a held migration step."""

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from sqlalchemy import make_url, text

from core.database import create_oneshot_engine, with_database
from core.naming import storage_name
from core.settings import Settings

# The dev server publishes its metrics once a second: a count read less than this long after a
# request may not include it yet.
METRICS_LAG_SECONDS = 1.2

# The frontend's request counter of the QueryWorkflow RPC (one line per namespace).
_QUERY_REQUESTS = re.compile(
    r'^service_requests\{(?=[^}]*operation="QueryWorkflow")(?=[^}]*service_name="frontend")'
    r"[^}]*\}\s+(\S+)$",
    re.MULTILINE,
)


async def query_requests(client: httpx.AsyncClient, metrics_url: str) -> float:
    """QueryWorkflow requests the Temporal frontend has served so far (all callers)."""
    response = await client.get(metrics_url)
    response.raise_for_status()
    return sum(float(value) for value in _QUERY_REQUESTS.findall(response.text))


@asynccontextmanager
async def migrations_held(settings: Settings, tenant_id: str) -> AsyncIterator[None]:
    """Keep a shared-schema tenant's `migrate_tenant_database` step running until exit: the
    activity waits for this advisory lock, so the workflow is open and does not change. The
    lock is taken in the control-plane database (where the activity takes it) and in the
    tenants database (where earlier versions took it)."""
    assert settings.database_url
    key = f"migrate:{settings.tenants_database}:"
    key += storage_name(settings.tenant_storage_prefix, tenant_id)
    control_plane = make_url(settings.database_url).database or "postgres"
    async with AsyncExitStack() as stack:
        for database in (control_plane, settings.tenants_database):
            engine = create_oneshot_engine(with_database(settings.database_url, database))
            stack.push_async_callback(engine.dispose)
            conn = await stack.enter_async_context(engine.connect())
            await conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": key})
            await conn.commit()  # advisory locks belong to the session, not the transaction
        yield


async def wait_for_step(
    api: httpx.AsyncClient, tenant_id: str, step: str, status: str, within: float = 30.0
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await api.get(f"/api/tenants/{tenant_id}/progress")
        if response.status_code == 200 and any(
            s["name"] == step and s["status"] == status for s in response.json()["steps"]
        ):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{tenant_id}: {step} not {status} within {within:.0f}s")
