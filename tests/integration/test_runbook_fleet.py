"""Run docs/operations.md's fleet-migration commands, as written, and check their effect through
the API: the CLI's pause, resume and cancel are the same Updates the API sends."""

import httpx
import pytest

from core.schema import tenant_revisions
from core.settings import Settings
from tests.helpers import step_held
from tests.rollouts import active_tenants, ended, start, until
from tests.runbook import blocks, commands, run_until, section
from tests.runbook import run as runbook_run

pytestmark = pytest.mark.integration

_, _REVISIONS = tenant_revisions()
PREVIOUS = _REVISIONS[-2].id

(BLOCK,) = blocks(section("Fleet migrations"))
LIST, QUERY, PAUSE, CHILDREN, RESUME, CANCEL = commands(BLOCK)


async def run(settings: Settings, line: str, rollout_id: str) -> str:
    return await runbook_run(settings, line, ROLLOUT=rollout_id)


async def until_in(settings: Settings, line: str, rollout_id: str, text: str) -> str:
    return await run_until(settings, line, text, ROLLOUT=rollout_id)


async def test_fleet_commands_find_follow_pause_resume_and_cancel_a_rollout(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    first, second = sorted(await active_tenants(api, 2, prefix="rfl"))
    async with step_held(settings, first, "migrate_tenant_database"):
        rollout_id = await start(api, PREVIOUS, [first, second], concurrency=1, canary=0)
        await until(api, rollout_id, lambda s: s["running"] == 1)

        await until_in(settings, LIST, rollout_id, f"migrate-fleet-{rollout_id}")
        progress = await run(settings, QUERY, rollout_id)
        assert '"total": 2' in progress or '"total":2' in progress
        await run(settings, PAUSE, rollout_id)
        assert (await api.get(f"/api/migrations/{rollout_id}")).json()["status"] == "Paused"
        await until_in(settings, CHILDREN, rollout_id, f"migrate-tenant-{first}-{rollout_id}")
        await run(settings, RESUME, rollout_id)
        assert (await api.get(f"/api/migrations/{rollout_id}")).json()["status"] == "Running"
        await run(settings, CANCEL, rollout_id)
    state = await ended(api, rollout_id)
    assert state["status"] == "Cancelled"
    assert state["succeeded"] + state["pending"] == 2  # the first committed or rolled back
