"""Helpers shared by the tests: a uvicorn server in a thread, tenant factories, waiting."""

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI
from httpx_sse import aconnect_sse
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.database import create_oneshot_engine, with_database
from core.naming import quote_ident, storage_name
from core.settings import Settings
from core.status import TenantStatus

PASSWORD = "s3cret-pass"

T = TypeVar("T")


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
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
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


async def until_value(condition: Callable[[], Awaitable[T]], within: float = 30.0) -> T:
    """Await `condition()` until it returns something truthy; return that."""
    async with asyncio.timeout(within):
        while True:
            if value := await condition():
                return value
            await asyncio.sleep(0.05)


async def until_value_sync(condition: Callable[[], T], within: float = 30.0) -> T:
    """`until_value` for a plain function (state another thread or task changes)."""

    async def check() -> T:
        return condition()

    return await until_value(check, within)


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


@dataclass(frozen=True)
class Account:
    tenant_id: str
    email: str
    user_id: str
    token: str


async def tenant_admin_account(
    api: httpx.AsyncClient, api_url: str, control_plane: AsyncEngine, prefix: str
) -> Account:
    """The admin of a fresh tenant, signed in (no stream open yet), with its user id."""
    # tests.conftest imports this module: importing it at the top would be circular.
    from tests.conftest import token_for

    tenant_id = unique_tenant_id(prefix)
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    token = await token_for(api_url, tenant["adminEmail"], PASSWORD, tenant=tenant_id)
    async with control_plane.connect() as conn:
        user_id = await conn.scalar(
            text("SELECT id::text FROM users WHERE tenant_id = :t"), {"t": tenant_id}
        )
    return Account(tenant_id, tenant["adminEmail"], str(user_id), token)


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


async def poll_database(
    url: str | URL,
    query: str,
    done: Callable[[Any], bool],
    params: dict[str, Any] | None = None,
    *,
    within: float = 30.0,
    every: float = 0.05,
) -> None:
    """Until `done` holds for the value `query` returns, read on a connection of its own to
    `url`, each read in a new transaction (so it sees what other sessions did meanwhile)."""
    engine = create_oneshot_engine(url)
    try:
        async with asyncio.timeout(within), engine.connect() as conn:
            while not done(await conn.scalar(text(query), params or {})):
                await conn.rollback()
                await asyncio.sleep(every)
    finally:
        await engine.dispose()


async def drop_database(settings: Settings, name: str) -> None:
    """What an operator does to free the name: drop the stranger's database."""
    assert settings.database_url
    server = create_oneshot_engine(
        with_database(settings.database_url, "postgres"), isolation_level="AUTOCOMMIT"
    )
    async with server.connect() as conn:
        await conn.execute(text(f"DROP DATABASE {quote_ident(name)} WITH (FORCE)"))
    await server.dispose()


@asynccontextmanager
async def step_held(
    settings: Settings, tenant_id: str, step: str, *, isolated: bool = False
) -> AsyncIterator[None]:
    """Keep `step` of the tenant's provisioning running until the block exits, by holding the
    lock the step's activity needs (so tests can act while a step is surely in progress)."""
    assert settings.database_url
    name = storage_name(settings.tenant_storage_prefix, tenant_id)
    if step == "create_admin_user":
        database, sql = _database_name(settings.database_url), "LOCK TABLE users IN SHARE MODE"
    elif step == "create_tenant_database":
        database = "postgres" if isolated else settings.tenants_database
        key = f"database:{name}" if isolated else name
        sql = f"SELECT pg_advisory_lock(hashtext('{key}'))"
    elif step == "migrate_tenant_database":
        placement = f"{name}:public" if isolated else f"{settings.tenants_database}:{name}"
        database = _database_name(settings.database_url)
        sql = f"SELECT pg_advisory_lock(hashtext('migrate:{placement}'))"
    else:
        raise ValueError(step)
    engine = create_oneshot_engine(with_database(settings.database_url, database))
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
            if not sql.startswith("LOCK"):
                await conn.commit()  # advisory locks are held by the session, not the transaction
            try:
                yield
            finally:
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock_all()"))
    finally:
        await engine.dispose()


def _database_name(url: str) -> str:
    return make_url(url).database or "postgres"


async def wait_for_step(api: httpx.AsyncClient, tenant_id: str, step: str, status: str) -> None:
    async with asyncio.timeout(30):
        while True:
            progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
            if any(s["name"] == step and s["status"] == status for s in progress["steps"]):
                return
            await asyncio.sleep(0.05)


class Listener:
    """One open `/api/notifications` stream (a browser tab), collecting what it receives."""

    def __init__(self, base_url: str, token: str, last_event_id: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self._client = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.connected = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async with aconnect_sse(self._client, "GET", "/api/notifications") as source:
            assert source.response.status_code == 200
            self.connected.set()
            async for event in source.aiter_sse():
                if (
                    not event.data
                ):  # a keep-alive comment (httpx-sse dispatches it; EventSource not)
                    continue
                assert event.event == "notification"
                self.received.append((event.id, json.loads(event.data)))

    def about(self, tenant_id: str) -> list[dict[str, Any]]:
        return [body for _, body in self.received if body["tenantId"] == tenant_id]

    async def wait_for(
        self, tenant_id: str, type: str | None = None, within: float = 30.0
    ) -> dict[str, Any]:
        def found() -> list[dict[str, Any]]:
            return [b for b in self.about(tenant_id) if type is None or b["type"] == type]

        async with asyncio.timeout(within):
            while not found():
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.05)
        return found()[0]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()


async def listen(base_url: str, token: str, last_event_id: str | None = None) -> Listener:
    listener = Listener(base_url, token, last_event_id)
    async with asyncio.timeout(10):
        await listener.connected.wait()
    return listener


async def listed_runs(client: Client, query: str, expected: int, within: float = 10.0) -> list[str]:
    """Workflow ids a visibility query returns once it shows `expected` runs (visibility is
    eventually consistent: a run's latest search attributes may take a moment to show)."""
    async with asyncio.timeout(within):
        while True:
            ids = [run.id async for run in client.list_workflows(query)]
            if len(ids) >= expected:
                return ids
            await asyncio.sleep(0.1)


def sealing_env(settings: Settings) -> dict[str, str]:
    """PASSWORD_SEALING_KEY for a component process: the API that seals a new admin's password
    and the worker that unseals it need the same key."""
    key = settings.password_sealing_key
    return {} if key is None else {"PASSWORD_SEALING_KEY": key.get_secret_value()}


@asynccontextmanager
async def template_held(settings: Settings) -> AsyncIterator[None]:
    """A session connected to template1: CREATE DATABASE then fails after PostgreSQL's 5 s wait
    ("source database template1 is being accessed by other users"), attempt after attempt."""
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, "template1"))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            yield
    finally:
        await engine.dispose()
