"""Cancel wins at every moment of a run, removes everything the tenant owns, and tells the right
user (issue 8, defects 1, 2 and 9)."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database import create_oneshot_engine, with_database
from core.models import Notification, User
from core.naming import storage_name
from core.passwords import hash_password_async
from core.settings import Settings
from core.status import ROOT_TENANT_ID
from tests.conftest import token_for
from tests.helpers import (
    PASSWORD,
    step_held,
    template_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
)
from tests.helpers import wait_for_step as wait_for_api_step
from tests.integration.test_cancellation import FINAL, leftovers, temporal_cli

pytestmark = pytest.mark.integration

NOTHING = {"database": 0, "schema": 0, "users": 0}


async def wait_for_create_database_statement(settings: Settings, name: str) -> None:
    """Until a CREATE DATABASE of `name` is running on the server (an attempt is in flight)."""
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, "postgres"))
    sql = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE query ILIKE 'CREATE DATABASE%' AND position(:name in query) > 0"
    )
    try:
        async with asyncio.timeout(30), engine.connect() as conn:
            while not await conn.scalar(sql, {"name": name}):
                await conn.rollback()
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def test_cancel_while_a_step_is_retrying_ends_cancelled_with_nothing_left(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    tenant_id = unique_tenant_id()
    name = storage_name(settings.tenant_storage_prefix, tenant_id)
    async with template_held(settings):
        body = tenant_body(tenant_id, isolated=True)
        assert (await api.post("/api/tenants", json=body)).status_code == 202
        await wait_for_api_step(api, tenant_id, "create_tenant_database", "retrying")
        # The second attempt is blocked in CREATE DATABASE: it fails after the cancel request,
        # which on its own would reach the workflow as an ordinary activity failure.
        await wait_for_create_database_statement(settings, name)
        cancelled = await api.post(f"/api/tenants/{tenant_id}/cancel")
        assert cancelled.status_code == 202, cancelled.text
        tenant = await wait_for_status(api, tenant_id, FINAL, within=60)

    assert tenant["status"] == "Cancelled", tenant["provisioningError"]
    assert await leftovers(settings, control_plane, tenant_id) == NOTHING
    progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    steps = {s["name"]: s["status"] for s in progress["steps"]}
    assert steps["create_tenant_database"] == "cancelled"
    assert steps["delete_tenant_users"] == "completed"


async def test_cancel_after_a_retry_removes_what_the_earlier_run_left(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    tenant_id = unique_tenant_id()
    # A first run that stops for good after creating the schema and the admin user.
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_api_step(api, tenant_id, "migrate_tenant_database", "running")
        workflow_id = f"provision-tenant-{tenant_id}"
        await temporal_cli(settings, "workflow", "terminate", "--workflow-id", workflow_id)
    assert (await wait_for_status(api, tenant_id, FINAL))["status"] == "Failed"
    assert await leftovers(settings, control_plane, tenant_id) == NOTHING | {
        "schema": 1,
        "users": 1,
    }

    # The retry is cancelled during its first step: only that step started in this run.
    async with step_held(settings, tenant_id, "create_admin_user"):
        assert (await api.post(f"/api/tenants/{tenant_id}/retry")).status_code == 202
        await wait_for_api_step(api, tenant_id, "create_admin_user", "running")
        assert (await api.post(f"/api/tenants/{tenant_id}/cancel")).status_code == 202
    tenant = await wait_for_status(api, tenant_id, FINAL)

    assert tenant["status"] == "Cancelled", tenant["provisioningError"]
    assert await leftovers(settings, control_plane, tenant_id) == NOTHING


@contextlib.asynccontextmanager
async def status_writes_held(control_plane: AsyncEngine, tenant_id: str) -> AsyncIterator[None]:
    """Block the tenant's status writes (each takes its row's advisory lock, shared) until the
    block exits; other writes to the row (the schema revision the migration step records) go on."""
    async with control_plane.connect() as conn:
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('tenant-row:' || :id))"), {"id": tenant_id}
        )
        try:
            yield
        finally:
            await conn.rollback()


async def second_root_user(api_url: str, control_plane: AsyncEngine) -> tuple[str, str]:
    """Another operator with the root role: (user id, token)."""
    email = f"operator-{uuid.uuid4().hex[:8]}@example.com"
    password_hash = await hash_password_async(PASSWORD)
    async with control_plane.begin() as conn:
        user_id = await conn.scalar(
            insert(User)
            .values(
                id=uuid.uuid4(),
                tenant_id=ROOT_TENANT_ID,
                email=email,
                password_hash=password_hash,
                roles=["root"],
            )
            .returning(User.id)
        )
    return str(user_id), await token_for(api_url, email, PASSWORD)


async def test_a_cancel_too_late_to_stop_the_run_notifies_only_the_initiator(
    api: httpx.AsyncClient,
    api_url: str,
    settings: Settings,
    control_plane: AsyncEngine,
) -> None:
    canceller_id, canceller_token = await second_root_user(api_url, control_plane)
    tenant_id = unique_tenant_id()
    async with contextlib.AsyncExitStack() as migration:
        await migration.enter_async_context(
            step_held(settings, tenant_id, "migrate_tenant_database")
        )
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_api_step(api, tenant_id, "migrate_tenant_database", "running")
        async with status_writes_held(control_plane, tenant_id):
            # Migrations finish; the activation step begins and waits on the table lock.
            await migration.aclose()
            await wait_for_api_step(api, tenant_id, "activate_tenant", "running")
            headers = {"Authorization": f"Bearer {canceller_token}"}
            late = await api.post(f"/api/tenants/{tenant_id}/cancel", headers=headers)
            assert late.status_code == 202, late.text  # the row still says Provisioning
    tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Active"

    async with asyncio.timeout(30):
        sent = await notifications_about(control_plane, tenant_id)
        while not sent:
            await asyncio.sleep(0.05)
            sent = await notifications_about(control_plane, tenant_id)
    async with control_plane.connect() as conn:
        initiator = await conn.scalar(
            select(User.id).where(
                User.tenant_id == ROOT_TENANT_ID, User.email == settings.root_email
            )
        )
        admins = await conn.scalars(select(User.id).where(User.tenant_id == tenant_id))
        admin_ids = {str(admin) for admin in admins}
    # The initiator and the tenant's own admin hear it; the too-late canceller does not.
    assert sorted(sent) == sorted(("TenantCreated", user) for user in {str(initiator), *admin_ids})
    assert admin_ids and canceller_id not in {user for _, user in sent}
    assert canceller_id != str(initiator)


async def notifications_about(control_plane: AsyncEngine, tenant_id: str) -> list[tuple[str, str]]:
    async with control_plane.connect() as conn:
        rows = await conn.execute(
            select(Notification.type, Notification.user_id).where(
                Notification.tenant_id == tenant_id
            )
        )
        return [(type, user) for type, user in rows.all()]
