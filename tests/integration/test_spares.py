"""Spare schemas (activities/spares.py): a new shared tenant takes a ready, pre-migrated schema
and skips its migration activity; the pool refills; spares made at another revision are dropped,
never taken. A worker and an API of their own, on their own task queue, with spares (the
suite's worker runs without them)."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Replayer

from activities.spares import SPARE_PREFIX, spare_marker
from api.main import create_app
from core.migrate import head_revision
from core.naming import ownership_marker, quote_ident, storage_name
from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, token_for
from tests.helpers import serve_in_thread, tenant_body, unique_tenant_id, until_value
from workflows.worker import WORKFLOWS, build_worker

pytestmark = pytest.mark.integration

SPARES = text(
    "SELECT nspname, oid, obj_description(oid, 'pg_namespace') FROM pg_namespace "
    "WHERE starts_with(nspname, :prefix)"
)
SCHEMA = text(
    "SELECT oid, obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :n"
)


@pytest.fixture(scope="module")
async def spare_settings(
    settings: Settings, temporal_client: Client, control_plane: AsyncEngine
) -> AsyncIterator[Settings]:
    """Settings of a worker (running meanwhile) that keeps 2 spares, on a queue of its own."""
    spared = settings.model_copy(
        update={"temporal_task_queue": f"spares-{uuid.uuid4().hex[:8]}", "spare_schemas": 2}
    )
    async with build_worker(temporal_client, control_plane, spared, spared.temporal_task_queue):
        yield spared


@pytest.fixture(scope="module")
def spare_api_url(spare_settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(spare_settings)) as url:
        yield url


@pytest.fixture
async def spare_api(spare_api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    token = await token_for(spare_api_url, ROOT_EMAIL, ROOT_PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=spare_api_url, headers=headers, timeout=30) as client:
        yield client


async def spares(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(SPARES, {"prefix": SPARE_PREFIX})
        return {name: (oid, comment) for name, oid, comment in rows}


async def ready_spares(engine: AsyncEngine, target: int) -> dict[str, tuple[int, str]]:
    """The spares at head, once the pool holds `target` of them."""
    head = spare_marker(head_revision("tenant"))

    async def full() -> dict[str, tuple[int, str]]:
        ready = {n: s for n, s in (await spares(engine)).items() if s[1] == head}
        return ready if len(ready) == target else {}

    return await until_value(full)


async def provision(api: httpx.AsyncClient) -> dict[str, object]:
    tenant_id = unique_tenant_id("spare")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202

    async def final() -> dict[str, object] | None:
        tenant: dict[str, object] = (await api.get(f"/api/tenants/{tenant_id}")).json()
        return tenant if tenant["status"] in {TenantStatus.ACTIVE, TenantStatus.FAILED} else None

    tenant = await until_value(final)
    assert tenant is not None and tenant["status"] == TenantStatus.ACTIVE, tenant
    return tenant


async def test_a_shared_tenant_takes_a_spare_schema_and_skips_its_migration(
    spare_api: httpx.AsyncClient,
    spare_settings: Settings,
    tenants_db: AsyncEngine,
    temporal_client: Client,
) -> None:
    await provision(spare_api)  # the pool fills once a tenant has asked for a spare
    before = await ready_spares(tenants_db, spare_settings.spare_schemas)

    tenant = await provision(spare_api)

    tenant_id = str(tenant["id"])
    schema = storage_name(spare_settings.tenant_storage_prefix, tenant_id)
    async with tenants_db.connect() as conn:
        oid, comment = (await conn.execute(SCHEMA, {"n": schema})).one()
        version = await conn.scalar(
            text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version")
        )
    assert oid in {spare_oid for spare_oid, _ in before.values()}, "a spare, renamed"
    assert comment == ownership_marker(tenant_id)
    assert version == head_revision("tenant")
    assert tenant["schemaRevision"] == head_revision("tenant"), "recorded on the row"

    # The migration step shows done, with no activity behind it; the run replays.
    progress = (await spare_api.get(f"/api/tenants/{tenant_id}/progress")).json()
    assert {s["name"]: s["status"] for s in progress["steps"]}["migrate_tenant_database"] == (
        "completed"
    )
    history = await temporal_client.get_workflow_handle(str(tenant["workflowId"])).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert sorted(scheduled) == ["create_admin_user", "create_tenant_database", "set_tenant_status"]
    await Replayer(workflows=list(WORKFLOWS)).replay_workflow(history)
    if out := os.environ.get("HISTORY_OUT"):  # tests/histories/record_histories.py
        await asyncio.to_thread(
            (Path(out) / "provision-tenant-active-lean-spare.json").write_text, history.to_json()
        )

    after = await ready_spares(tenants_db, spare_settings.spare_schemas)
    assert len(set(after) - set(before)) == 1, "the one taken was made again"


async def test_spares_of_another_revision_are_dropped_not_taken(
    spare_api: httpx.AsyncClient, spare_settings: Settings, tenants_db: AsyncEngine
) -> None:
    old = f"{SPARE_PREFIX}old_revision"
    async with tenants_db.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {quote_ident(old)}"))
        await conn.execute(
            text(f"COMMENT ON SCHEMA {quote_ident(old)} IS 'tenantflow-spare:t0001'")
        )
        old_oid = (await conn.execute(SCHEMA, {"n": old})).one()[0]

    tenant = await provision(spare_api)

    async def dropped() -> bool:
        return old not in await spares(tenants_db)

    await until_value(dropped)
    schema = storage_name(spare_settings.tenant_storage_prefix, str(tenant["id"]))
    async with tenants_db.connect() as conn:
        assert (await conn.execute(SCHEMA, {"n": schema})).one()[0] != old_oid
