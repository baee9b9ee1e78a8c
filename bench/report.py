"""The results as tables (stdout, docs/benchmarks.md) and the issue's targets."""

from typing import Any

DELIVERY_P95_TARGET_MS = 50.0
QUERY_RATIO_TARGET = 1.1


def _ms(delivery: dict[str, Any]) -> str:
    if delivery["p50_ms"] is None:
        return "n/a"
    return f"{delivery['p50_ms']:.0f} / {delivery['p95_ms']:.0f}"


def step_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| per-step delivery | n | p50 ms | p95 ms | max ms | runs Active | machine CPU "
        "| other CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        d = row["delivery"]
        lines.append(
            f"| {row['tenants']} ProvisionTenant runs, {row['concurrency']} at a time "
            f"| {d['n']} | {d['p50_ms']} | {d['p95_ms']} | {d['max_ms']} "
            f"| {row['active']}/{row['tenants']} | {row['cpu']['machine']:.2f} "
            f"| {row['cpu']['other']:.2f} |"
        )
    return "\n".join(lines)


def fanout_table(cases: list[dict[str, Any]]) -> str:
    lines = [
        "| mode | subscribers | queries/s | API CPU | worker CPU | temporal CPU | other CPU "
        "| queries, whole case | final p50 / p95 ms | got final |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        rates = c["window_rates"]
        lines.append(
            f"| {c['mode']} | {c['subscribers']} | {c['queries_per_s']:.2f} | {c['api_cpu']:.2f} "
            f"| {rates['cpu_worker']:.2f} | {rates['cpu_temporal']:.2f} "
            f"| {rates['cpu_other']:.2f} "
            f"| {c['queries_whole_case']:.0f} | {_ms(c['final_delivery'])} "
            f"| {c['got_final']}/{c['subscribers']} |"
        )
    return "\n".join(lines)


def _case(cases: list[dict[str, Any]], mode: str, n: int) -> dict[str, Any] | None:
    return next((c for c in cases if c["mode"] == mode and c["subscribers"] == n), None)


def _within(ratio_of: float, base: float) -> bool:
    return ratio_of <= QUERY_RATIO_TARGET * base if base > 0 else ratio_of == 0


def _delivery_met(delivery: dict[str, Any]) -> bool:
    return delivery["p95_ms"] is not None and delivery["p95_ms"] <= DELIVERY_P95_TARGET_MS


def targets(steps: list[dict[str, Any]], cases: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "delivery_p95": [
            {
                "what": f"per step, {row['concurrency']} run(s) at a time",
                "p95_ms": row["delivery"]["p95_ms"],
                "met": _delivery_met(row["delivery"]),
            }
            for row in steps
        ]
        + [
            {
                "what": f"final state, {case['mode']}, {case['subscribers']} subscriber(s)",
                "p95_ms": case["final_delivery"]["p95_ms"],
                "met": _delivery_met(case["final_delivery"]),
            }
            for case in cases
            if case["mode"] == "shared"
        ],
    }
    ones, most = _case(cases, "shared", 1), _case(cases, "shared", 1000)
    if ones and most:
        result["queries_per_s_1_vs_1000"] = [ones["queries_per_s"], most["queries_per_s"]]
        result["queries_whole_case_1_vs_1000"] = [
            ones["queries_whole_case"],
            most["queries_whole_case"],
        ]
        result["query_ratio_met"] = _within(
            most["queries_per_s"], ones["queries_per_s"]
        ) and _within(most["queries_whole_case"], ones["queries_whole_case"])
    return result


def summary(results: dict[str, Any]) -> str:
    t = results["targets"]
    lines = [
        step_table(results["step_delivery"]),
        "",
        fanout_table(results["fanout"]),
        "",
    ]
    for row in t["delivery_p95"]:
        lines.append(
            f"target delivery p95 <= {DELIVERY_P95_TARGET_MS:.0f} ms, {row['what']}: "
            f"{'met' if row['met'] else 'NOT met'} ({row['p95_ms']} ms)"
        )
    if "query_ratio_met" in t:
        per_s, whole = t["queries_per_s_1_vs_1000"], t["queries_whole_case_1_vs_1000"]
        lines.append(
            f"target queries(1000) <= {QUERY_RATIO_TARGET}x queries(1): "
            f"{'met' if t['query_ratio_met'] else 'NOT met'} (per s {per_s}, whole case {whole})"
        )
    for case in results["fanout"]:
        if not case["held"]:
            lines.append(f"WARNING: {case['mode']}/{case['subscribers']}: the run was not held")
    load = results["machine"]["loadavg_before"][0], results["machine"]["loadavg_after"][0]
    lines.append(
        f"bench runtime: {results['runtime_s']:.0f} s; load average {load[0]:.1f} -> {load[1]:.1f}"
    )
    return "\n".join(lines)
