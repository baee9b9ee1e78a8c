"""Percentiles of delays, reported in milliseconds."""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Delays:
    n: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def delays(seconds: Sequence[float]) -> Delays:
    if not seconds:
        return Delays(0, None, None, None)
    ms = sorted(value * 1000 for value in seconds)
    p50, p95 = percentile(ms, 50), percentile(ms, 95)
    return Delays(len(ms), round(p50, 1), round(p95, 1), round(ms[-1], 1))
