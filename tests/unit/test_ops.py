"""The operations view's percentiles and its memory of closed runs' failed steps."""

import pytest

from api.ops import FailedSteps, percentile


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [([], None, None), ([3.0], 3.0, 3.0), ([float(i) for i in range(1, 101)], 50.0, 95.0)],
)
def test_percentile_is_nearest_rank(
    values: list[float], p50: float | None, p95: float | None
) -> None:
    assert (percentile(values, 50), percentile(values, 95)) == (p50, p95)


def test_failed_steps_are_bounded_forgetting_the_oldest_first() -> None:
    steps = FailedSteps(size=2)
    for run_id in ("a", "b", "c"):
        steps.put(run_id, f"step-{run_id}")
    assert [steps.get(r) for r in ("a", "b", "c")] == [None, "step-b", "step-c"]
