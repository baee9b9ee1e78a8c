"""Helpers of the browser tests: the API serving the SPA in a restartable thread, and ways to
hold a tenant's provisioning at a step or make it fail."""

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import TracebackType

import uvicorn
from fastapi import FastAPI
from sqlalchemy import make_url, text

import api
from api.main import create_app
from core.database import create_oneshot_engine, with_database
from core.naming import quote_ident, storage_name
from core.settings import Settings
from tests.helpers import free_port

STATIC_DIR = Path(api.__file__).parent / "static"


def spa_app(settings: Settings) -> FastAPI:
    """The API app, which serves the SPA at `/`."""
    return create_app(settings)


class ThreadServer:
    """uvicorn in a thread on a fixed port: `stop()` then `start()` is an API restart, with a
    fresh app (new lifespan, new hubs), at the same address the browser already uses."""

    def __init__(self, make_app: Callable[[], FastAPI]) -> None:
        self._make_app = make_app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, within: float = 30.0) -> None:
        assert self._server is None, "already running"
        deadline = time.monotonic() + within
        while True:
            # SSE streams never finish by themselves: cut them 1 s into a shutdown.
            config = uvicorn.Config(
                self._make_app(),
                host="127.0.0.1",
                port=self.port,
                log_level="critical",
                timeout_graceful_shutdown=1,
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True, name=f"api:{self.port}")
            thread.start()
            while not server.started and thread.is_alive():
                time.sleep(0.02)
            if server.started:
                self._server, self._thread = server, thread
                return
            # The port may still be held by the previous server for a moment.
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.2)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None, "not running"
        self._server.should_exit = True
        self._thread.join(timeout=20)
        assert not self._thread.is_alive(), "uvicorn did not stop"
        self._server = self._thread = None

    def __enter__(self) -> "ThreadServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self.stop()


@asynccontextmanager
async def migrations_held(settings: Settings, tenant_id: str) -> AsyncIterator[None]:
    """Hold the migration step of a shared-schema tenant until exit, with the advisory lock the
    step takes (in the control-plane database; also in the tenants database, where it was)."""
    assert settings.database_url
    key = f"migrate:{settings.tenants_database}:"
    key += storage_name(settings.tenant_storage_prefix, tenant_id)
    async with AsyncExitStack() as stack:
        for database in (make_url(settings.database_url).database, settings.tenants_database):
            assert database
            engine = create_oneshot_engine(with_database(settings.database_url, database))
            stack.push_async_callback(engine.dispose)
            conn = await stack.enter_async_context(engine.connect())
            await conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": key})
            await conn.commit()
        yield


async def drop_database(settings: Settings, name: str) -> None:
    assert settings.database_url
    server = create_oneshot_engine(
        with_database(settings.database_url, "postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with server.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)"))
    finally:
        await server.dispose()
