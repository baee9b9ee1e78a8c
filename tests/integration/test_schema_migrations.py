"""One tenant's schema migration (MigrateTenant) on the real servers: provisioning records the
revision, a migration moves the storage up or down in one transaction (checked in PostgreSQL),
a failure leaves the tenant Active at its old revision with the error, the lifecycle keeps
operations off a Migrating tenant, and GET /api/schema counts tenants per revision."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError

from core.database import with_database
from core.schema import tenant_revisions
from core.settings import Settings
from core.status import TenantStatus as S
from tests.helpers import (
    listed_runs,
    poll_database,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
)
from tests.tenant_schema import (
    at_t0002,
    at_t0003,
    execute_in_storage,
    migrate,
    start_migration,
    stored_schema,
    tenant_storage,
)
from workflows.models import MigrateTenantResult, MigrationOutcome

pytestmark = pytest.mark.integration

HEAD = "t0003"


async def provisioned(api: httpx.AsyncClient, isolated: bool = False) -> dict[str, Any]:
    tenant_id = unique_tenant_id("mig")
    response = await api.post("/api/tenants", json=tenant_body(tenant_id, isolated=isolated))
    assert response.status_code == 202, response.text
    return await wait_for_status(api, tenant_id, {S.ACTIVE})


@asynccontextmanager
async def held_migrating(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> AsyncIterator[tuple[dict[str, Any], WorkflowHandle[Any, MigrateTenantResult]]]:
    """A fresh tenant Migrating to t0002, its run held inside the migration step until the block
    ends; yields the tenant (as it was when Active) and the run."""
    tenant = await provisioned(api)
    async with step_held(settings, tenant["id"], "migrate_tenant_database"):
        handle = await start_migration(temporal_client, settings, tenant["id"], "t0002")
        await wait_for_status(api, tenant["id"], {S.MIGRATING})
        yield tenant, handle


async def row(api: httpx.AsyncClient, tenant_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/tenants/{tenant_id}")
    assert response.status_code == 200, response.text
    tenant: dict[str, Any] = response.json()
    return tenant


def test_head_is_the_third_revision() -> None:
    head, revisions = tenant_revisions()
    assert head == HEAD
    assert [r.id for r in revisions] == ["t0001", "t0002", "t0003"]


@pytest.mark.parametrize("isolated", [False, True], ids=["shared", "isolated"])
async def test_migrate_tenant_rolls_a_tenant_back_and_forward_on_real_ddl(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client, isolated: bool
) -> None:
    tenant = await provisioned(api, isolated)
    # Provisioned at head, and the row says so.
    assert tenant["schemaRevision"] == HEAD
    assert at_t0003(await stored_schema(settings, tenant))

    down = await migrate(temporal_client, settings, tenant["id"], "t0002")
    assert (down.outcome, down.from_revision, down.to_revision) == ("migrated", HEAD, "t0002")
    assert down.error is None
    assert at_t0002(await stored_schema(settings, tenant))
    after = await row(api, tenant["id"])
    assert (after["status"], after["schemaRevision"], after["migrationError"]) == (
        "Active",
        "t0002",
        None,
    )
    assert after["workflowId"].startswith(f"migrate-tenant-{tenant['id']}-")

    up = await migrate(temporal_client, settings, tenant["id"], HEAD)
    assert (up.outcome, up.from_revision, up.to_revision) == ("migrated", "t0002", HEAD)
    assert at_t0003(await stored_schema(settings, tenant))
    assert (await row(api, tenant["id"]))["schemaRevision"] == HEAD


async def test_a_conflicting_object_fails_the_tenant_alone_and_after_repair_it_migrates(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenant = await provisioned(api)
    await migrate(temporal_client, settings, tenant["id"], "t0002")
    # Someone made a table of the name t0003 creates.
    await execute_in_storage(settings, tenant, "CREATE TABLE labels (note text)")

    failed = await migrate(temporal_client, settings, tenant["id"], HEAD)
    assert failed.outcome == MigrationOutcome.FAILED
    assert failed.to_revision == "t0002"
    assert failed.error is not None
    assert f"Migrating tenant '{tenant['id']}' from t0002 to t0003 failed" in failed.error
    assert 'relation "labels" already exists' in failed.error
    assert "rolled back" in failed.error
    # Nothing of t0003 was kept (task_labels came after labels, priority after that).
    stored = await stored_schema(settings, tenant)
    assert stored.revision == "t0002"
    assert "task_labels" not in stored.tables and "priority" not in stored.task_columns
    after = await row(api, tenant["id"])
    assert (after["status"], after["schemaRevision"]) == ("Active", "t0002")
    assert after["migrationError"] == failed.error

    await execute_in_storage(settings, tenant, "DROP TABLE labels")
    repaired = await migrate(temporal_client, settings, tenant["id"], HEAD)
    assert (repaired.outcome, repaired.to_revision) == ("migrated", HEAD)
    assert at_t0003(await stored_schema(settings, tenant))
    assert (await row(api, tenant["id"]))["migrationError"] is None


async def test_a_revision_unknown_to_this_code_fails_at_once_with_a_sentence(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client, control_plane: AsyncEngine
) -> None:
    tenant = await provisioned(api)
    # The row says a revision a later version of Tenantflow made (this code cannot render it).
    async with control_plane.begin() as conn:
        await conn.execute(
            text("UPDATE tenants SET schema_revision = 't9999' WHERE id = :id"),
            {"id": tenant["id"]},
        )
    handle = await start_migration(temporal_client, settings, tenant["id"], "t0002")
    result = await handle.result()
    assert result.outcome == MigrationOutcome.FAILED
    assert result.error is not None
    assert "t9999, a revision this version of Tenantflow does not know" in result.error
    # Not retried: the one attempt failed for good.
    history = await handle.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(attempts) == 1
    assert (await stored_schema(settings, tenant)).revision == HEAD  # untouched


async def test_a_tenant_at_the_target_is_skipped_without_touching_it(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenant = await provisioned(api)
    handle = await start_migration(temporal_client, settings, tenant["id"], HEAD)
    result = await handle.result()
    assert (result.outcome, result.error) == ("skipped", f"already at {HEAD}")
    assert (result.from_revision, result.to_revision) == (HEAD, HEAD)
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["begin_tenant_migration"]
    # The row never moved: it still points at its provisioning run.
    assert (await row(api, tenant["id"]))["workflowId"] == f"provision-tenant-{tenant['id']}"


async def test_a_deleted_tenant_is_skipped(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenant = await provisioned(api)
    assert (await api.delete(f"/api/tenants/{tenant['id']}")).status_code == 202
    await wait_for_status(api, tenant["id"], {S.DELETED})
    assert (await row(api, tenant["id"]))["schemaRevision"] is None  # its storage is gone

    result = await migrate(temporal_client, settings, tenant["id"], "t0002")
    assert result.outcome == "skipped"
    assert result.error == (
        f"Tenant '{tenant['id']}' is Deleted: only a tenant that is Active can be migrated"
    )
    assert (await row(api, tenant["id"]))["status"] == "Deleted"


async def test_operations_on_a_migrating_tenant_get_409_and_the_migration_finishes(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    async with held_migrating(api, settings, temporal_client) as (tenant, handle):
        answers = {
            "edited": await api.put(
                f"/api/tenants/{tenant['id']}", json={"name": "Renamed", "isActive": True}
            ),
            "deleted": await api.delete(f"/api/tenants/{tenant['id']}"),
            "cancelled": await api.post(f"/api/tenants/{tenant['id']}/cancel"),
            "retried": await api.post(f"/api/tenants/{tenant['id']}/retry"),
        }
        for done, response in answers.items():
            assert response.status_code == 409, response.text
            assert response.json()["detail"].startswith(
                f"Tenant '{tenant['id']}' is Migrating: only a tenant that is"
            )
            assert response.json()["detail"].endswith(f"can be {done}")
        # A second migration of the same tenant is refused while this one runs.
        second = await migrate(temporal_client, settings, tenant["id"], "t0002")
        assert second.outcome == "skipped" and "is Migrating" in (second.error or "")
        # The tenant's page follows the migration run.
        progress = (await api.get(f"/api/tenants/{tenant['id']}/progress")).json()
        assert (progress["workflowType"], progress["status"]) == ("MigrateTenant", "Migrating")
    result = await handle.result()
    assert result.outcome == "migrated"
    after = await wait_for_status(api, tenant["id"], {S.ACTIVE})
    assert (after["name"], after["schemaRevision"]) == (tenant["name"], "t0002")


async def test_a_cancelled_migration_rolls_back_whole_and_the_tenant_stays_where_it_was(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenant = await provisioned(api)
    await migrate(temporal_client, settings, tenant["id"], "t0002")
    async with tenant_storage(settings, tenant) as (session, schema):
        # A tenant's own session reading tasks: t0003 creates its tables, then waits for
        # this lock to alter tasks, inside its one transaction.
        await session.execute(text(f'SELECT count(*) FROM "{schema}".tasks'))
        handle = await start_migration(temporal_client, settings, tenant["id"], HEAD)
        await wait_for_lock_wait(settings, tenant["database"])
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as ended:
            await handle.result()
        assert isinstance(ended.value.cause, CancelledError)
        await session.rollback()
    assert at_t0002(await stored_schema(settings, tenant))
    after = await row(api, tenant["id"])
    assert (after["status"], after["schemaRevision"]) == ("Active", "t0002")


async def wait_for_lock_wait(settings: Settings, database: str) -> None:
    """Until a session of `database` waits for a table lock (the migration, mid-transaction)."""
    assert settings.database_url
    await poll_database(
        with_database(settings.database_url, database),
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE NOT l.granted AND l.locktype = 'relation' AND d.datname = :d",
        bool,
        {"d": database},
    )


async def test_a_terminated_migration_is_settled_active_at_its_real_revision(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    async with held_migrating(api, settings, temporal_client) as (tenant, handle):
        await handle.terminate("stuck")
        # The API's sweep: Active again, at the revision its storage holds.
        after = await wait_for_status(api, tenant["id"], {S.ACTIVE})
        assert after["schemaRevision"] == HEAD
        assert "was terminated without recording an outcome" in after["migrationError"]
        assert f"its schema is at {HEAD}" in after["migrationError"]
        # The terminated run's step is cancelled (its heartbeat finds the run gone) before the
        # lock is let go, so it never migrates behind the row's back.
        await wait_until_nobody_waits_for_a_lock(settings)
    assert at_t0003(await stored_schema(settings, tenant))


async def wait_until_nobody_waits_for_a_lock(settings: Settings) -> None:
    """Until no session of the control plane waits for an advisory lock."""
    assert settings.database_url
    await poll_database(
        settings.database_url,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND wait_event = 'advisory' AND query LIKE '%pg_advisory_lock%'",
        lambda waiting: waiting == 0,
        every=0.1,
    )


async def test_get_schema_counts_tenants_per_revision(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    before = (await api.get("/api/schema")).json()
    tenant = await provisioned(api)
    await migrate(temporal_client, settings, tenant["id"], "t0001")

    response = await api.get("/api/schema")
    assert response.status_code == 200, response.text
    schema = response.json()
    assert schema["head"] == HEAD
    assert schema["revisions"] == [
        {"id": "t0001", "description": "members and projects"},
        {"id": "t0002", "description": "project tasks and archived projects"},
        {"id": "t0003", "description": "task labels, task priority and the assignee's open tasks"},
    ]
    counts = {c["revision"]: c["tenants"] for c in schema["counts"]}
    earlier = {c["revision"]: c["tenants"] for c in before["counts"]}
    assert [c["revision"] for c in schema["counts"]][:3] == ["t0001", "t0002", "t0003"]
    assert counts["t0001"] >= earlier["t0001"] + 1
    assert schema["migrating"] >= 0

    stats = (await api.get("/api/tenants/stats")).json()
    assert stats["bySchemaRevision"]["t0001"] >= 1
    assert (await api.get("/api/schema", headers={"Authorization": ""})).status_code == 401


async def test_runs_are_found_by_the_revision_they_left_the_tenant_at(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenant = await provisioned(api)
    query = f"TenantId='{tenant['id']}' AND TenantSchemaRevision='{HEAD}'"
    assert await listed_runs(temporal_client, query, 1) == [f"provision-tenant-{tenant['id']}"]
    await migrate(temporal_client, settings, tenant["id"], "t0002")
    query = f"TenantId='{tenant['id']}' AND TenantSchemaRevision='t0002'"
    (found,) = await listed_runs(temporal_client, query, 1)
    assert found.startswith(f"migrate-tenant-{tenant['id']}-")
    runs = (await api.get(f"/api/tenants/{tenant['id']}/runs")).json()
    assert [r["label"] for r in runs][:2] == ["Migrate schema", "Provision"]


async def test_a_migration_waits_for_an_update_under_way(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    tenant = await provisioned(api)
    # An update holds the tenant (its run would put it back to Active in a moment).
    await set_status(control_plane, tenant["id"], "Updating")
    handle = await start_migration(temporal_client, settings, tenant["id"], "t0002")
    async with asyncio.timeout(30):
        while True:
            pending = (await handle.describe()).raw_description.pending_activities
            if pending and pending[0].attempt >= 2:
                assert "is Updating: its migration waits" in pending[0].last_failure.message
                break
            await asyncio.sleep(0.05)
    await set_status(control_plane, tenant["id"], "Active")
    result = await handle.result()
    assert (result.outcome, result.to_revision) == ("migrated", "t0002")
    assert at_t0002(await stored_schema(settings, tenant))


async def test_a_migration_that_gave_up_waiting_for_an_update_is_failed_not_skipped(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    tenant = await provisioned(api)
    await set_status(control_plane, tenant["id"], "Updating")  # and it stays so
    try:
        result = await migrate(temporal_client, settings, tenant["id"], "t0002")
    finally:
        await set_status(control_plane, tenant["id"], "Active")
    # Failed with its reason, so a rollout lists it and can retry it; its storage untouched.
    assert result.outcome == MigrationOutcome.FAILED
    assert result.error is not None and "(gave up waiting)" in result.error
    assert "is Updating" in result.error
    assert (await stored_schema(settings, tenant)).revision == HEAD


async def set_status(control_plane: AsyncEngine, tenant_id: str, status: str) -> None:
    async with control_plane.begin() as conn:
        await conn.execute(
            text("UPDATE tenants SET status = :s WHERE id = :id"), {"s": status, "id": tenant_id}
        )
