"""`python -m bench.sse` (`make bench`): how fast and how cheaply progress reaches SSE clients.

Starts its own stack (embedded PostgreSQL, Temporal dev server with Prometheus metrics, worker,
the real API and a naive baseline API), then measures in one run:

1. delivery delay, from a workflow state change (the snapshot's `updatedAt`, the workflow time
   of the task that made it) to a client having parsed the event, over real provisioning runs;
2. with 1, 100 and 1000 subscribers of one held workflow, for the real API's shared reader and
   for the naive baseline: Temporal QueryWorkflow requests/s (the dev server's own counter), the
   serving API process's CPU, and the delay of the final snapshot once the workflow is released.

Prints the tables and writes them as JSON (bench/results.json). See docs/benchmarks.md.
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.report import summary, targets
from bench.scenarios import Bench, FanoutLimits, Mode, create_tenant, fanout, step_delivery
from bench.stack import Stack, running_stack
from bench.subscribers import Subscriber
from core.settings import Settings
from devstack.__main__ import DEV_DEFAULTS, temporal_binary

RESULTS = Path(__file__).with_name("results.json")
MODES: tuple[Mode, ...] = ("shared", "naive")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sse", description=__doc__)
    parser.add_argument("--tenants", type=int, default=24, help="provisioning runs for part 1")
    parser.add_argument(
        "--concurrency", default="1,4", help="runs at a time in part 1, one row each: 1,4"
    )
    parser.add_argument("--subscribers", default="1,100,1000", help="fan-out sizes, e.g. 1,100")
    parser.add_argument("--modes", default="shared,naive", help="fan-out modes: shared,naive")
    parser.add_argument("--window", type=float, default=15.0, help="steady-state window, seconds")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    return parser.parse_args()


def _modes(text: str) -> list[Mode]:
    modes = [mode for mode in MODES if mode in text.split(",")]
    if not modes:
        raise SystemExit(f"--modes: choose from {', '.join(MODES)}")
    return modes


def _sizes(text: str) -> list[int]:
    return [int(size) for size in text.split(",")]


def raise_open_files(needed: int) -> int:
    """Raise the soft limit on open files (inherited by the API processes) towards `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


async def sign_in(api_url: str) -> dict[str, str]:
    form = {"username": DEV_DEFAULTS["ROOT_EMAIL"], "password": DEV_DEFAULTS["ROOT_PASSWORD"]}
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        response = await client.post("/api/auth/token", data=form)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def warm_up(bench: Bench) -> None:
    """One unmeasured run, so imports and first connections are not in the figures."""
    tenant_id = "warm-up"
    await create_tenant(bench, tenant_id)
    subscriber = Subscriber(f"{bench.stack.api_url}/api/tenants/{tenant_id}/events")
    await asyncio.wait_for(subscriber.run(bench.auth), 60)
    if subscriber.final is None or subscriber.final.status != "Active":
        raise RuntimeError(f"warm-up run did not reach Active: {subscriber.error}")


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    auth = await sign_in(stack.api_url)
    settings = Settings(database_url=stack.database_url)
    async with httpx.AsyncClient(base_url=stack.api_url, headers=auth, timeout=30) as api:
        bench = Bench(stack, settings, api, auth)
        await warm_up(bench)
        say("part 1: per-step delivery over real provisioning runs")
        steps = [await step_delivery(bench, args.tenants, c) for c in _sizes(args.concurrency)]
        cases = []
        limits = FanoutLimits(window=args.window)
        for mode in _modes(args.modes):
            for n in _sizes(args.subscribers):
                say(f"part 2: {mode}, {n} subscriber(s)")
                stack.check()
                cases.append(await fanout(bench, mode, n, limits))
                say(json.dumps({k: cases[-1][k] for k in ("queries_per_s", "api_cpu")}))
    return {"step_delivery": steps, "fanout": cases}


def machine() -> dict[str, Any]:
    version = subprocess.run(
        [temporal_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "temporal": version,
    }


def say(line: str) -> None:
    print(f"[bench] {line}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    largest = max(_sizes(args.subscribers))
    open_files = raise_open_files(4 * largest + 1024)
    began, load_before = time.monotonic(), os.getloadavg()
    if load_before[0] > 1.0:
        say(f"WARNING: load average {load_before[0]:.1f}: other work will skew the figures")
    say("starting the stack (PostgreSQL, Temporal, setup, worker, API, naive API)")
    try:
        with running_stack() as stack:
            results = asyncio.run(measure(stack, args))
    except KeyboardInterrupt:
        say("interrupted; the stack is stopped")
        raise SystemExit(130) from None
    results["runtime_s"] = round(time.monotonic() - began, 1)
    results["machine"] = {
        **machine(),
        "open_files_soft_limit": open_files,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    results["window_s"] = args.window
    results["targets"] = targets(results["step_delivery"], results["fanout"])
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(summary(results))


if __name__ == "__main__":
    main()
