"""The application factory; clients and engines are built in the lifespan, never at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import async_sessionmaker
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import logs
from api.docs import install_docs
from api.edge import BodyLimit, NoControlCharacters
from api.errors import install_error_handlers
from api.login import SignIns
from api.metrics import ApiMetrics, HttpMetrics, QueryCounter
from api.notification_hub import NotificationHub
from api.notification_mail import emailing
from api.openapi import document_errors
from api.ops import FailedSteps
from api.progress_hub import ProgressHub
from api.routes import (
    auth,
    bulk,
    events,
    health,
    me,
    metrics,
    migrations,
    notifications,
    operations,
    ops,
    runs,
    schema,
    signup,
    tenants,
)
from api.stream_end import CompleteStreamsOnShutdown
from api.sweeper import sweeping
from core import tracing
from core.database import create_engine
from core.settings import Settings, get_settings
from core.temporal import connect

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    if settings.jwt_secret is None:
        raise RuntimeError("JWT_SECRET is not set")
    database_url = settings.database_url
    api_metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        counter = QueryCounter()
        # Tracing (OTEL_EXPORTER_OTLP_ENDPOINT set): a workflow's start is traced from its request.
        temporal = await connect(settings, interceptors=[counter, *tracing.setup("tenantflow-api")])
        progress = ProgressHub(temporal, sessions)
        notifications = NotificationHub(
            engine,
            sessions,
            timedelta(hours=settings.notification_retention_hours),
            on_first_sending=api_metrics.sent_notification,
        )
        await notifications.start()
        sign_ins = SignIns(settings, api_metrics)
        api_metrics.watch(progress, lambda: notifications.listener_pid is not None)
        app.state.settings = settings
        app.state.sessions = sessions
        app.state.temporal = temporal
        app.state.query_counter = counter
        app.state.progress_hub = progress
        app.state.notification_hub = notifications
        app.state.sign_ins = sign_ins
        app.state.failed_steps = FailedSteps()
        try:
            async with (
                sweeping(sessions, temporal, settings.reconcile_interval_seconds),
                emailing(sessions, settings) as mailer,
            ):
                app.state.notification_mailer = mailer
                yield
        finally:
            sign_ins.close()
            await progress.close()
            await notifications.close()
            await engine.dispose()

    app = FastAPI(
        title="Tenantflow",
        summary="Durable, observable tenant provisioning on Temporal.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # Added last runs first: the body limit before anything reads or authenticates.
    if settings.trusted_proxies:
        # Only then is X-Forwarded-For believed (right-most untrusted entry); `python -m api`
        # turns uvicorn's own handling (which trusts 127.0.0.1) off.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.add_middleware(CompleteStreamsOnShutdown)
    app.add_middleware(NoControlCharacters)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpMetrics, metrics=api_metrics)  # outermost: sees every answer
    app.state.metrics = api_metrics
    install_docs(app)
    logs.install()
    # bulk before tenants: /api/tenants/bulk/… is not a tenant's path.
    routers = (
        health,
        metrics,
        auth,
        bulk,
        tenants,
        operations,
        ops,
        runs,
        events,
        migrations,
        schema,
        signup,
        notifications,
        me,
    )
    for module in routers:
        app.include_router(document_errors(module.router))
    # The browser app; mounted last so /api, /docs and /health keep their routes.
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="spa")
    return app
