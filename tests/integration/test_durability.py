"""The workflow survives a worker killed mid-step: another worker picks the run up and finishes."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio.client import Client

from api.operations import Operations
from api.schemas import TenantCreate
from core.database import create_oneshot_engine
from core.naming import storage_name
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import PASSWORD, sealing_env, step_held, unique_tenant_id, wait_for_status
from workflows.provision_tenant import ProvisionTenant
from workflows.worker import build_worker

pytestmark = pytest.mark.integration


@contextmanager
def worker_process(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m workflows.worker`, as an operator runs it, on the test's servers."""
    assert settings.database_url
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        **sealing_env(settings),
    }
    process = subprocess.Popen([sys.executable, "-m", "workflows.worker"], env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)


async def wait_for_lock_waiter(settings: Settings, key: str) -> None:
    """Until a session waits for advisory lock `key` (held by the test): the step's activity is
    running inside the step, on the only worker there is. (The workflow's own snapshot says
    "running" as soon as it schedules the activity, before any worker has started it.)"""
    assert settings.database_url
    engine = create_oneshot_engine(settings.database_url)
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND ((classid::bigint << 32) | objid::bigint) = hashtext(:key)::bigint"
    )
    try:
        async with asyncio.timeout(90), engine.connect() as conn:  # a worker process starting
            while not await conn.scalar(waiting, {"key": key}):
                await conn.rollback()
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def test_worker_killed_during_migrations_does_not_lose_the_run(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    own = settings.model_copy(update={"temporal_task_queue": f"crash-{uuid.uuid4().hex[:8]}"})
    tenant_id = unique_tenant_id()
    schema = storage_name(settings.tenant_storage_prefix, tenant_id)
    # Hold the migration step, so it is surely running when the worker dies.
    async with contextlib.AsyncExitStack() as held:
        await held.enter_async_context(step_held(settings, tenant_id, "migrate_tenant_database"))
        with worker_process(own) as first:
            request = TenantCreate(
                id=tenant_id,
                name="Crash",
                admin_email=f"admin@{tenant_id}.example.com",
                password=SecretStr(PASSWORD),
            )
            async with async_sessionmaker(control_plane)() as session:
                accepted = await Operations(session, temporal_client, own).create(request, None)
            await wait_for_lock_waiter(settings, f"migrate:{settings.tenants_database}:{schema}")
            first.kill()  # SIGKILL: no graceful shutdown, the activity just vanishes
            first.wait()

        # Another worker (in this process: no second interpreter to start on a busy machine).
        # The run goes on after the step's heartbeat timeout (10 s) and the dead worker's
        # sticky queue timeout (10 s): fixed waits, not load-dependent ones.
        async with build_worker(temporal_client, control_plane, own):
            await held.aclose()  # release the migration
            tenant = await wait_for_status(
                api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED}, within=60
            )
    assert tenant["status"] == "Active", tenant["provisioningError"]
    handle = temporal_client.get_workflow_handle_for(ProvisionTenant.run, accepted.workflow_id)
    result = await handle.result()
    assert (result.status, result.tenant_id) == (TenantStatus.ACTIVE, tenant_id)
    assert result.schema == schema
    # The dead worker could not report its attempt: the snapshot still tells the truth.
    assert result.progress is not None
    migrate = next(s for s in result.progress.steps if s.name == "migrate_tenant_database")
    assert migrate.attempt == 2
    assert migrate.last_error is not None
    assert "stopped responding" in migrate.last_error, migrate.last_error
