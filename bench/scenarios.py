"""The two measurements: per-step delivery delay over real provisioning runs, and the cost and
final-state delay of 1..1000 subscribers of one held workflow, for the shared reader (the real
API) and the naive baseline (every subscriber querying every second)."""

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from bench.probes import METRICS_LAG_SECONDS, migrations_held, query_requests, wait_for_step
from bench.stack import Stack
from bench.stats import Delays, delays
from bench.subscribers import Crowd, Subscriber
from core.settings import Settings
from workflows.models import StepName, provision_workflow_id

Mode = Literal["shared", "naive"]
SERVER = {"shared": "api", "naive": "naive_api"}


@dataclass(frozen=True)
class Bench:
    stack: Stack
    settings: Settings
    api: httpx.AsyncClient  # the real API, signed in as root
    auth: dict[str, str]


def new_tenant_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_tenant(bench: Bench, tenant_id: str, *, isolated: bool = False) -> None:
    body = {
        "id": tenant_id,
        "name": f"Bench {tenant_id}",
        "adminEmail": f"admin@{tenant_id}.example.com",
        "password": "s3cret-pass",
        "hasIsolatedDatabase": isolated,
    }
    response = await bench.api.post("/api/tenants", json=body)
    if response.status_code != 202:
        raise RuntimeError(f"POST /api/tenants: {response.status_code} {response.text}")


# 1. Per-step delivery ------------------------------------------------------------------------


async def _provision_and_watch(bench: Bench, index: int, within: float) -> Subscriber:
    tenant_id = new_tenant_id("step")
    await create_tenant(bench, tenant_id, isolated=index % 2 == 1)
    subscriber = Subscriber(f"{bench.stack.api_url}/api/tenants/{tenant_id}/events")
    try:
        await asyncio.wait_for(subscriber.run(bench.auth), within)
    except TimeoutError:
        subscriber.error = f"no terminal snapshot within {within:.0f}s"
    return subscriber


async def step_delivery(bench: Bench, tenants: int, concurrency: int) -> dict[str, Any]:
    """Provision `tenants` tenants (`concurrency` at a time), one subscriber each opened right
    after the 202; delay of every event but each stream's first."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> Subscriber:
        async with gate:
            return await _provision_and_watch(bench, index, within=60.0)

    before = bench.stack.cpu(), time.monotonic()
    subscribers = await asyncio.gather(*(one(i) for i in range(tenants)))
    after = bench.stack.cpu(), time.monotonic()
    changes = [event for s in subscribers for event in s.changes]
    return {
        "tenants": tenants,
        "concurrency": concurrency,
        "seconds": round(after[1] - before[1], 2),
        "cpu": cpu_rates(before, after),
        "active": sum(s.final is not None and s.final.status == "Active" for s in subscribers),
        "errors": [s.error for s in subscribers if s.error],
        "delivery": delays([event.delay for event in changes]).as_dict(),
    }


# 2. Fan-out: cost of N subscribers and their final-state delay -------------------------------


def cpu_rates(
    start: tuple[dict[str, float], float], end: tuple[dict[str, float], float]
) -> dict[str, float]:
    """CPU-seconds per wall-second of each process between two (cpu, monotonic) readings, and
    `other`: the machine's busy cores not used by the processes we track (PostgreSQL, and
    anything else running on the machine)."""
    wall = end[1] - start[1]
    rates = {name: (used - start[0][name]) / wall for name, used in end[0].items()}
    rates["other"] = rates["machine"] - sum(v for k, v in rates.items() if k != "machine")
    return {name: round(value, 3) for name, value in rates.items()}


@dataclass(frozen=True)
class Sample:
    wall: float
    queries: float
    cpu: dict[str, float]


async def _sample(bench: Bench) -> Sample:
    queries = await query_requests(bench.api, bench.stack.metrics_url)
    return Sample(time.monotonic(), queries, bench.stack.cpu())


def _rates(start: Sample, end: Sample) -> dict[str, float]:
    """Queries per second and each process's CPU-seconds per wall-second between samples."""
    rates = {"queries_per_s": round((end.queries - start.queries) / (end.wall - start.wall), 3)}
    cpu = cpu_rates((start.cpu, start.wall), (end.cpu, end.wall))
    return rates | {f"cpu_{name}": value for name, value in cpu.items()}


def _stream_url(bench: Bench, mode: Mode, tenant_id: str) -> str:
    if mode == "shared":
        return f"{bench.stack.api_url}/api/tenants/{tenant_id}/events"
    return f"{bench.stack.naive_url}/workflows/{provision_workflow_id(tenant_id)}/events"


@dataclass(frozen=True)
class FanoutLimits:
    window: float = 15.0  # the steady-state measurement, workflow held
    # After every subscriber has its first event: longer than the metrics' lag, so the
    # subscription's own queries are not counted in the window.
    settle: float = 2.0
    connect: float = 45.0  # most time allowed for N subscribers to get their first event
    final: float = 30.0  # most time allowed, after the release, for every final snapshot


async def fanout(bench: Bench, mode: Mode, n: int, limits: FanoutLimits) -> dict[str, Any]:
    tenant_id = new_tenant_id(f"fan{n}")
    async with migrations_held(bench.settings, tenant_id):
        await create_tenant(bench, tenant_id)
        await wait_for_step(bench.api, tenant_id, StepName.MIGRATE_DATABASE, "running")
        await asyncio.sleep(METRICS_LAG_SECONDS)  # wait_for_step's own queries are counted
        before = await _sample(bench)
        crowd = Crowd(_stream_url(bench, mode, tenant_id), n, bench.auth)
        try:
            connected = await crowd.wait_first(limits.connect)
            connect_seconds = time.monotonic() - before.wall
            await asyncio.sleep(limits.settle)
            start = await _sample(bench)
            await asyncio.sleep(limits.window)
            end = await _sample(bench)
            released = time.time()
        except BaseException:
            await crowd.close()
            raise
    try:
        ended = await crowd.wait_done(limits.final)
    finally:
        await crowd.close()
    await asyncio.sleep(METRICS_LAG_SECONDS)
    after = await _sample(bench)
    timeline = Timeline(before, start, end, after, released)
    return _fanout_result(mode, crowd, timeline, connected, connect_seconds, ended)


@dataclass(frozen=True)
class Timeline:
    before: Sample  # before the first subscriber
    start: Sample  # window start: everyone connected, settled
    end: Sample  # window end, just before the release
    after: Sample  # every stream ended (or timed out)
    released: float  # wall clock of the release


def _fanout_result(
    mode: Mode, crowd: Crowd, t: Timeline, connected: int, connect_seconds: float, ended: int
) -> dict[str, Any]:
    subscribers = crowd.subscribers
    finals = [s.final for s in subscribers if s.final is not None]
    window, server = _rates(t.start, t.end), SERVER[mode]
    final_delay: Delays = delays([f.delay for f in finals])
    last = max((f.at for f in finals), default=None)
    return {
        "mode": mode,
        "subscribers": len(subscribers),
        "connected": connected,
        "connect_s": round(connect_seconds, 2),
        "window_s": round(t.end.wall - t.start.wall, 2),
        "queries_per_s": window["queries_per_s"],
        "api_cpu": window[f"cpu_{server}"],
        "window_rates": window,
        "connect_rates": _rates(t.before, t.start),
        "final_rates": _rates(t.end, t.after),
        "queries_whole_case": t.after.queries - t.before.queries,
        "whole_case_s": round(t.after.wall - t.before.wall, 2),
        "api_cpu_seconds_whole_case": round(t.after.cpu[server] - t.before.cpu[server], 2),
        # Every final snapshot was made after the release: the lock really held the run.
        "held": all(f.updated_at > t.released for f in finals),
        "got_final": len(finals),
        "streams_ended": ended,
        "final_delivery": final_delay.as_dict(),
        "change_delivery": delays([e.delay for s in subscribers for e in s.changes]).as_dict(),
        "release_to_last_final_s": None if last is None else round(last - t.released, 3),
        "errors": sorted({s.error for s in subscribers if s.error})[:5],
    }
