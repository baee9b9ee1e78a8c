"""Helpers shared by the tests: a uvicorn server in a thread, tenant factories, waiting."""

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from core.database import create_oneshot_engine, with_database
from core.naming import quote_ident, storage_name
from core.settings import Settings
from core.status import TenantStatus

PASSWORD = "s3cret-pass"


def unique_tenant_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def tenant_body(tenant_id: str, *, isolated: bool = False, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": tenant_id,
        "name": f"Tenant {tenant_id}",
        "adminEmail": f"admin@{tenant_id}.example.com",
        "password": PASSWORD,
        "hasIsolatedDatabase": isolated,
    }
    body.update(overrides)
    return body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Run `app` on a real uvicorn in a thread (its own event loop); yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def wait_for_status(
    api: httpx.AsyncClient,
    tenant_id: str,
    statuses: set[TenantStatus],
    within: float = 30.0,
) -> dict[str, Any]:
    """Poll the tenant until its status is one of `statuses` (tests only; clients use SSE)."""
    deadline = time.monotonic() + within
    while True:
        response = await api.get(f"/api/tenants/{tenant_id}")
        assert response.status_code == 200, response.text
        tenant: dict[str, Any] = response.json()
        if tenant["status"] in statuses:
            return tenant
        if time.monotonic() > deadline:
            raise AssertionError(f"{tenant_id} still {tenant['status']} after {within}s")
        await asyncio.sleep(0.05)


async def occupy_database_name(settings: Settings, tenant_id: str) -> str:
    """Create, as a stranger would, a non-empty database under the tenant's future name."""
    taken = storage_name(settings.tenant_storage_prefix, tenant_id)
    assert settings.database_url
    server = create_oneshot_engine(
        with_database(settings.database_url, "postgres"), isolation_level="AUTOCOMMIT"
    )
    async with server.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {quote_ident(taken)}"))
    await server.dispose()
    stranger = create_oneshot_engine(with_database(settings.database_url, taken))
    async with stranger.begin() as conn:
        await conn.execute(text("CREATE TABLE someone_elses_data (id int)"))
    await stranger.dispose()
    return taken
