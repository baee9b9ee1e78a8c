"""Fleet benchmark: 10,000 tenants. Seeds the control plane directly (rows only: the list reads
only rows; the Failed ones carry what a retry needs), then measures with one client:

- GET /api/tenants: first page, a deep page (page 100, by cursor), each status filter, a search
  matching ~5% of tenants, a search for one id, sorted by name and by status: p50/p95;
- GET /api/tenants/stats: p50/p95;
- a bulk retry of the 1,000 Failed tenants (POST /api/tenants/bulk by filter): time until every
  one has its outcome, and the outcomes.

    .venv/bin/python -m bench.fleet [--tenants 10000] [--failed 1000] [--concurrency 10]

Results go to bench/fleet_results.json and are printed as Markdown (docs/benchmarks.md).
"""

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.sse import sign_in
from bench.stack import Stack, running_stack
from bench.stats import delays
from core.database import create_engine
from core.models import Tenant
from core.naming import storage_name
from core.passwords import hash_password
from core.settings import Settings
from core.status import TenantStatus

RESULTS = Path(__file__).resolve().parent / "fleet_results.json"
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Wonka"]
WORDS += ["Tyrell", "Cyberdyne", "Stark", "Wayne", "Oscorp", "Gringotts", "Aperture", "Duff"]
WORDS += ["Monarch", "Nakatomi", "Massive", "Prestige"]
KINDS = ["Labs", "Systems", "Foods", "Logistics", "Bank", "Health", "Media", "Energy"]
SEARCH_WORD = "acme"  # one name in twenty
BATCH = 1000


def say(line: str) -> None:
    print(f"[fleet] {line}", flush=True)


def status_of(i: int, tenants: int, failed: int) -> TenantStatus:
    """Every tenants/failed-th tenant Failed (spread through the fleet), a few Cancelled and
    Deleted, the rest Active."""
    if i % (tenants // failed) == 0 and i // (tenants // failed) < failed:
        return TenantStatus.FAILED
    if i % 97 == 1:
        return TenantStatus.CANCELLED
    if i % 89 == 2:
        return TenantStatus.DELETED
    return TenantStatus.ACTIVE


async def seed(stack: Stack, tenants: int, failed: int) -> dict[str, int]:
    settings = Settings(database_url=stack.database_url)
    engine = create_engine(stack.database_url)
    password_hash = hash_password("fleet-pass-42")
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    try:
        for start in range(0, tenants, BATCH):
            rows = []
            for i in range(start, min(tenants, start + BATCH)):
                tenant_id = f"fleet-{i:05}"
                status = status_of(i, tenants, failed)
                counts[status] = counts.get(status, 0) + 1
                word, kind = WORDS[i % len(WORDS)], KINDS[(i // len(WORDS)) % len(KINDS)]
                rows.append(
                    {
                        "id": tenant_id,
                        "name": f"{word} {kind} {i}",
                        "status": status,
                        "is_active": True,
                        "has_isolated_database": False,
                        "database_name": settings.tenants_database,
                        "schema_name": storage_name(settings.tenant_storage_prefix, tenant_id),
                        "admin_email": f"admin@{tenant_id}.example.com",
                        "admin_password_hash": password_hash
                        if status == TenantStatus.FAILED
                        else None,
                        "provisioning_error": "seeded as Failed"
                        if status == TenantStatus.FAILED
                        else None,
                        "created_on": now - timedelta(minutes=tenants - i),
                    }
                )
            async with engine.begin() as conn:
                await conn.execute(insert(Tenant), rows)
    finally:
        await engine.dispose()
    return counts


async def timed(api: httpx.AsyncClient, path: str, params: Any, n: int) -> dict[str, Any]:
    took = []
    body: Any = None
    for _ in range(n):
        began = time.perf_counter()
        response = await api.get(path, params=params)
        took.append(time.perf_counter() - began)
        response.raise_for_status()
        body = response.json()
    result = delays(took).as_dict()
    if isinstance(body, dict) and "total" in body and "items" in body:
        result["total"] = body["total"]
    return result


async def deep_cursor(api: httpx.AsyncClient, page: int) -> str:
    cursor = None
    for _ in range(page - 1):
        params: dict[str, Any] = {"limit": 50}
        if cursor:
            params["cursor"] = cursor
        cursor = (await api.get("/api/tenants", params=params)).json()["nextCursor"]
    assert cursor
    return cursor


async def bulk_retry(api: httpx.AsyncClient, concurrency: int) -> dict[str, Any]:
    body = {"action": "retry", "filter": {"status": ["Failed"]}, "concurrency": concurrency}
    began = time.perf_counter()
    response = await api.post("/api/tenants/bulk", json=body)
    response.raise_for_status()
    accepted = response.json()
    while True:
        state = (await api.get(f"/api/tenants/bulk/{accepted['id']}")).json()
        if state["finished"]:
            break
        await asyncio.sleep(0.5)
    seconds = time.perf_counter() - began
    return {
        "tenants": accepted["total"],
        "concurrency": concurrency,
        "seconds": round(seconds, 1),
        "tenants_per_s": round(accepted["total"] / seconds, 1),
        "done": state["done"],
        "skipped": state["skipped"],
        "failed": state["failed"],
    }


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    say(f"seeding {args.tenants} tenants ({args.failed} Failed)")
    began = time.perf_counter()
    counts = await seed(stack, args.tenants, args.failed)
    results: dict[str, Any] = {"tenants": args.tenants, "seeded": counts}
    results["seed_s"] = round(time.perf_counter() - began, 1)
    auth = await sign_in(stack.api_url)
    async with httpx.AsyncClient(base_url=stack.api_url, headers=auth, timeout=120) as api:
        n = args.n
        await timed(api, "/api/tenants", {}, 5)  # warm-up: imports, pools, plans
        say("list timings")
        lists: dict[str, Any] = {
            "first page": await timed(api, "/api/tenants", {}, n),
            "deep page (100th)": await timed(
                api, "/api/tenants", {"cursor": await deep_cursor(api, 100)}, n
            ),
            "sort by name": await timed(api, "/api/tenants", {"sort": "name"}, n),
            "sort by status": await timed(api, "/api/tenants", {"sort": "status"}, n),
            f"search '{SEARCH_WORD}'": await timed(api, "/api/tenants", {"q": SEARCH_WORD}, n),
            "search one id": await timed(api, "/api/tenants", {"q": "fleet-04321"}, n),
        }
        for status in TenantStatus:
            lists[f"status={status}"] = await timed(api, "/api/tenants", {"status": status}, n)
        results["list"] = lists
        results["stats"] = await timed(api, "/api/tenants/stats", {}, n)
        say(f"bulk retry of the {args.failed} Failed tenants, {args.concurrency} at a time")
        results["bulk_retry"] = await bulk_retry(api, args.concurrency)
    return results


def report(results: dict[str, Any]) -> str:
    lines = [
        f"{results['tenants']:,} tenants seeded in {results['seed_s']} s "
        f"({', '.join(f'{v:,} {k}' for k, v in sorted(results['seeded'].items()))}).",
        "",
        "| request | rows matching | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for name, d in results["list"].items():
        total = f"{d['total']:,}" if "total" in d else ""
        lines.append(f"| list: {name} | {total} | {d['p50_ms']} | {d['p95_ms']} | {d['max_ms']} |")
    s = results["stats"]
    lines.append(f"| stats | | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} |")
    b = results["bulk_retry"]
    lines += [
        "",
        f"Bulk retry of {b['tenants']:,} Failed tenants ({b['concurrency']} at a time): "
        f"{b['seconds']} s until every outcome was in ({b['tenants_per_s']} tenants/s); "
        f"{b['done']} done, {b['skipped']} skipped, {b['failed']} failed.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--failed", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--n", type=int, default=50, help="requests per list figure")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    say("starting the stack (PostgreSQL, file-backed Temporal, setup, worker, API)")
    began = time.monotonic()
    with running_stack(file_backed=True) as stack:
        results = asyncio.run(measure(stack, args))
    results["runtime_s"] = round(time.monotonic() - began, 1)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
