"""Notifications reach only the user who started the operation: every tab, any API process."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, token_for
from tests.helpers import (
    PASSWORD,
    free_port,
    listen,
    occupy_database_name,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def other_user_token(api: httpx.AsyncClient, api_url: str) -> str:
    """A second signed-in user: the admin of a fresh tenant."""
    tenant_id = unique_tenant_id("other")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    return await token_for(api_url, tenant["adminEmail"], PASSWORD, tenant=tenant_id)


async def test_every_tab_of_the_initiator_gets_it_and_nobody_else(
    api: httpx.AsyncClient, api_url: str, root_token: str, other_user_token: str
) -> None:
    tabs = [await listen(api_url, root_token) for _ in range(2)]
    stranger = await listen(api_url, other_user_token)
    tenant_id = unique_tenant_id()
    try:
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        received = [await tab.wait_for(tenant_id) for tab in tabs]
        await asyncio.sleep(1.0)  # give a wrongly routed copy time to arrive
    finally:
        for listener in [*tabs, stranger]:
            await listener.close()

    for body in received:
        assert body["type"] == "TenantCreated"
        assert body["tenantName"] == f"Tenant {tenant_id}"
        assert body["message"] == f"Tenant 'Tenant {tenant_id}' is ready"
        assert body["timestamp"]
    assert [len(tab.about(tenant_id)) for tab in tabs] == [1, 1]
    assert stranger.received == []


async def test_failure_is_notified_as_tenant_creation_failed(
    api: httpx.AsyncClient, api_url: str, root_token: str, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    taken = await occupy_database_name(settings, tenant_id)
    tab = await listen(api_url, root_token)
    try:
        body = tenant_body(tenant_id, isolated=True)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        notification = await tab.wait_for(tenant_id)
    finally:
        await tab.close()
    assert notification["type"] == "TenantCreationFailed"
    assert taken in notification["message"]


@pytest.fixture
def second_api_process(settings: Settings) -> Iterator[str]:
    """`python -m api` in its own process, sharing only PostgreSQL and Temporal with the first."""
    assert settings.database_url and settings.jwt_secret
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "API_PORT": str(port),
    }
    process = subprocess.Popen([sys.executable, "-m", "api"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the second API process died"
            time.sleep(0.1)
        else:
            raise AssertionError("the second API process never became healthy")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


async def test_stream_on_another_api_process_gets_it(
    api: httpx.AsyncClient, root_token: str, second_api_process: str
) -> None:
    tab = await listen(second_api_process, root_token)
    tenant_id = unique_tenant_id()
    try:
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        notification = await tab.wait_for(tenant_id)
    finally:
        await tab.close()
    assert notification["type"] == "TenantCreated"


async def test_offline_user_gets_it_on_connect_once(api: httpx.AsyncClient, api_url: str) -> None:
    # Our own root session, so no other test's open stream takes delivery first.
    token = await token_for(api_url, ROOT_EMAIL, ROOT_PASSWORD)
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})

    first = await listen(api_url, token)
    try:
        await first.wait_for(tenant_id)
        await asyncio.sleep(0.5)
    finally:
        await first.close()
    event_id = next(i for i, body in first.received if body["tenantId"] == tenant_id)

    resumed = await listen(api_url, token, last_event_id=first.received[-1][0])
    fresh = await listen(api_url, token)
    await asyncio.sleep(1.0)
    for listener in (resumed, fresh):
        await listener.close()

    assert len(first.about(tenant_id)) == 1
    assert resumed.about(tenant_id) == [], "resuming after it must not deliver it again"
    assert fresh.about(tenant_id) == [], "a delivered notification is not replayed to new tabs"
    ids = [int(i) for i, _ in first.received]
    assert ids == sorted(ids) and int(event_id) in ids
