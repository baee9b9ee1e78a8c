"""`python -m bench.migrations` (part of `make bench`): fleet rollouts of the tenant schema.

Starts its own stack (bench/stack.py: embedded PostgreSQL, the file-backed Temporal dev server,
one worker, one API), provisions real tenants through the API (each at head, with real storage),
then measures, client side, through the API only:

- rollouts of `--tenants` (200) tenants at concurrency 5 and 20: a rollback to the previous
  revision, then forward to head; duration (the rollout's own startedAt -> finishedAt) and
  tenants/s, and the most tenant migrations in flight (`maxRunning`);
- the interactive figure: a new tenant's POST -> Active (seen on its /events stream), p50, one
  at a time, on the idle stack and while a rollout of `--fleet` (500) tenants runs at
  concurrency 20. Issue 11's target: loaded p50 <= 2 x idle p50.

With `--modes separate,shared` the interactive figure is taken twice, each on a fresh stack:
`separate` is the default deployment (fleet work on TEMPORAL_TASK_QUEUE-fleet, few worker slots:
FLEET_MAX_ACTIVITIES, FLEET_MAX_WORKFLOW_TASKS), `shared` puts the rollout on the interactive
queue itself (FLEET_TASK_QUEUE=TEMPORAL_TASK_QUEUE), to show what the separate queue buys.

Writes bench/migrations-results.json; the figures go into docs/benchmarks.md. A smoke run:
`python -m bench.migrations --tenants 20 --fleet 20 --n 3`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bench.provision import new_id, summary, timed_post, to_active
from bench.sse import sign_in
from bench.stack import TASK_QUEUE, Stack, running_stack
from core.database import create_engine
from core.models import Tenant
from core.schema import tenant_revisions

RESULTS = Path(__file__).with_name("migrations-results.json")
FINAL = {"Completed", "Failed", "Cancelled"}
HEAD, REVISIONS = tenant_revisions()
PREVIOUS = REVISIONS[-2].id


def say(line: str) -> None:
    print(f"[migrations] {line}", file=sys.stderr, flush=True)


async def provision(stack: Stack, api: httpx.AsyncClient, count: int) -> list[str]:
    """`count` new tenants (shared schemas), 20 requests at a time, until every one is Active."""
    ids = [new_id("mig") for _ in range(count)]
    slots = asyncio.Semaphore(20)

    async def post(tenant_id: str) -> None:
        async with slots:
            await timed_post(api, tenant_id)

    await asyncio.gather(*(post(t) for t in ids))
    engine = create_engine(stack.database_url)
    try:
        async with asyncio.timeout(max(120, count)):
            while True:
                async with engine.connect() as conn:
                    statuses = (
                        await conn.execute(select(Tenant.status).where(Tenant.id.in_(ids)))
                    ).scalars()
                    pending = [s for s in statuses if s != "Active"]
                if not pending:
                    return ids
                if "Failed" in pending:
                    raise RuntimeError("a bench tenant failed to provision")
                await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def start(api: httpx.AsyncClient, target: str, ids: list[str], concurrency: int) -> str:
    body = {"targetRevision": target, "tenantIds": ids, "concurrency": concurrency}
    response = await api.post("/api/migrations", json=body)
    response.raise_for_status()
    return str(response.json()["id"])


async def state(api: httpx.AsyncClient, rollout_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/migrations/{rollout_id}")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


async def until(api: httpx.AsyncClient, rollout_id: str, key: str, values: Any) -> dict[str, Any]:
    """Poll the rollout until `state[key]` is in `values`."""
    async with asyncio.timeout(3600):
        while True:
            found = await state(api, rollout_id)
            if found[key] in values:
                return found
            await asyncio.sleep(0.25)


async def ended(api: httpx.AsyncClient, rollout_id: str) -> dict[str, Any]:
    return await until(api, rollout_id, "status", FINAL)


def figures(done: dict[str, Any], tenants: int, concurrency: int) -> dict[str, Any]:
    began = datetime.fromisoformat(done["startedAt"])
    finished = datetime.fromisoformat(done["finishedAt"])
    seconds = (finished - began).total_seconds()
    return {
        "tenants": tenants,
        "concurrency": concurrency,
        "status": done["status"],
        "succeeded": done["succeeded"],
        "failed": done["failed"],
        "seconds": round(seconds, 1),
        "tenants_per_s": round(done["succeeded"] / seconds, 1) if seconds else None,
        "max_running": done["maxRunning"],
    }


async def rollout(
    api: httpx.AsyncClient, target: str, ids: list[str], concurrency: int
) -> dict[str, Any]:
    done = await ended(api, await start(api, target, ids, concurrency))
    if done["status"] != "Completed":
        raise RuntimeError(f"rollout ended {done['status']}: {done['failures'][:3]}")
    return figures(done, len(ids), concurrency)


async def under_rollout(
    stack: Stack, api: httpx.AsyncClient, auth: dict[str, str], ids: list[str], n: int
) -> dict[str, Any]:
    """POST -> Active of new tenants, one at a time, while a rollout of `ids` runs at 20."""
    rollout_id = await start(api, PREVIOUS, ids, 20)
    await until(api, rollout_id, "succeeded", range(1, len(ids) + 1))  # the canary is through
    took: list[float] = []
    while len(took) < n:
        current = await state(api, rollout_id)
        if current["status"] in FINAL:
            break
        took.extend(await to_active(stack, api, auth, False, 1))
    done = await ended(api, rollout_id)
    result = summary(took)
    result["rollout"] = figures(done, len(ids), 20)
    result["samples_while_running"] = len(took)
    return result


async def measure_rollouts(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    auth = await sign_in(stack.api_url)
    results: dict[str, Any] = {"revisions": {"head": HEAD, "previous": PREVIOUS}}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=auth, timeout=120) as api:
        say("warm-up")
        await to_active(stack, api, auth, False, 2)
        say(f"provisioning {args.tenants} tenants")
        ids = await provision(stack, api, args.tenants)
        rollouts = []
        for concurrency in args.concurrency:
            say(f"{args.tenants} tenants at concurrency {concurrency}: back, then forward")
            back = await rollout(api, PREVIOUS, ids, concurrency)
            forward = await rollout(api, "head", ids, concurrency)
            rollouts += [back | {"direction": "rollback"}, forward | {"direction": "upgrade"}]
        results["rollouts"] = rollouts
    return results


async def measure_interactive(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    auth = await sign_in(stack.api_url)
    async with httpx.AsyncClient(base_url=stack.api_url, headers=auth, timeout=120) as api:
        say("warm-up")
        await to_active(stack, api, auth, False, 2)
        say(f"provisioning a fleet of {args.fleet} tenants")
        ids = await provision(stack, api, args.fleet)
        await asyncio.sleep(2)
        say(f"POST -> Active idle, {args.n} times")
        idle = summary(await to_active(stack, api, auth, False, args.n))
        say(f"POST -> Active while {args.fleet} tenants roll out at concurrency 20")
        loaded = await under_rollout(stack, api, auth, ids, args.n)
    ratio = loaded["p50_ms"] / idle["p50_ms"] if loaded["p50_ms"] and idle["p50_ms"] else None
    return {
        "idle": idle,
        "loaded": loaded,
        "ratio_p50": round(ratio, 2) if ratio else None,
        "target_met": ratio is not None and ratio <= 2.0,
    }


# How each mode deploys fleet work (environment of the stack's worker and API).
MODES = {
    "separate": {},
    # The rollout on the interactive queue itself, with the interactive Worker's slots.
    "shared": {"FLEET_TASK_QUEUE": TASK_QUEUE},
    # The separate queue, and Temporal hands out at most this many fleet activities a second.
    "throttled": {"FLEET_ACTIVITIES_PER_SECOND": "6"},
}


@contextlib.contextmanager
def fleet_queue(mode: str) -> Iterator[None]:
    """The stack started inside gets `mode`'s environment (bench/stack.py copies os.environ)."""
    before = {name: os.environ.get(name) for name in MODES[mode]}
    os.environ.update(MODES[mode])
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def report(results: dict[str, Any]) -> str:
    lines = [
        "| rollout | tenants | concurrency | seconds | tenants/s | max in flight |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["rollouts"]:
        lines.append(
            f"| {r['direction']} | {r['tenants']} | {r['concurrency']} | {r['seconds']} "
            f"| {r['tenants_per_s']} | {r['max_running']} |"
        )
    lines += [
        "",
        "| fleet queue | idle POST->Active p50 ms | during rollout p50 ms | ratio | samples |",
        "|---|---|---|---|---|",
    ]
    for mode, figure in results["interactive"].items():
        lines.append(
            f"| {mode} | {figure['idle']['p50_ms']} | {figure['loaded']['p50_ms']} "
            f"| {figure['ratio_p50']} | {figure['loaded']['samples_while_running']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.migrations", description=__doc__)
    parser.add_argument(
        "--tenants", type=int, default=200, help="tenants per timed rollout (0: none)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--fleet", type=int, default=500, help="the rollout behind the figure")
    parser.add_argument("--n", type=int, default=10, help="POST -> Active samples per figure")
    parser.add_argument(
        "--modes", default="separate,shared", help=f"comma-separated, of {', '.join(MODES)}"
    )
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.monotonic()
    results: dict[str, Any] = {"rollouts": []}
    if args.tenants:
        say("starting the stack (PostgreSQL, file-backed Temporal, setup, worker, API)")
        with running_stack(file_backed=True) as stack:
            results = asyncio.run(measure_rollouts(stack, args))
    results["interactive"] = {}
    for mode in args.modes.split(","):
        say(f"a fresh stack, fleet work on the {mode} queue")
        with fleet_queue(mode), running_stack(file_backed=True) as stack:
            results["interactive"][mode] = asyncio.run(measure_interactive(stack, args))
    results["runtime_s"] = round(time.monotonic() - began, 1)
    results["args"] = {k: v for k, v in vars(args).items() if k != "json"}
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
