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
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from temporalio.client import Client

from api.operations import Operations
from api.schemas import TenantCreate
from core.naming import storage_name
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import PASSWORD, sealing_env, step_held, unique_tenant_id, wait_for_status
from workflows.provision_tenant import ProvisionTenant

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


async def wait_for_step(client: Client, workflow_id: str, step: str, status: str) -> None:
    while True:
        progress = await client.get_workflow_handle(workflow_id).query(ProvisionTenant.progress)
        if any(s.name == step and s.status == status for s in progress.steps):
            return
        await asyncio.sleep(0.1)


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
            await asyncio.wait_for(
                wait_for_step(
                    temporal_client, accepted.workflow_id, "migrate_tenant_database", "running"
                ),
                timeout=30,
            )
            first.kill()  # SIGKILL: no graceful shutdown, the activity just vanishes
            first.wait()

        with worker_process(own):
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
