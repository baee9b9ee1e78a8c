"""MigrateFleet on a simulated fleet of 10,000 tenants (workflow logic, real Temporal server).

The listing and the tenants' migrations are same-named fakes (the scale is the point, not the
DDL: tests/integration/test_migrations.py migrates real tenants); the parent's own logic is
real: keyset pages, canaries, bounded concurrency, failures, continue-as-new with its counts.
Every run of the rollout is followed through its ContinuedAsNew events and its history length
checked, so "far from Temporal's history limits" is measured, not assumed.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from activities.rollouts import Candidate, RolloutEnd, RolloutPage
from workflows.fleet_models import FleetStatus, MigrateFleetInput, fleet_workflow_id
from workflows.migrate_fleet import MigrateFleet

pytestmark = pytest.mark.integration

FLEET = 10_000
TARGET = "t0003"
# Every 50th tenant is behind (a child each); the rest are at the target already (skipped).
BEHIND_EVERY = 50
# Of those, these fail (their error is kept on the rollout); none is a canary.
FAILING = {f"fleet-{i:05}" for i in (4_000, 5_000, 9_950)}
EVENTS_PER_RUN = 300


def tenant_id(i: int) -> str:
    return f"fleet-{i:05}"


FLEET_IDS = [tenant_id(i) for i in range(FLEET)]


@activity.defn(name="list_rollout_tenants")
async def list_fake(page: RolloutPage) -> list[Candidate]:
    start = 0 if page.after is None else FLEET_IDS.index(page.after) + 1
    return [
        Candidate(t, "Active", "t0002" if i % BEHIND_EVERY == 0 else TARGET)
        for i, t in enumerate(FLEET_IDS[start : start + page.limit], start)
    ]


ENDS: list[RolloutEnd] = []


@activity.defn(name="finish_rollout")
async def finish_fake(end: RolloutEnd) -> None:
    ENDS.append(end)


@dataclass(frozen=True)
class FakeInput:
    tenant_id: str
    target_revision: str
    rollout_id: str


@dataclass(frozen=True)
class FakeResult:
    tenant_id: str
    outcome: str
    from_revision: str | None = None
    to_revision: str | None = None
    error: str | None = None


@workflow.defn(name="MigrateTenant", sandboxed=False)
class FakeMigrateTenant:
    @workflow.run
    async def run(self, input: FakeInput) -> FakeResult:
        if input.tenant_id in FAILING:
            return FakeResult(input.tenant_id, "failed", "t0002", None, "relation already exists")
        return FakeResult(input.tenant_id, "migrated", "t0002", input.target_revision)


async def run_lengths(client: Client, workflow_id: str, first_run_id: str) -> list[int]:
    """The history length of every run of the rollout, following ContinuedAsNew; each run's
    history replays on this code (the continue-as-new path is deterministic too)."""
    lengths, run_id = [], first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        await Replayer(workflows=[MigrateFleet]).replay_workflow(history)
        lengths.append(len(history.events))
        last = history.events[-1]
        cont = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        attrs = last.workflow_execution_continued_as_new_event_attributes
        run_id = attrs.new_execution_run_id if last.event_type == cont else ""
    return lengths


async def test_a_rollout_of_10000_tenants_continues_as_new_and_keeps_its_counts(
    temporal_client: Client,
) -> None:
    queue = f"fleet-scale-{uuid.uuid4().hex[:8]}"
    rollout_id = f"scale-{uuid.uuid4().hex[:6]}"
    arg = MigrateFleetInput(
        rollout_id,
        TARGET,
        "test",
        concurrency=50,
        canary=3,
        max_failures=10,
        total=FLEET,
        events_per_run=EVENTS_PER_RUN,
    )
    worker = Worker(
        temporal_client,
        task_queue=queue,
        workflows=[MigrateFleet, FakeMigrateTenant],
        activities=[list_fake, finish_fake],
    )
    async with worker:
        handle = await temporal_client.start_workflow(
            MigrateFleet.run, arg, id=fleet_workflow_id(rollout_id), task_queue=queue
        )
        result = await handle.result()
        assert handle.first_execution_run_id is not None
        lengths = await run_lengths(temporal_client, handle.id, handle.first_execution_run_id)

    behind = FLEET // BEHIND_EVERY
    assert result.status is FleetStatus.FAILED  # three failed, within maxFailures: it went on
    assert (result.total, result.pending, result.running) == (FLEET, 0, [])
    assert result.succeeded == behind - len(FAILING)
    assert result.skipped == FLEET - behind
    assert result.failed == len(FAILING)
    assert {f.tenant_id for f in result.failures} == FAILING
    assert 1 <= result.max_running <= 50
    # Many runs, each far below Temporal's 51,200-event limit (and its 10,240 warning).
    assert result.runs == len(lengths) >= 4
    assert max(lengths) < 2 * EVENTS_PER_RUN
    ended: Any = [e for e in ENDS if e.rollout_id == rollout_id]
    assert [e.status for e in ended] == ["Failed"]
