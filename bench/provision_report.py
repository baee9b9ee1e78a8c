"""The provisioning benchmark's table (ratios to the floor, targets) and text charts."""

from typing import Any

# (figure, result key, statistic, target in ms or tenants/s, "≤" or "≥")
TARGETS: list[tuple[str, str, str, float, str]] = [
    ("POST → Active on /events, shared, p50", "active_shared", "p50_ms", 150.0, "≤"),
    ("same, isolated, p50", "active_isolated", "p50_ms", 200.0, "≤"),
    ("`POST /api/tenants` alone, back to back, p50", "post_alone", "p50_ms", 20.0, "≤"),
    ("`POST /api/tenants` alone, nothing else running, p50", "post_idle", "p50_ms", 20.0, "≤"),
    ("`POST /api/tenants`, 50 concurrent clients, p99", "post_concurrent", "p99_ms", 100.0, "≤"),
]
FLOOR = {"active_shared": "floor_shared", "active_isolated": "floor_isolated"}
RATE_TARGET = 15.0


def _met(value: float | None, target: float, sense: str) -> str:
    if value is None:
        return "n/a"
    return "met" if (value <= target if sense == "≤" else value >= target) else "NOT met"


def table(results: dict[str, Any]) -> str:
    lines = [
        "| figure | measured | floor (no orchestration) | ratio | target | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, key, stat, target, sense in TARGETS:
        if key not in results:  # a figure added since that run
            continue
        value = results[key][stat]
        floor_key = FLOOR.get(key)
        floor = results[floor_key]["p50_ms"] if floor_key else None
        ratio = f"{value / floor:.1f}x" if floor and value else "—"
        lines.append(
            f"| {label} | {value} ms | {f'{floor} ms' if floor else '—'} | {ratio} "
            f"| {sense} {target:.0f} ms | {_met(value, target, sense)} |"
        )
    b = results["burst"]
    lines.append(
        f"| {b['tenants']} tenants from {b['clients']} clients | {b['tenants_per_s']} tenants/s, "
        f"last final after {b['last_active_s']} s, {b['active']} Active, "
        f"{b['with_failed_attempts']} with failed attempts | — | — | ≥ {RATE_TARGET:.0f}/s "
        f"| {_met(b['tenants_per_s'], RATE_TARGET, '≥')} |"
    )
    lines.append(
        f"| during the burst | API RSS peak {b['rss_peak_mib']['api']} MiB, CPU "
        f"{b['cpu_s']['api']} s; worker RSS peak {b['rss_peak_mib']['worker']} MiB, CPU "
        f"{b['cpu_s']['worker']} s | | | | |"
    )
    if "cpu_ms_per_tenant" in b:
        parts = ", ".join(f"{k} {v}" for k, v in b["cpu_ms_per_tenant"].items())
        lines.append(f"| CPU per tenant during the burst, ms | {parts} | | | | |")
    for line in b.get("not_active", []):
        lines.append(f"| not Active | {line} | | | | |")
    return "\n".join(lines)


def histogram(values_s: list[float], buckets: int = 10, width: int = 40) -> str:
    """Distribution of times to final, as text bars."""
    if not values_s:
        return "(no data)"
    top = max(values_s)
    step = top / buckets or 1.0
    counts = [0] * buckets
    for value in values_s:
        counts[min(int(value / step), buckets - 1)] += 1
    most = max(counts)
    rows = []
    for i, count in enumerate(counts):
        bar = "█" * round(width * count / most) if most else ""
        rows.append(f"{i * step:6.1f}-{(i + 1) * step:5.1f} s | {bar} {count}")
    return "\n".join(rows)


def over_time(final_at_s: list[float], total: int, points: int = 10, width: int = 40) -> str:
    """Active tenants over time during the burst, as text bars."""
    if not final_at_s:
        return "(no data)"
    end = max(final_at_s)
    rows = []
    for i in range(1, points + 1):
        t = end * i / points
        done = sum(at <= t for at in final_at_s)
        rows.append(f"{t:6.1f} s | {'█' * round(width * done / total)} {done}")
    return "\n".join(rows)


def where_it_goes(results: dict[str, Any]) -> str:
    """The shared POST -> Active median split by the runs' histories, and the POST's CPU bound."""
    parts = results.get("active_shared_breakdown_ms") or {}
    lines = ["Where POST → Active (shared, medians per part) goes:"]
    lines += [f"- {part.replace('_', ' ')}: {ms} ms" for part, ms in parts.items()]
    post = results["post_concurrent"]
    cpu = post.get("api_cpu_ms_per_post")
    if cpu is not None:
        lines.append(
            f"- the API's CPU per POST with {post['n']} at once: {cpu} ms, so the last of them "
            f"cannot finish before {post['n']} x {cpu} = {post['n'] * cpu:.0f} ms on one event loop"
        )
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    b = results["burst"]
    return "\n\n".join(
        [
            table(results),
            where_it_goes(results),
            "Time from the burst's start to each tenant's final status:\n```\n"
            + histogram(b["final_at_s"])
            + "\n```",
            "Tenants final over time:\n```\n" + over_time(b["final_at_s"], b["tenants"]) + "\n```",
        ]
    )
