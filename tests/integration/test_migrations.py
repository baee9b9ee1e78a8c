"""Fleet rollouts on the real servers: real tenants (shared schemas and isolated databases), the
real MigrateFleet and MigrateTenant workflows and activities, each tenant's `alembic_version`
read from PostgreSQL itself."""

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import Client
from temporalio.worker import Replayer

from api import migrations
from api.schemas import MigrationOut
from core import rollouts
from core.rollouts import Rollout
from core.schema import tenant_revisions
from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import token_for
from tests.helpers import PASSWORD, step_held, wait_for_status
from tests.rollouts import (
    FINAL,
    active_tenants,
    end_open_rollouts,
    ended,
    in_tenant_schema,
    rolled_out,
    start,
    stored_revisions,
    until,
)
from tests.tenant_schema import stored_schema
from workflows.fleet_models import MigrateFleetInput, fleet_workflow_id
from workflows.migrate_fleet import MigrateFleet
from workflows.worker import WORKFLOWS

pytestmark = pytest.mark.integration

HEAD, REVISIONS = tenant_revisions()
PREVIOUS = REVISIONS[-2].id
RECORDED = Path(__file__).resolve().parent.parent / "histories" / "migrate-fleet-retried.json"


@pytest.fixture(autouse=True)
async def one_at_a_time(api: httpx.AsyncClient) -> AsyncIterator[None]:
    """A rollout a failed test left running would make every later test's POST a 409."""
    yield
    await end_open_rollouts(api)


class NoTemporal(Client):
    """A client that fails whatever it is asked."""

    def __init__(self) -> None:
        pass

    def __getattribute__(self, name: str) -> Any:
        raise AssertionError(f"Temporal was asked ({name})")


async def test_a_rollback_then_a_rollout_to_head_across_shared_and_isolated_tenants(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    tenants = await active_tenants(api, 3, isolated=1)
    assert set((await stored_revisions(api, settings, tenants)).values()) == {HEAD}

    back = await rolled_out(api, PREVIOUS, tenants, concurrency=2)
    assert (back["status"], back["succeeded"], back["failed"]) == ("Completed", 3, 0)
    assert back["targetRevision"] == PREVIOUS
    assert set((await stored_revisions(api, settings, tenants)).values()) == {PREVIOUS}
    for tenant_id in tenants:
        tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
        assert (tenant["status"], tenant["schemaRevision"]) == ("Active", PREVIOUS)

    forward = await rolled_out(api, "head", tenants)
    assert forward["targetRevision"] == HEAD
    assert (forward["status"], forward["succeeded"], forward["skipped"]) == ("Completed", 3, 0)
    assert (forward["running"], forward["pending"], forward["failures"]) == (0, 0, [])
    assert set((await stored_revisions(api, settings, tenants)).values()) == {HEAD}

    # Ended: read from its row, with neither Temporal nor a worker.
    async with AsyncSession(control_plane) as session:
        row = await session.get(Rollout, forward["id"])
    assert row is not None
    assert await migrations.read(NoTemporal(), row) == MigrationOut.model_validate(forward)

    # Already there: skipped at once, no child run.
    again = await rolled_out(api, "head", tenants)
    assert (again["status"], again["skipped"], again["succeeded"]) == ("Completed", 3, 0)
    assert again["skips"] == [
        {"tenantId": t, "reason": "already at the target revision"} for t in sorted(tenants)
    ]
    listed = (await api.get("/api/migrations")).json()
    assert [r["id"] for r in listed[:3]] == [again["id"], forward["id"], back["id"]]


async def test_a_failing_tenant_is_isolated_pauses_the_rollout_and_retry_succeeds_after_repair(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    tenants = sorted(await active_tenants(api, 3))
    await rolled_out(api, PREVIOUS, tenants)
    broken = tenants[1]
    # What the head revision creates, planted beforehand: its migration fails in PostgreSQL.
    await in_tenant_schema(api, settings, broken, "CREATE TABLE labels (id int)")

    rollout_id = await start(api, "head", tenants, canary=1, maxFailures=0)
    paused = await until(api, rollout_id, lambda s: s["status"] == "Paused" and not s["running"])
    assert paused["failed"] == 1
    assert paused["succeeded"] + paused["pending"] == 2  # the others are unharmed
    (failure,) = paused["failures"]
    assert failure["tenantId"] == broken
    assert "labels" in failure["error"]
    tenant = (await api.get(f"/api/tenants/{broken}")).json()
    assert (tenant["status"], tenant["schemaRevision"]) == ("Active", PREVIOUS)
    assert (await stored_revisions(api, settings, [broken]))[broken] == PREVIOUS

    await in_tenant_schema(api, settings, broken, "DROP TABLE labels")
    response = await api.post(f"/api/migrations/{rollout_id}/retry")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["failed"]) == ("Running", 0)
    done = await ended(api, rollout_id)
    assert (done["status"], done["succeeded"], done["failed"]) == ("Completed", 3, 0)
    assert set((await stored_revisions(api, settings, tenants)).values()) == {HEAD}

    # Its history (an automatic pause, a retry Update, children) replays on this code; kept in
    # tests/histories for later code with TENANTFLOW_RECORD_HISTORY=1.
    history = await temporal_client.get_workflow_handle(done["workflowId"]).fetch_history()
    await Replayer(workflows=list(WORKFLOWS)).replay_workflow(history)
    if os.environ.get("TENANTFLOW_RECORD_HISTORY"):
        await asyncio.to_thread(RECORDED.write_text, history.to_json())


async def test_pause_stops_new_tenants_and_resume_goes_on(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenants = sorted(await active_tenants(api, 3))
    async with step_held(settings, tenants[0], "migrate_tenant_database"):
        rollout_id = await start(api, PREVIOUS, tenants, concurrency=1, canary=0)
        await until(api, rollout_id, lambda s: s["running"] == 1)
        response = await api.post(f"/api/migrations/{rollout_id}/pause")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "Paused"
        again = await api.post(f"/api/migrations/{rollout_id}/pause")
        assert again.status_code == 409
        assert "only a rollout that is Running can be paused" in again.json()["detail"]
    # The running tenant finished; nothing else began.
    paused = await until(api, rollout_id, lambda s: s["succeeded"] == 1 and not s["running"])
    assert (paused["status"], paused["pending"]) == ("Paused", 2)
    assert (await stored_revisions(api, settings, tenants[1:])) == dict.fromkeys(tenants[1:], HEAD)

    response = await api.post(f"/api/migrations/{rollout_id}/resume")
    assert response.status_code == 200, response.text
    done = await ended(api, rollout_id)
    assert (done["status"], done["succeeded"]) == ("Completed", 3)


async def test_cancel_mid_rollout_leaves_every_tenant_at_one_revision_or_the_other(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # Rollouts take tenants in id order: the isolated one ("mia-") goes first, then the shared
    # ones ("mig-"), the second of which is held at the lock its migration takes.
    tenants = await active_tenants(api, 1, isolated=1, prefix="mia")
    tenants += sorted(await active_tenants(api, 3))
    assert tenants == sorted(tenants)
    async with step_held(settings, tenants[1], "migrate_tenant_database", isolated=False):
        rollout_id = await start(api, PREVIOUS, tenants, concurrency=1, canary=0)
        await until(api, rollout_id, lambda s: s["succeeded"] == 1 and s["running"] == 1)
        response = await api.post(f"/api/migrations/{rollout_id}/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["cancelRequested"] is True
    done = await ended(api, rollout_id)
    assert done["status"] == "Cancelled"
    assert done["succeeded"] <= 2 and done["pending"] >= 2
    revisions = await stored_revisions(api, settings, tenants)
    assert set(revisions.values()) <= {PREVIOUS, HEAD}
    assert revisions[tenants[0]] == PREVIOUS
    assert revisions[tenants[2]] == revisions[tenants[3]] == HEAD
    for tenant_id in tenants:  # none left Migrating, each row saying where its storage is
        tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
        assert (tenant["status"], tenant["schemaRevision"]) == ("Active", revisions[tenant_id])
        # Whole revisions only: t0003's objects are there exactly when its version row is.
        stored = await stored_schema(settings, tenant)
        assert stored.revision == revisions[tenant_id]
        made = "labels" in stored.tables, "priority" in stored.task_columns
        assert made == ((True, True) if stored.revision == "t0003" else (False, False))
    response = await api.post(f"/api/migrations/{rollout_id}/resume")
    assert response.status_code == 409
    assert "has ended" in response.json()["detail"]


async def test_concurrency_is_never_exceeded_as_temporal_saw_the_children(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    tenants = await active_tenants(api, 7)
    done = await rolled_out(api, PREVIOUS, tenants, concurrency=3, canary=1)
    assert (done["status"], done["succeeded"]) == ("Completed", 7)
    assert 1 <= done["maxRunning"] <= 3

    query = f"ParentWorkflowId = 'migrate-fleet-{done['id']}'"
    spans: list[tuple[datetime, datetime]] = []
    async for run in temporal_client.list_workflows(query):
        assert run.workflow_type == "MigrateTenant"
        assert run.close_time is not None
        spans.append((run.start_time, run.close_time))
    assert len(spans) == 7
    spans.sort()
    # The canary ran alone: every other child started after it closed.
    assert all(start >= spans[0][1] for start, _ in spans[1:])
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    in_flight = peak = 0
    for _, step in edges:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak <= 3


async def test_a_tenant_deleted_during_a_rollout_is_skipped(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    first, second = sorted(await active_tenants(api, 2))
    async with step_held(settings, first, "migrate_tenant_database"):
        rollout_id = await start(api, PREVIOUS, [first, second], concurrency=1, canary=0)
        await until(api, rollout_id, lambda s: s["running"] == 1)
        assert (await api.delete(f"/api/tenants/{second}")).status_code == 202
        await wait_for_status(api, second, {TenantStatus.DELETED})
    done = await ended(api, rollout_id)
    assert (done["status"], done["succeeded"], done["skipped"], done["failed"]) == (
        "Completed",
        1,
        1,
        0,
    )
    ((skip_id, reason),) = [(s["tenantId"], s["reason"]) for s in done["skips"]]
    assert skip_id == second and reason


async def test_a_second_rollout_is_refused_while_one_runs(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    (tenant_id,) = await active_tenants(api, 1)
    body = {"targetRevision": PREVIOUS, "tenantIds": [tenant_id]}
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        # Two at once: the partial unique index lets exactly one in.
        racing = await asyncio.gather(*(api.post("/api/migrations", json=body) for _ in "ab"))
        assert sorted(r.status_code for r in racing) == [202, 409]
        (accepted,) = [r.json() for r in racing if r.status_code == 202]
        rollout_id = accepted["id"]
        response = await api.post("/api/migrations", json={"targetRevision": "head"})
        assert response.status_code == 409
        assert rollout_id in response.json()["detail"]
        assert (await api.post(f"/api/migrations/{rollout_id}/cancel")).status_code == 200
    assert (await ended(api, rollout_id))["status"] == "Cancelled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targetRevision": "no-such-revision"}, "targetRevision"),
        ({"targetRevision": "head", "concurrency": 0}, "concurrency"),
        ({"targetRevision": "head", "concurrency": 51}, "concurrency"),
        ({"targetRevision": "head", "canary": -1}, "canary"),
        ({"targetRevision": "head", "maxFailures": -1}, "maxFailures"),
        ({"targetRevision": "head", "tenantIds": []}, "tenantIds"),
        ({"targetRevision": "head", "tenantIds": ["mig-x", "Not_An_Id"]}, "tenantIds.1"),
        ({"targetRevision": "head", "tenantIds": ["a\x00b"]}, "tenantIds.0"),
        ({"targetRevision": "head", "tenantIds": ["x" * 64]}, "tenantIds.0"),
        ({"targetRevision": "head", "tenantIds": ["mig-no-such-1", "mig-no-such-2"]}, "tenantIds"),
    ],
)
async def test_a_bad_request_is_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/migrations", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", *(int(p) if p.isdigit() else p for p in field.split("."))]
    if "mig-no-such-1" in str(body):  # ids that do not exist: each named
        assert "mig-no-such-1" in error["msg"] and "mig-no-such-2" in error["msg"]
    listed = (await api.get("/api/migrations")).json()
    assert all(r["status"] in FINAL for r in listed)  # nothing started


async def test_a_request_naming_a_tenant_that_does_not_exist_is_422_and_starts_nothing(
    api: httpx.AsyncClient,
) -> None:
    (tenant_id,) = await active_tenants(api, 1)
    before = (await api.get("/api/migrations")).json()
    body = {"targetRevision": "head", "tenantIds": [tenant_id, "mig-missing-0"]}
    response = await api.post("/api/migrations", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "tenantIds"]
    assert "mig-missing-0" in error["msg"] and tenant_id not in error["msg"]
    assert (await api.get("/api/migrations")).json() == before


async def test_commands_that_do_not_apply_are_409_and_unknown_rollouts_404(
    api: httpx.AsyncClient,
) -> None:
    tenants = await active_tenants(api, 1)
    done = await rolled_out(api, PREVIOUS, tenants)
    for command in ("pause", "resume", "cancel", "retry"):
        response = await api.post(f"/api/migrations/{done['id']}/{command}")
        assert response.status_code == 409, (command, response.text)
        assert "has ended (Completed)" in response.json()["detail"]
    assert (await api.get("/api/migrations/20990101-0000-abcd")).status_code == 404
    assert (await api.post("/api/migrations/20990101-0000-abcd/pause")).status_code == 404


async def progress_events(client: httpx.AsyncClient, url: str) -> list[ServerSentEvent]:
    """Every `progress` event of a rollout's stream, until the stream ends."""
    async with aconnect_sse(client, "GET", url) as source:
        assert source.response.status_code == 200
        return [event async for event in source.aiter_sse() if event.event == "progress"]


async def test_the_stream_sends_each_change_until_the_end_then_204(
    api: httpx.AsyncClient, api_url: str, root_token: str
) -> None:
    tenants = await active_tenants(api, 2)
    rollout_id = await start(api, PREVIOUS, tenants, concurrency=1)
    url = f"/api/migrations/{rollout_id}/events?access_token={root_token}"
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        events = await progress_events(client, url)
        seen = [event.json() for event in events]
        ids = [int(event.id) for event in events]
        assert seen[-1]["status"] == "Completed"
        assert [s["status"] for s in seen[:-1]] == ["Running"] * (len(seen) - 1)
        assert ids == sorted(set(ids))
        again = await client.get(url, headers={"Last-Event-ID": str(ids[-1])})
        assert again.status_code == 204
    assert seen[-1]["status"] in FINAL


async def test_the_stream_follows_the_rollout_across_continue_as_new_to_its_end(
    api: httpx.AsyncClient,
    api_url: str,
    root_token: str,
    settings: Settings,
    control_plane: AsyncEngine,
    temporal_client: Client,
) -> None:
    tenants = sorted(await active_tenants(api, 3))
    # What POST /api/migrations does, but with a run that continues as new as soon as it can
    # (after each page listed or tenant taken): the stream must outlive the first run.
    rollout_id = rollouts.new_rollout_id()
    workflow_id = fleet_workflow_id(rollout_id)
    arg = MigrateFleetInput(
        rollout_id, PREVIOUS, "test", tenants, concurrency=1, canary=0, total=3, events_per_run=1
    )
    row = {
        "id": rollout_id,
        "workflow_id": workflow_id,
        "target_revision": PREVIOUS,
        "total": 3,
        "initiated_by": "test",
    }
    async with AsyncSession(control_plane) as session, session.begin():
        await rollouts.claim(session, row)
        handle = await temporal_client.start_workflow(
            MigrateFleet.run, arg, id=workflow_id, task_queue=settings.fleet_queue
        )
    url = f"/api/migrations/{rollout_id}/events?access_token={root_token}"
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        seen = [event.json() for event in await progress_events(client, url)]
    assert (seen[-1]["status"], seen[-1]["succeeded"], seen[-1]["pending"]) == ("Completed", 3, 0)
    # It did continue as new (more than once): the run the stream ended on is not the first.
    last_run = (await temporal_client.get_workflow_handle(workflow_id).describe()).run_id
    assert last_run != handle.first_execution_run_id
    assert (await handle.result()).runs >= 3


async def test_rollouts_are_for_root_only(
    api: httpx.AsyncClient, api_url: str, anonymous: httpx.AsyncClient
) -> None:
    (tenant_id,) = await active_tenants(api, 1)
    admin = await token_for(api_url, f"admin@{tenant_id}.example.com", PASSWORD, tenant_id)
    headers = {"Authorization": f"Bearer {admin}"}
    body = {"targetRevision": "head", "tenantIds": [tenant_id]}
    assert (await anonymous.get("/api/migrations")).status_code == 401
    assert (await anonymous.get("/api/migrations", headers=headers)).status_code == 403
    response = await anonymous.post("/api/migrations", json=body, headers=headers)
    assert response.status_code == 403


async def test_a_terminated_rollout_shows_failed_and_is_settled_by_the_next_start(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    (tenant_id,) = await active_tenants(api, 1)
    async with step_held(settings, tenant_id, "migrate_tenant_database"):
        rollout_id = await start(api, PREVIOUS, [tenant_id])
        await until(api, rollout_id, lambda s: s["running"] == 1)
        await temporal_client.get_workflow_handle(f"migrate-fleet-{rollout_id}").terminate()
        stopped = await until(api, rollout_id, lambda s: s["status"] == "Failed")
        assert "was terminated" in stopped["error"]
    # Its child was asked to cancel: the tenant is Active at one revision, not Migrating.
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    assert tenant["schemaRevision"] in {PREVIOUS, HEAD}
    done = await rolled_out(api, "head", [tenant_id])  # not a 409: the old row is settled
    assert done["status"] == "Completed"
    settled = (await api.get(f"/api/migrations/{rollout_id}")).json()
    assert settled["status"] == "Failed"
    assert "was terminated" in settled["error"]
    # Settled without a final snapshot: still read from its row alone, with neither Temporal
    # nor a worker.
    async with AsyncSession(control_plane) as session:
        row = await session.get(Rollout, rollout_id)
    assert row is not None and row.finished_at is not None and row.summary is None
    assert await migrations.read(NoTemporal(), row) == MigrationOut.model_validate(settled)
