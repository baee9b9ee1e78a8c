"""A fleet rollout's input, the state it carries across continue-as-new, and its snapshot.

The snapshot (`FleetProgress`) is what the `progress` query answers, what the run returns, and
what the API shows (camelCase) as `GET /api/migrations/{id}`. New fields get defaults, so
histories recorded before them still decode.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from activities.rollouts import Candidate

# Bounds the API validates against, and the workflow applies again (an input from the CLI).
MAX_CONCURRENCY = 50
DEFAULT_CONCURRENCY = 5
# Failures shown with their error; `failed` counts them all.
FAILURES_SHOWN = 100
# Skipped tenants listed with their reason (the first ones; `skipped` counts them all).
SKIPS_SHOWN = 100
# Tenants listed per activity call (one keyset page).
BATCH_SIZE = 200
# A run's history is continued as new past this many events (Temporal's limit is 51,200 and
# warns from 10,240): a rollout of any size stays far from it.
EVENTS_PER_RUN = 4_000


def fleet_workflow_id(rollout_id: str) -> str:
    return f"migrate-fleet-{rollout_id}"


class FleetStatus(StrEnum):
    RUNNING = "Running"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_final(self) -> bool:
        return self in (FleetStatus.COMPLETED, FleetStatus.FAILED, FleetStatus.CANCELLED)


@dataclass(frozen=True)
class FleetFailure:
    tenant_id: str
    error: str


@dataclass(frozen=True)
class FleetSkip:
    tenant_id: str
    reason: str


@dataclass
class FleetProgress:
    rollout_id: str
    target_revision: str
    status: FleetStatus = FleetStatus.RUNNING
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    running: list[str] = field(default_factory=list)
    # The first FAILURES_SHOWN failures still standing (a retried tenant leaves the list).
    failures: list[FleetFailure] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # The most tenant migrations ever in flight at once (never above `concurrency`).
    max_running: int = 0
    concurrency: int = DEFAULT_CONCURRENCY
    # Why it is Paused: an operator asked, a canary failed, or too many tenants failed.
    paused_reason: str | None = None
    # Cancel asked: no tenant is begun any more; the running ones are finishing or rolling back.
    cancel_requested: bool = False
    # Bumped on every change, and carried across continue-as-new: the SSE event id.
    version: int = 0
    # Not begun yet (kept by `recount`).
    pending: int = 0
    # How many runs the rollout has taken (it continues as new every ~EVENTS_PER_RUN events).
    runs: int = 1
    # The first SKIPS_SHOWN skipped tenants and why.
    skips: list[FleetSkip] = field(default_factory=list)

    def recount(self) -> None:
        """Pending from the counts; a total that turns out short (a tenant that became Active
        after the API counted) grows to fit."""
        begun = self.succeeded + self.failed + self.skipped + len(self.running)
        self.total = max(self.total, begun)
        self.pending = self.total - begun
        self.max_running = max(self.max_running, len(self.running))
        self.version += 1


@dataclass
class FleetCarry:
    """What a run hands the next one when it continues as new (no child is running then)."""

    progress: FleetProgress
    # Keyset cursor: the last tenant id listed; `listed_all` once a page came back short.
    after: str | None = None
    listed_all: bool = False
    # Listed but not yet begun, and failed tenants an operator asked to retry.
    queue: list[Candidate] = field(default_factory=list)
    # Every failed tenant still standing (ids only; `progress.failures` has the errors).
    failed_ids: list[str] = field(default_factory=list)
    canaries_left: int = 0


@dataclass(frozen=True)
class MigrateFleetInput:
    rollout_id: str
    # A concrete revision id (the API resolves "head").
    target_revision: str
    initiated_by: str = ""
    # None: every Active tenant (listed in keyset pages as the rollout goes).
    tenant_ids: list[str] | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    canary: int = 1
    max_failures: int = 0
    # How many tenants the API counted when it accepted the rollout.
    total: int = 0
    batch_size: int = BATCH_SIZE
    events_per_run: int = EVENTS_PER_RUN
    # Set by the run that continued as new; None on the first run.
    carry: FleetCarry | None = None
