"""Cancels at random moments of many runs — while a step runs, while it is retrying, between
attempts: every run ends Cancelled with nothing left, or Active (the cancel came too late),
never Failed. Seeded: the seed is printed, FAULTS_SEED=<seed> replays a run's choices."""

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.faults.conftest import sized
from tests.faults.storage import NOTHING_LEFT, expected_footprint, tenant_footprint
from tests.helpers import template_held, tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.faults

BATCH = 10
FINAL = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED}


@dataclass(frozen=True)
class Run:
    tenant_id: str
    isolated: bool
    cancel_after: float


async def cancel_later(api: httpx.AsyncClient, run: Run) -> dict[str, object]:
    response = await api.post(
        "/api/tenants", json=tenant_body(run.tenant_id, isolated=run.isolated)
    )
    assert response.status_code == 202, response.text
    await asyncio.sleep(run.cancel_after)  # the random moment is the point of the test
    cancel = await api.post(f"/api/tenants/{run.tenant_id}/cancel")
    assert cancel.status_code in (202, 409), cancel.text  # 409: already over
    return await wait_for_status(api, run.tenant_id, FINAL, within=180)


async def test_cancels_at_random_moments_end_cancelled_or_active_never_failed(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    seed = int(os.environ.get("FAULTS_SEED", time.time_ns() % 2**32))
    print(f"FAULTS_SEED={seed}")
    rng = random.Random(seed)
    runs = [
        Run(unique_tenant_id("rc"), rng.random() < 0.5, rng.uniform(0, 3))
        for _ in range(sized(6, 50))
    ]
    finals: list[dict[str, object]] = []
    for start in range(0, len(runs), BATCH):
        batch, busy_for = runs[start : start + BATCH], rng.uniform(0, 5)

        async def template_busy(seconds: float = busy_for) -> None:
            async with template_held(settings):
                await asyncio.sleep(seconds)  # how long the retry-causing fault lasts

        busy = asyncio.create_task(template_busy())
        finals += await asyncio.gather(*(cancel_later(api, run) for run in batch))
        await busy

    outcomes = Counter(str(tenant["status"]) for tenant in finals)
    print(f"{len(runs)} runs cancelled at random moments: {dict(outcomes)}")
    wrong = {
        t["id"]: t["provisioningError"]
        for t in finals
        if t["status"] not in ("Cancelled", "Active")
    }
    assert wrong == {}, f"FAULTS_SEED={seed}"
    for run, tenant in zip(runs, finals, strict=True):
        footprint = await tenant_footprint(settings, run.tenant_id)
        if tenant["status"] == "Cancelled":
            assert footprint == NOTHING_LEFT | {"rows": 1}, (run, f"FAULTS_SEED={seed}")
        else:
            assert footprint == expected_footprint(run.isolated), (run, f"FAULTS_SEED={seed}")
