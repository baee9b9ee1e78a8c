"""Engines of the worker's storage activities, created once per database and reused.

A fresh engine costs a connection and the dialect's start-up queries (~40 ms measured, against
~4 ms for a pooled connection): four of them sat on every tenant's critical path. Pooled here:
the server's maintenance database (CREATE/DROP DATABASE), the shared tenants database(s), and
the control-plane connections that wait on migration locks (a pool of their own, so waiting
never takes the connections other activities need). An isolated tenant's own database is used
once or twice in its life: a connection of its own, closed after use.
"""

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database import create_engine, create_oneshot_engine, with_database

MAINTENANCE_DATABASE = "postgres"


class Engines:
    def __init__(self, control_plane: AsyncEngine) -> None:
        self.control_plane = control_plane
        self._pooled: dict[tuple[str, str], AsyncEngine] = {}

    def url(self, database: str) -> URL:
        return with_database(self.control_plane.url, database)

    def _get(self, database: str, purpose: str, **kwargs: object) -> AsyncEngine:
        key = (database, purpose)
        engine = self._pooled.get(key)
        if engine is None:
            engine = create_engine(self.url(database), pool_size=2, max_overflow=8, **kwargs)
            self._pooled[key] = engine
        return engine

    def server(self) -> AsyncEngine:
        """AUTOCOMMIT, on the maintenance database: CREATE/DROP DATABASE cannot run in a
        transaction."""
        return self._get(MAINTENANCE_DATABASE, "server", isolation_level="AUTOCOMMIT")

    def shared(self, database: str) -> AsyncEngine:
        """A shared tenants database (one schema per tenant)."""
        return self._get(database, "shared")

    def locks(self) -> AsyncEngine:
        """AUTOCOMMIT control-plane connections for session-level advisory locks."""
        assert self.control_plane.url.database
        return self._get(self.control_plane.url.database, "locks", isolation_level="AUTOCOMMIT")

    @contextlib.asynccontextmanager
    async def database(self, database: str, *, shared: bool) -> AsyncIterator[AsyncEngine]:
        if shared:
            yield self.shared(database)
            return
        engine = create_oneshot_engine(self.url(database))
        try:
            yield engine
        finally:
            await engine.dispose()

    async def dispose(self) -> None:
        engines, self._pooled = list(self._pooled.values()), {}
        for engine in engines:
            await engine.dispose()
