"""Every activity, run twice (as after a worker crash) or twice at once, creates nothing twice."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from activities.control_plane import ControlPlaneActivities
from activities.models import StatusChange, TenantRef
from activities.progress import AttemptReporter
from activities.tenant_storage import TenantStorageActivities
from core.database import create_oneshot_engine, with_database
from core.migrate import head_revision
from core.models import Tenant, User
from core.naming import quote_ident, storage_name
from core.passwords import hash_password
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import PASSWORD, unique_tenant_id

pytestmark = pytest.mark.integration


async def insert_pending_tenant(engine: AsyncEngine, settings: Settings, isolated: bool) -> str:
    tenant_id = unique_tenant_id("idem")
    name = storage_name(settings.tenant_storage_prefix, tenant_id)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Tenant).values(
                id=tenant_id,
                name="Idempotent",
                status=TenantStatus.PENDING,
                is_active=True,
                has_isolated_database=isolated,
                database_name=name if isolated else settings.tenants_database,
                schema_name="public" if isolated else name,
                admin_email=f"admin@{tenant_id}.example.com",
                admin_password_hash=hash_password(PASSWORD),
            )
        )
    return tenant_id


async def count(settings: Settings, database: str, sql: str, **params: str) -> int:
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, database))
    try:
        async with engine.connect() as conn:
            value = await conn.scalar(text(sql), params)
            return int(value or 0)
    finally:
        await engine.dispose()


Activities = tuple[ControlPlaneActivities, TenantStorageActivities]


@pytest.fixture
async def activities(control_plane: AsyncEngine) -> AsyncIterator[Activities]:
    reporter = AttemptReporter(None)
    control = ControlPlaneActivities(control_plane, reporter)
    storage = TenantStorageActivities(control_plane, reporter)
    try:
        yield control, storage
    finally:
        await storage.close()


async def test_create_admin_user_twice_leaves_one_user(
    control_plane: AsyncEngine,
    settings: Settings,
    activities: Activities,
) -> None:
    control, _ = activities
    tenant_id = await insert_pending_tenant(control_plane, settings, isolated=False)
    env = ActivityEnvironment()
    first = await env.run(control.create_admin_user, TenantRef(tenant_id))
    second = await env.run(control.create_admin_user, TenantRef(tenant_id))
    concurrent = await asyncio.gather(
        env.run(control.create_admin_user, TenantRef(tenant_id)),
        env.run(control.create_admin_user, TenantRef(tenant_id)),
    )

    assert (first.created, second.created) == (True, False)
    assert {u.user_id for u in [first, second, *concurrent]} == {first.user_id}
    async with control_plane.connect() as conn:
        users = await conn.scalar(
            select(func.count()).select_from(User).where(User.tenant_id == tenant_id)
        )
    assert users == 1


@pytest.mark.parametrize("isolated", [False, True], ids=["shared-schema", "isolated-database"])
async def test_create_and_migrate_twice_leave_one_database_or_schema_at_head(
    control_plane: AsyncEngine,
    settings: Settings,
    activities: Activities,
    isolated: bool,
) -> None:
    _, storage = activities
    tenant_id = await insert_pending_tenant(control_plane, settings, isolated)
    ref = TenantRef(tenant_id)
    env = ActivityEnvironment()

    first = await env.run(storage.create_tenant_database, ref)
    second = await env.run(storage.create_tenant_database, ref)
    concurrent = await asyncio.gather(
        env.run(storage.create_tenant_database, ref),
        env.run(storage.create_tenant_database, ref),
    )
    assert (first.created, second.created) == (True, False)
    assert not any(result.created for result in concurrent)

    name = storage_name(settings.tenant_storage_prefix, tenant_id)
    if isolated:
        found = await count(
            settings, "postgres", "SELECT count(*) FROM pg_database WHERE datname = :n", n=name
        )
    else:
        found = await count(
            settings,
            settings.tenants_database,
            "SELECT count(*) FROM pg_namespace WHERE nspname = :n",
            n=name,
        )
    assert found == 1

    migrated = [await env.run(storage.migrate_tenant_database, ref) for _ in range(2)]
    migrated += await asyncio.gather(
        env.run(storage.migrate_tenant_database, ref),
        env.run(storage.migrate_tenant_database, ref),
    )
    assert {m.revision for m in migrated} == {head_revision("tenant")}
    schema = "public" if isolated else name
    database = name if isolated else settings.tenants_database
    versions = await count(
        settings, database, f"SELECT count(*) FROM {quote_ident(schema)}.alembic_version"
    )
    assert versions == 1


async def test_set_status_twice_is_harmless_and_stamps_the_attempt(
    control_plane: AsyncEngine,
    settings: Settings,
    activities: Activities,
) -> None:
    control, _ = activities
    tenant_id = await insert_pending_tenant(control_plane, settings, isolated=False)
    change = StatusChange(tenant_id, TenantStatus.PROVISIONING, new_attempt=True)
    env = ActivityEnvironment()
    await env.run(control.set_tenant_status, change)
    await env.run(control.set_tenant_status, change)
    async with control_plane.connect() as conn:
        row = (
            await conn.execute(
                select(Tenant.status, Tenant.last_provisioning_attempt).where(
                    Tenant.id == tenant_id
                )
            )
        ).one()
    assert row.status == "Provisioning"
    assert row.last_provisioning_attempt is not None
