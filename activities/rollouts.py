"""Activities of a fleet rollout (MigrateFleet): list its tenants a page at a time, and store
its final snapshot on the rollout's control-plane row. The tenants' own migrations are the
MigrateTenant children's (activities/schema_migrations.py)."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from core import rollouts
from core.schema import migration_candidates


@dataclass(frozen=True)
class Candidate:
    """A tenant to consider, as the listing saw it (None: not read, e.g. a retried tenant)."""

    tenant_id: str
    status: str | None = None
    schema_revision: str | None = None


@dataclass(frozen=True)
class RolloutPage:
    """The next keyset page of a rollout's tenants, by id: after `after`, at most `limit`;
    `tenant_ids`: of these only (a slice the workflow took of the operator's list)."""

    after: str | None
    limit: int
    tenant_ids: list[str] | None = None


@dataclass(frozen=True)
class RolloutEnd:
    rollout_id: str
    status: str
    # The final FleetProgress, as JSON-ready data.
    summary: dict[str, Any]


class RolloutActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn(name="list_rollout_tenants")
    async def list_rollout_tenants(self, page: RolloutPage) -> list[Candidate]:
        """One page of the rollout's tenants with their status and schema revision."""
        async with self.engine.connect() as conn:
            found = await migration_candidates(conn, page.after, page.limit, page.tenant_ids)
        return [Candidate(c.tenant_id, c.status, c.schema_revision) for c in found]

    @activity.defn(name="finish_rollout")
    async def finish_rollout(self, end: RolloutEnd) -> None:
        """Store the rollout's final status and snapshot on its row."""
        async with self.engine.begin() as conn:
            await rollouts.finish(conn, end.rollout_id, end.status, end.summary)
