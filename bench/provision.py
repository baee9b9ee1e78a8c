"""`python -m bench.provision` (part of `make bench`): how fast tenants become Active.

Starts its own stack like `make dev`'s (embedded PostgreSQL, the file-backed Temporal dev server
with the same flags, one worker, one API), then measures in one run, client side:

- the floor: the same work with no orchestration (the real activities called in-process, one
  after another: admin user, database or schema, migrations), shared and isolated;
- POST → Active seen on `/events`, one tenant at a time, shared and isolated;
- `POST /api/tenants` alone: back to back (each overlapping the provisioning of the ones just
  before it) and with nothing else running; and with 50 concurrent clients;
- a burst of 200 tenants from 50 clients: tenants/s, time to the last Active, failed attempts,
  and the API's and worker's RSS and CPU meanwhile.

Prints the table with ratios to the floor and writes JSON (bench/provision-results.json); the
figures and charts go into docs/benchmarks.md.
"""

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.control_plane import ControlPlaneActivities
from activities.models import TenantRef
from activities.progress import AttemptReporter
from activities.tenant_storage import TenantStorageActivities
from bench.breakdown import breakdown
from bench.provision_report import report
from bench.rawsse import events
from bench.sse import sign_in
from bench.stack import Stack, cpu_seconds, running_stack
from bench.stats import delays, percentile
from core.database import create_engine
from core.models import Tenant
from core.naming import storage_name
from core.passwords import hash_password
from core.settings import Settings
from core.status import TenantStatus

RESULTS = Path(__file__).with_name("provision-results.json")
PASSWORD = "s3cret-pass-1"


def say(line: str) -> None:
    print(f"[bench] {line}", file=sys.stderr, flush=True)


def body(tenant_id: str, isolated: bool) -> dict[str, Any]:
    return {
        "id": tenant_id,
        "name": f"Bench {tenant_id}",
        "adminEmail": f"admin@{tenant_id}.example.com",
        "password": PASSWORD,
        "hasIsolatedDatabase": isolated,
    }


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def floor(stack: Stack, isolated: bool, n: int) -> list[float]:
    """The activities' own work, no Temporal: a Pending row, then the three steps in turn."""
    settings = Settings(database_url=stack.database_url)
    engine = create_engine(stack.database_url)
    storage = TenantStorageActivities(engine, AttemptReporter(None))
    control = ControlPlaneActivities(engine, AttemptReporter(None))
    env, took = ActivityEnvironment(), []
    password_hash = hash_password(PASSWORD)
    try:
        for _ in range(n):
            tenant_id = new_id("floor")
            name = storage_name(settings.tenant_storage_prefix, tenant_id)
            async with engine.begin() as conn:
                await conn.execute(
                    insert(Tenant).values(
                        id=tenant_id,
                        name="Floor",
                        status=TenantStatus.PENDING,
                        is_active=True,
                        has_isolated_database=isolated,
                        database_name=name if isolated else settings.tenants_database,
                        schema_name="public" if isolated else name,
                        admin_email=f"admin@{tenant_id}.example.com",
                        admin_password_hash=password_hash,
                    )
                )
            ref = TenantRef(tenant_id)
            began = time.perf_counter()
            await env.run(control.create_admin_user, ref)
            await env.run(storage.create_tenant_database, ref)
            await env.run(storage.migrate_tenant_database, ref)
            took.append(time.perf_counter() - began)
    finally:
        await storage.close()
        await engine.dispose()
    return took


async def until_active(stack: Stack, auth: dict[str, str], tenant_id: str) -> str:
    async for event in events(f"{stack.api_url}/api/tenants/{tenant_id}/events", auth):
        status = str(json.loads(event.data)["status"])
        if status in {"Active", "Failed", "Cancelled"}:
            return status
    return "ended"


async def to_active(
    stack: Stack,
    api: httpx.AsyncClient,
    auth: dict[str, str],
    isolated: bool,
    n: int,
    runs: list[tuple[str, float, float]] | None = None,
) -> list[float]:
    """POST, then the Active snapshot on /events: client side, one tenant at a time. `runs`
    collects (workflow id, began, seen) in wall-clock time for the breakdown."""
    took = []
    for _ in range(n):
        tenant_id = new_id("lat")
        began_wall, began = time.time(), time.perf_counter()
        response = await api.post("/api/tenants", json=body(tenant_id, isolated))
        response.raise_for_status()
        status = await asyncio.wait_for(until_active(stack, auth, tenant_id), 60)
        if status != "Active":
            raise RuntimeError(f"{tenant_id} ended {status}")
        took.append(time.perf_counter() - began)
        if runs is not None:
            runs.append((response.json()["workflowId"], began_wall, began_wall + took[-1]))
    return took


async def timed_post(api: httpx.AsyncClient, tenant_id: str) -> float:
    began = time.perf_counter()
    response = await api.post("/api/tenants", json=body(tenant_id, False))
    response.raise_for_status()
    return time.perf_counter() - began


async def posts_alone(api: httpx.AsyncClient, n: int) -> list[float]:
    """One after another: each POST overlaps the provisioning of those just before it."""
    return [await timed_post(api, new_id("post")) for _ in range(n)]


IDLE_GAP = 0.5  # s: longer than a tenant's provisioning (p50 ~0.2 s), so none is running


async def posts_on_idle_stack(api: httpx.AsyncClient, n: int) -> list[float]:
    """One at a time with nothing else running: the previous tenant's provisioning is over."""
    took = []
    for _ in range(n):
        await asyncio.sleep(IDLE_GAP)
        took.append(await timed_post(api, new_id("idle")))
    return took


async def posts_concurrent(
    stack: Stack, api: httpx.AsyncClient, clients: int
) -> tuple[list[float], float]:
    """`clients` POSTs at once; also the API's CPU time per POST meanwhile (ms): with one
    event loop, `clients` x that is the least time the last of them can take."""
    pid = stack.processes["api"].pid
    cpu_before = cpu_seconds(pid)
    took = await asyncio.gather(*(timed_post(api, new_id("conc")) for _ in range(clients)))
    return list(took), (cpu_seconds(pid) - cpu_before) / clients * 1000


@contextlib.asynccontextmanager
async def temporal_client(stack: Stack) -> AsyncIterator[Client]:
    yield await Client.connect(stack.env["TEMPORAL_ADDRESS"])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def burst(stack: Stack, api: httpx.AsyncClient, tenants: int, clients: int) -> dict[str, Any]:
    """`tenants` creates from `clients` concurrent clients; then wait until all are final."""
    ids = [new_id("burst") for _ in range(tenants)]
    pids = {name: stack.processes[name].pid for name in ("api", "worker")}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    peak = {name: rss_mib(pid) for name, pid in pids.items()}
    slots = asyncio.Semaphore(clients)

    async def submit(tenant_id: str) -> float:
        async with slots:
            return await timed_post(api, tenant_id)

    engine = create_engine(stack.database_url)
    used_before = stack.cpu()
    began_wall, began = time.time(), time.perf_counter()
    submitted = asyncio.ensure_future(asyncio.gather(*(submit(t) for t in ids)))
    final: dict[str, tuple[str, float]] = {}
    try:
        while len(final) < tenants:
            await asyncio.sleep(0.1)
            for name, pid in pids.items():
                peak[name] = max(peak[name], rss_mib(pid))
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(Tenant.id, Tenant.status, Tenant.updated_on).where(Tenant.id.in_(ids))
                )
                for tenant_id, status, updated in rows:
                    if status in ("Active", "Failed", "Cancelled"):
                        final[tenant_id] = (status, updated.timestamp() - began_wall)
            if time.perf_counter() - began > 600:
                raise RuntimeError(f"burst: only {len(final)}/{tenants} final after 600 s")
        post_times = await submitted
    finally:
        await engine.dispose()
    used = {name: value - used_before[name] for name, value in stack.cpu().items()}
    elapsed = max(at for _, at in final.values())
    retried, not_active = 0, []
    for tenant_id in ids:
        progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
        retried += any(step["attempt"] > 1 for step in progress["steps"])
        if final[tenant_id][0] != "Active":
            not_active.append(f"{tenant_id}: {final[tenant_id][0]}: {progress.get('error')}")
    return {
        "tenants": tenants,
        "clients": clients,
        "active": sum(status == "Active" for status, _ in final.values()),
        "last_active_s": round(elapsed, 2),
        "tenants_per_s": round(tenants / elapsed, 1),
        "with_failed_attempts": retried,
        "not_active": not_active,
        "post": delays(post_times).as_dict(),
        "to_final": delays([at for _, at in final.values()]).as_dict(),
        # For the chart: when each tenant became final, seconds after the burst began.
        "final_at_s": sorted(round(at, 3) for _, at in final.values()),
        "rss_peak_mib": {name: round(value) for name, value in peak.items()},
        "cpu_s": {
            name: round(cpu_seconds(pid) - cpu_before[name], 1) for name, pid in pids.items()
        },
        # Where a tenant's CPU goes on this machine (PostgreSQL and the rest: what the machine
        # was busy with besides our processes and this client), ms per tenant.
        "cpu_ms_per_tenant": {
            "api": round(used["api"] / tenants * 1000, 1),
            "worker": round(used["worker"] / tenants * 1000, 1),
            "temporal": round(used["temporal"] / tenants * 1000, 1),
            "bench_client": round(used["bench"] / tenants * 1000, 1),
            "postgres_and_rest": round(
                (used["machine"] - sum(v for k, v in used.items() if k != "machine"))
                / tenants
                * 1000,
                1,
            ),
        },
    }


def summary(seconds: list[float]) -> dict[str, Any]:
    result = delays(seconds).as_dict()
    ms = sorted(s * 1000 for s in seconds)
    result["p99_ms"] = round(percentile(ms, 99), 1) if ms else None
    return result


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    auth = await sign_in(stack.api_url)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=auth, timeout=120) as api:
        say("warm-up")
        await to_active(stack, api, auth, False, 2)
        await to_active(stack, api, auth, True, 1)
        say("floor: the activities in-process, no orchestration")
        results["floor_shared"] = summary(await floor(stack, False, args.n))
        results["floor_isolated"] = summary(await floor(stack, True, args.n))
        say("POST -> Active on /events, one at a time")
        shared_runs: list[tuple[str, float, float]] = []
        results["active_shared"] = summary(
            await to_active(stack, api, auth, False, args.n, shared_runs)
        )
        results["active_isolated"] = summary(await to_active(stack, api, auth, True, args.n))
        async with temporal_client(stack) as client:
            results["active_shared_breakdown_ms"] = await breakdown(client, shared_runs)
        say("POST /api/tenants alone, then 50 at once")
        results["post_alone"] = summary(await posts_alone(api, args.n * 2))
        results["post_idle"] = summary(await posts_on_idle_stack(api, args.n))
        concurrent, cpu_ms = await posts_concurrent(stack, api, args.clients)
        results["post_concurrent"] = summary(concurrent)
        results["post_concurrent"]["api_cpu_ms_per_post"] = round(cpu_ms, 1)
        await asyncio.sleep(5)  # let the concurrent ones drain before the burst
        say(f"burst: {args.burst} tenants from {args.clients} clients")
        results["burst"] = await burst(stack, api, args.burst, args.clients)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.provision", description=__doc__)
    parser.add_argument("--n", type=int, default=10, help="runs per latency figure")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    args = parser.parse_args()
    say("starting the stack (PostgreSQL, file-backed Temporal, setup, worker, API)")
    began = time.monotonic()
    with running_stack(file_backed=True) as stack:
        results = asyncio.run(measure(stack, args))
    results["label"] = args.label
    results["runtime_s"] = round(time.monotonic() - began, 1)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
