"""What a fleet rollout counts and decides, apart from running it (workflows/migrate_fleet.py):
which listed tenant needs a child, the counts and failures, pausing, and the operators'
commands with the reason one is refused (the API's 409).

Runs inside the workflow (deterministic, no I/O): imported through `imports_passed_through`.
"""

from collections import deque

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from activities.rollouts import Candidate
from core.status import TenantStatus
from workflows import telemetry
from workflows.fleet_models import (
    FAILURES_SHOWN,
    SKIPS_SHOWN,
    FleetCarry,
    FleetFailure,
    FleetSkip,
    FleetStatus,
    MigrateFleetInput,
)

S = TenantStatus
# Statuses a rollout migrates; the child waits for an operation under way (Updating).
MIGRATED = frozenset({S.ACTIVE, S.UPDATING})


def skip_reason(candidate: Candidate, target: str) -> str | None:
    """Why a listed tenant needs no child (None: it does). A tenant not read (a retry) always
    gets one: the child checks it under the tenant's own lock anyway."""
    if candidate.status is None:
        return None
    if candidate.status in (S.DELETED, S.DELETING):
        return "deleted"
    if candidate.schema_revision == target:
        return "already at the target revision"
    if candidate.status not in MIGRATED:
        return f"is {candidate.status}: only Active tenants are migrated"
    return None


class FleetBook:
    def __init__(self, input: MigrateFleetInput, carry: FleetCarry) -> None:
        self.input = input
        self.carry = carry
        self.state = carry.progress
        # Listed (or retried) tenants not begun yet.
        self.queue: deque[Candidate] = deque(carry.queue)
        self.cancelling = False

    def skip(self, tenant_id: str, reason: str) -> None:
        workflow.logger.debug("tenant %s skipped: %s", tenant_id, reason)
        self.state.skipped += 1
        if len(self.state.skips) < SKIPS_SHOWN:
            self.state.skips.append(FleetSkip(tenant_id, reason))
        telemetry.tenant_migrated("skipped")
        self.state.recount()

    def succeed(self) -> None:
        self.state.succeeded += 1
        telemetry.tenant_migrated("succeeded")
        self.state.recount()

    def fail(self, tenant_id: str, error: str, canary: bool) -> None:
        """Counted and kept; a failed canary, or one failure too many, pauses the rollout."""
        state = self.state
        state.failed += 1
        telemetry.tenant_migrated("failed")
        self.carry.failed_ids.append(tenant_id)
        if len(state.failures) < FAILURES_SHOWN:
            state.failures.append(FleetFailure(tenant_id, error))
        state.recount()
        if self.cancelling or state.status is not FleetStatus.RUNNING:
            return
        if canary:
            self.pause(f"canary tenant {tenant_id} failed")
        elif state.failed > self.input.max_failures:
            self.pause(f"{state.failed} tenant(s) failed (maxFailures {self.input.max_failures})")

    def pause(self, reason: str) -> None:
        self.state.status, self.state.paused_reason = FleetStatus.PAUSED, reason
        self.state.recount()

    def resume(self) -> None:
        self.state.status, self.state.paused_reason = FleetStatus.RUNNING, None
        self.state.recount()

    def cancel(self) -> None:
        self.cancelling = self.state.cancel_requested = True
        self.state.recount()

    def retry_failed(self) -> None:
        """The failed tenants go first in the queue again, and the rollout runs on."""
        state, carry = self.state, self.carry
        self.queue.extendleft(Candidate(t) for t in reversed(carry.failed_ids))
        state.failed, state.failures, carry.failed_ids = 0, [], []
        self.resume()

    def end(self) -> None:
        """Cancelled, or Completed (every tenant migrated or skipped), or Failed (some failed
        within maxFailures); the total is then what was counted."""
        state = self.state
        if self.cancelling:
            state.status = FleetStatus.CANCELLED
        else:
            state.status = FleetStatus.FAILED if state.failed else FleetStatus.COMPLETED
            state.total = state.succeeded + state.failed + state.skipped
        state.paused_reason = None
        state.recount()

    def require(self, allowed: set[FleetStatus], done: str) -> None:
        """For an Update's validator: refused, with the reason, unless the status allows it."""
        status = "being cancelled" if self.cancelling else self.state.status.value
        if self.cancelling or self.state.status not in allowed:
            accepted = " or ".join(sorted(allowed))
            raise ApplicationError(
                f"Rollout {self.input.rollout_id} is {status}: "
                f"only a rollout that is {accepted} can be {done}"
            )

    def require_failures(self) -> None:
        if not self.carry.failed_ids:
            raise ApplicationError(f"Rollout {self.input.rollout_id} has no failed tenants")

    def next_slice(self) -> tuple[list[str], bool]:
        """The next slice of the operator's list (sorted), and whether it is the last."""
        ids = sorted(set(self.input.tenant_ids or ()))
        start = _after(ids, self.carry.after)
        chunk = ids[start : start + self.input.batch_size]
        return chunk, start + len(chunk) >= len(ids)


def _after(ids: list[str], after: str | None) -> int:
    """Index of the first id past `after` in sorted `ids` (0 when there is none yet)."""
    if after is None:
        return 0
    return next((i for i, tenant_id in enumerate(ids) if tenant_id > after), len(ids))
