"""Notifications reach the user who started the operation and every admin of the tenant, in
every tab, on any API process; nobody else."""

import asyncio
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.testing import ActivityEnvironment

from activities.control_plane import ControlPlaneActivities
from activities.models import NotificationRequest
from activities.progress import AttemptReporter
from api.main import create_app
from api.notification_hub import FALLBACK_SECONDS
from core.models import NOTIFY_CHANNEL
from core.settings import Settings
from core.status import TenantStatus
from tests.api_process import api_process
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, token_for
from tests.helpers import (
    PASSWORD,
    Account,
    Listener,
    listen,
    occupy_database_name,
    serve_in_thread,
    tenant_admin_account,
    tenant_body,
    unique_tenant_id,
    until_value,
    until_value_sync,
    wait_for_status,
)
from tests.tcp_proxy import HalfOpenProxy

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
    assert stranger.about(tenant_id) == []


async def add_admin(engine: AsyncEngine, tenant_id: str, email: str) -> None:
    """Another admin of the tenant, with the first one's password (the API adds no users)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, password_hash, roles) "
                "SELECT gen_random_uuid(), tenant_id, :email, password_hash, roles FROM users "
                "WHERE tenant_id = :tenant"
            ),
            {"email": email, "tenant": tenant_id},
        )


def updates(tab: Listener, tenant_id: str) -> list[dict[str, Any]]:
    return [body for body in tab.about(tenant_id) if body["type"] == "TenantUpdated"]


async def test_every_admin_of_the_tenant_gets_it_in_every_tab_and_no_other_tenant_does(
    api: httpx.AsyncClient, api_url: str, control_plane: AsyncEngine
) -> None:
    ours, theirs = unique_tenant_id("ours"), unique_tenant_id("theirs")
    for tenant_id in (ours, theirs):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    for tenant_id in (ours, theirs):
        await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    await add_admin(control_plane, ours, f"second@{ours}.example.com")
    first = await token_for(api_url, f"admin@{ours}.example.com", PASSWORD, tenant=ours)
    second = await token_for(api_url, f"second@{ours}.example.com", PASSWORD, tenant=ours)
    stranger_token = await token_for(api_url, f"admin@{theirs}.example.com", PASSWORD, theirs)

    first_tabs = [await listen(api_url, first) for _ in range(2)]
    second_tabs = [await listen(api_url, second) for _ in range(2)]
    stranger = await listen(api_url, stranger_token)
    initiator = await listen(api_url, await token_for(api_url, ROOT_EMAIL, ROOT_PASSWORD))
    admin_tabs = [*first_tabs, *second_tabs]
    try:
        # The admin was made during provisioning: its first stream catches up on TenantCreated.
        created = await first_tabs[0].wait_for(ours, "TenantCreated")
        body = {"name": "Renamed", "isActive": True}
        assert (await api.put(f"/api/tenants/{ours}", json=body)).status_code == 202
        for tab in [*admin_tabs, initiator]:
            await tab.wait_for(ours, "TenantUpdated")
        # The stranger's stream works: an operation on its own tenant reaches it, and a copy of
        # ours (committed before it) would have been read no later.
        assert (await api.put(f"/api/tenants/{theirs}", json=body)).status_code == 202
        await stranger.wait_for(theirs, "TenantUpdated")
    finally:
        for listener in [*admin_tabs, stranger, initiator]:
            await listener.close()

    assert created["message"] == f"Tenant 'Tenant {ours}' is ready"
    assert [len(updates(tab, ours)) for tab in [*admin_tabs, initiator]] == [1] * 5
    assert stranger.about(ours) == []
    assert updates(initiator, theirs), "the root operator still gets the ones it started"


async def test_a_retried_record_writes_each_recipient_once(
    api: httpx.AsyncClient, control_plane: AsyncEngine, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    await add_admin(control_plane, tenant_id, f"second@{tenant_id}.example.com")
    async with control_plane.connect() as conn:
        root_id = await conn.scalar(text("SELECT id::text FROM users WHERE tenant_id = 'root'"))
    request = NotificationRequest(
        key=f"test:{tenant_id}",
        user_id=str(root_id),
        type="TenantUpdated",
        message="updated",
        tenant_id=tenant_id,
        tenant_name=tenant_id,
    )
    control = ControlPlaneActivities(control_plane, AttemptReporter(None))
    try:
        for _ in range(2):  # an attempt whose reply was lost, and its retry
            await ActivityEnvironment().run(control.record_notification, request)
    finally:
        await control.close()
    async with control_plane.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT key, user_id FROM notifications WHERE key LIKE :key ORDER BY id"),
                {"key": f"test:{tenant_id}%"},
            )
        ).all()
        admins = (
            await conn.scalars(
                text("SELECT id::text FROM users WHERE tenant_id = :t"), {"t": tenant_id}
            )
        ).all()
    assert len(admins) == 2
    assert sorted(user for _, user in rows) == sorted([str(root_id), *admins])
    assert rows[0][0] == f"test:{tenant_id}", "the initiator's row keeps the request's key"


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
    with api_process(settings) as (url, _):
        yield url


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


@pytest.fixture
async def other_user(api: httpx.AsyncClient, api_url: str, control_plane: AsyncEngine) -> Account:
    """A second signed-in user (the admin of a fresh tenant): its token and its user id."""
    return await tenant_admin_account(api, api_url, control_plane, "other")


async def insert_notification(conn: AsyncConnection, user_id: str, about: str) -> int:
    """What the record_notification activity does, in a transaction the test commits."""
    row_id = await conn.scalar(
        text(
            "INSERT INTO notifications (key, user_id, type, message, tenant_id, tenant_name) "
            "VALUES (:key, :user, 'TenantCreated', 'ready', :about, :about) RETURNING id"
        ),
        {"key": f"test:{about}", "user": user_id, "about": about},
    )
    await conn.execute(
        text("SELECT pg_notify(:channel, :user)"), {"channel": NOTIFY_CHANNEL, "user": user_id}
    )
    return int(row_id)


async def notify_and_wait(engine: AsyncEngine, user_id: str, tab: Listener) -> None:
    """One notification, received: the stream has read and is waiting for the next."""
    about = unique_tenant_id("warm-up")
    async with engine.begin() as conn:
        await insert_notification(conn, user_id, about)
    await tab.wait_for(about)


async def test_a_lower_id_that_commits_after_a_higher_one_still_reaches_the_stream(
    other_user: Account, api_url: str, control_plane: AsyncEngine
) -> None:
    early, late = unique_tenant_id("early"), unique_tenant_id("late")
    async with control_plane.connect() as slow, control_plane.connect() as quick:
        low = await insert_notification(slow, other_user.user_id, early)  # not committed yet
        high = await insert_notification(quick, other_user.user_id, late)
        await quick.commit()
        assert low < high
        tab = await listen(api_url, other_user.token)
        try:
            await tab.wait_for(late)  # the stream has seen the higher id
            await slow.commit()
            await tab.wait_for(early, within=10)
        finally:
            await tab.close()
    # (The admin's own tenant's TenantCreated may come first: they had not seen it yet.)
    ids = [int(i) for i, body in tab.received if body["tenantId"] in (early, late)]
    assert ids == [high, high], "event ids stay monotonic"


async def test_a_reconnect_gets_a_lower_id_that_committed_while_it_was_away(
    other_user: Account, api_url: str, control_plane: AsyncEngine
) -> None:
    early, late = unique_tenant_id("early"), unique_tenant_id("late")
    async with control_plane.connect() as slow, control_plane.connect() as quick:
        await insert_notification(slow, other_user.user_id, early)
        await insert_notification(quick, other_user.user_id, late)
        await quick.commit()
        first = await listen(api_url, other_user.token)
        try:
            await first.wait_for(late)
        finally:
            await first.close()
        await slow.commit()
    resumed = await listen(api_url, other_user.token, last_event_id=first.received[-1][0])
    try:
        await resumed.wait_for(early, within=10)
    finally:
        await resumed.close()
    assert resumed.about(late) == [], "what the first stream delivered is not repeated"


async def test_live_streams_get_late_commits_in_any_order_exactly_once(
    other_user: Account, api_url: str, control_plane: AsyncEngine
) -> None:
    about = [unique_tenant_id(f"n{i}") for i in range(4)]
    tab = await listen(api_url, other_user.token)
    try:
        async with AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(control_plane.connect()) for _ in about]
            for conn, tenant_id in zip(conns, about, strict=True):
                await insert_notification(conn, other_user.user_id, tenant_id)
            for conn, tenant_id in reversed(list(zip(conns, about, strict=True))):
                await conn.commit()
                await tab.wait_for(tenant_id, within=10)
        # A later notification through the same stream: once it has arrived, the stream has read
        # past all four again, so a repeated copy would have been delivered by then.
        sentinel = unique_tenant_id("after")
        async with control_plane.begin() as conn:
            await insert_notification(conn, other_user.user_id, sentinel)
        await tab.wait_for(sentinel, within=10)
    finally:
        await tab.close()
    assert [len(tab.about(tenant_id)) for tenant_id in about] == [1, 1, 1, 1]


async def test_a_dropped_listen_connection_is_replaced_and_delivery_stays_prompt(
    other_user: Account, api_url: str, api_app: FastAPI, control_plane: AsyncEngine
) -> None:
    hub = api_app.state.notification_hub
    pid = await until_value_sync(lambda: hub.listener_pid)
    tab = await listen(api_url, other_user.token)
    tenant_id = unique_tenant_id("after-kill")
    try:
        await notify_and_wait(control_plane, other_user.user_id, tab)  # the stream is waiting
        async with control_plane.connect() as conn:
            # Cut the connection server-side, as a restart or a dropped link would.
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            gone = text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
            await until_value(lambda: conn.scalar(gone, {"pid": pid}))
            await insert_notification(conn, other_user.user_id, tenant_id)
            await conn.commit()
        started = time.monotonic()
        # The stream's own fallback read comes FALLBACK_SECONDS after it opened: well after.
        await tab.wait_for(tenant_id, within=FALLBACK_SECONDS / 2)
        print(f"delivered {time.monotonic() - started:.2f}s after the connection was cut")
    finally:
        await tab.close()
    await until_value_sync(lambda: hub.listener_pid not in (None, pid))  # listening again, anew


async def test_a_half_open_listen_connection_is_noticed_and_streams_still_get_notified(
    other_user: Account, settings: Settings, control_plane: AsyncEngine
) -> None:
    assert settings.database_url
    url = make_url(settings.database_url)
    proxy = HalfOpenProxy(url)
    async with proxy.running(url) as proxied_url:
        proxied = proxied_url.render_as_string(hide_password=False)
        app = create_app(settings.model_copy(update={"database_url": proxied}))
        with serve_in_thread(app) as api_url:
            hub = app.state.notification_hub
            pid = await until_value_sync(lambda: hub.listener_pid)
            tab = await listen(api_url, other_user.token)
            tenant_id = unique_tenant_id("half-open")
            try:
                await notify_and_wait(control_plane, other_user.user_id, tab)  # the stream waits
                proxy.cut_listener()
                async with control_plane.begin() as conn:
                    await insert_notification(conn, other_user.user_id, tenant_id)
                started = time.monotonic()
                # Unnoticed, the stream would read only on its FALLBACK_SECONDS timer.
                await tab.wait_for(tenant_id, within=FALLBACK_SECONDS * 2 / 3)
                print(f"delivered {time.monotonic() - started:.2f}s after the link was cut")
                # Listening anew.
                await until_value_sync(lambda: hub.listener_pid not in (None, pid))
            finally:
                await tab.close()
