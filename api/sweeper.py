"""Settle rows whose run was stopped from outside, in the background — never on a read.

Our workflows record their outcome (and their `TenantStatus` search attribute) before they close,
so a *closed* run whose search attribute still says in flight was terminated, timed out, or lost
its last write. One visibility query finds exactly those, however many tenants there are; each
is settled through `core/lifecycle.py` (conditional on the row still pointing at that run). Rows
behind runs Temporal no longer knows are caught by a slower check of old in-flight rows. Every
API process sweeps; the writes are conditional, so doing it twice is harmless.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core import lifecycle
from core.models import Tenant

log = logging.getLogger(__name__)

# How far back closed runs are looked at: a sweep that was down (no API running) catches up.
LOOKBACK = timedelta(days=1)
# An in-flight row this old is checked against Temporal directly (its run may be forgotten).
STALE = timedelta(hours=1)
_IN_FLIGHT = ", ".join(f"'{s}'" for s in sorted(lifecycle.IN_FLIGHT))


def closed_in_flight_query(since: datetime) -> str:
    return (
        f"ExecutionStatus != 'Running' AND TenantStatus IN ({_IN_FLIGHT}) "
        f"AND CloseTime > '{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    )


async def sweep_once(sessions: async_sessionmaker[AsyncSession], client: Client) -> int:
    """Settle what needs it now; return how many rows became Failed."""
    now = datetime.now(UTC)
    workflow_ids = [
        run.id async for run in client.list_workflows(closed_in_flight_query(now - LOOKBACK))
    ]
    settled = 0
    async with sessions() as session:
        candidates = (
            await session.scalars(
                select(Tenant).where(
                    Tenant.status.in_(list(lifecycle.IN_FLIGHT)),
                    (Tenant.workflow_id.in_(workflow_ids)) | (Tenant.updated_on < now - STALE),
                )
            )
        ).all()
        for tenant in candidates:
            before = tenant.status
            tenant = await lifecycle.settle_closed_run(session, client, tenant)
            settled += tenant.status != before
    return settled


async def sweep_forever(
    sessions: async_sessionmaker[AsyncSession], client: Client, every: float
) -> None:
    while True:
        try:
            settled = await sweep_once(sessions, client)
            if settled:
                log.info("settled %d tenant(s) whose run was stopped from outside", settled)
        except Exception as err:  # the database or Temporal is away: next time
            log.warning("reconciliation sweep failed, trying again in %.0f s: %s", every, err)
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def sweeping(
    sessions: async_sessionmaker[AsyncSession], client: Client, every: float
) -> AsyncIterator[None]:
    task = asyncio.create_task(sweep_forever(sessions, client, every), name="reconcile-sweep")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
