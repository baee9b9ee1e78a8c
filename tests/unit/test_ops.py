"""The operations view's percentiles."""

import pytest

from api.ops import percentile


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [([], None, None), ([3.0], 3.0, 3.0), ([float(i) for i in range(1, 101)], 50.0, 95.0)],
)
def test_percentile_is_nearest_rank(
    values: list[float], p50: float | None, p95: float | None
) -> None:
    assert (percentile(values, 50), percentile(values, 95)) == (p50, p95)
