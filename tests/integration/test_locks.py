"""Waiting for a lock never holds a pooled connection, and never waits forever (issue 8, defect 6
and item 15)."""

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import _postgres
from activities.models import TenantRef
from activities.progress import AttemptReporter
from activities.tenant_storage import TenantStorageActivities
from core import tenant_ddl
from core.database import create_engine
from core.migrate import alembic_turn, head_revision, waiting_for_turn
from core.settings import Settings
from tests.helpers import step_held
from tests.integration.test_idempotency import insert_pending_tenant

pytestmark = pytest.mark.integration

QUEUED = 20


async def test_queued_migrations_hold_no_pooled_connection_while_they_wait(
    settings: Settings, control_plane: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not rendered yet in this process: every migration needs the Alembic turn first.
    monkeypatch.setattr(tenant_ddl, "_rendered", {})
    assert settings.database_url
    # The worker's pool, as in workflows/worker.py: 5 connections + 10 overflow.
    pool = create_engine(settings.database_url)
    storage = TenantStorageActivities(pool, AttemptReporter(None))
    tenants = [await insert_pending_tenant(control_plane, settings, False) for _ in range(QUEUED)]
    env = ActivityEnvironment()
    for tenant_id in tenants:
        await env.run(storage.create_tenant_database, TenantRef(tenant_id))
    try:
        async with alembic_turn():  # another migration is running in this process
            migrations = [
                asyncio.ensure_future(env.run(storage.migrate_tenant_database, TenantRef(t)))
                for t in tenants
            ]
            async with asyncio.timeout(30):
                while waiting_for_turn() < QUEUED:  # noqa: ASYNC110 (a counter, no event)
                    await asyncio.sleep(0.02)
            assert pool.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            # The pool serves everything else meanwhile.
            async with asyncio.timeout(5), pool.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
            assert not any(m.done() for m in migrations)
        revisions = await asyncio.gather(*migrations)
    finally:
        await storage.close()
        await pool.dispose()
    assert {m.revision for m in revisions} == {head_revision("tenant")}


async def test_a_step_waits_for_another_sessions_lock_only_so_long(
    settings: Settings, control_plane: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_postgres, "LOCK_TIMEOUT", "300ms")
    storage = TenantStorageActivities(control_plane, AttemptReporter(None))
    tenant_id = await insert_pending_tenant(control_plane, settings, False)
    env = ActivityEnvironment()
    try:
        await env.run(storage.create_tenant_database, TenantRef(tenant_id))
        async with step_held(settings, tenant_id, "migrate_tenant_database"):
            with pytest.raises(ApplicationError) as raised:
                await env.run(storage.migrate_tenant_database, TenantRef(tenant_id))
        assert not raised.value.non_retryable
        assert "for over 300ms; will try again" in raised.value.message
        migrated = await env.run(storage.migrate_tenant_database, TenantRef(tenant_id))
    finally:
        await storage.close()
    assert migrated.revision == head_revision("tenant")
