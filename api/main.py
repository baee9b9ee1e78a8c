"""The application factory; clients and engines are built in the lifespan, never at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.errors import install_error_handlers
from api.routes import auth, health, tenants
from core.database import create_engine
from core.settings import Settings, get_settings
from core.temporal import connect


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    if settings.jwt_secret is None:
        raise RuntimeError("JWT_SECRET is not set")
    database_url = settings.database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url)
        app.state.settings = settings
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        app.state.temporal = await connect(settings)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Tenantflow",
        summary="Durable, observable tenant provisioning on Temporal.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(tenants.router)
    return app
