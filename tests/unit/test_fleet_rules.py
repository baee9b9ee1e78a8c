"""A rollout's rules that need no server: which listed tenant needs a child, the counts, ids."""

import re
from datetime import UTC, datetime

import pytest

from activities.rollouts import Candidate
from core.rollouts import new_rollout_id
from workflows.fleet_book import skip_reason
from workflows.fleet_models import FleetProgress


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (Candidate("a", "Active", "t0002"), None),
        (Candidate("a", "Active", None), None),  # unknown revision: the child reads it
        (Candidate("a", "Updating", "t0002"), None),  # the child waits for the update
        (Candidate("a", None, None), None),  # a retried tenant, not read: always a child
        (Candidate("a", "Active", "t0003"), "already at the target revision"),
        (Candidate("a", "Deleting", "t0002"), "deleted"),
        (Candidate("a", "Deleted", "t0002"), "deleted"),
        (Candidate("a", "Failed", "t0002"), "is Failed: only Active tenants are migrated"),
        (Candidate("a", "Pending", None), "is Pending: only Active tenants are migrated"),
    ],
)
def test_which_listed_tenant_needs_a_child(candidate: Candidate, reason: str | None) -> None:
    assert skip_reason(candidate, "t0003") == reason


def test_counts_keep_pending_and_the_most_in_flight_and_a_short_total_grows() -> None:
    state = FleetProgress("r", "t0003", total=3)
    state.running = ["a", "b"]
    state.recount()
    assert (state.pending, state.max_running, state.version) == (1, 2, 1)
    state.running, state.succeeded, state.skipped = [], 2, 2
    state.recount()
    assert (state.total, state.pending, state.max_running) == (4, 0, 2)


def test_rollout_ids_are_short_readable_and_sorted_by_time() -> None:
    early = new_rollout_id(datetime(2026, 11, 24, 9, 5, tzinfo=UTC))
    late = new_rollout_id(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert re.fullmatch(r"20261124-0905-[0-9a-f]{4}", early)
    assert early < late
