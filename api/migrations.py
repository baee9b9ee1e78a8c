"""Fleet rollouts: start one (one at a time), read and follow its state, steer it.

The control-plane row (core/rollouts.py) makes "one rollout at a time" race-free across API
processes and lists rollouts newest first; the MigrateFleet workflow is the source of truth of
a running rollout (its `progress` query), and its final snapshot is stored on the row, so a
finished rollout is read with neither Temporal nor a worker. Operators' commands are the
workflow's Updates: their validators say why a command does not apply (409).
"""

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.progress_source import DESCRIBE_TIMEOUT, QUERY_ERRORS
from api.schemas import MigrationAccepted, MigrationOut, MigrationRequest
from api.workflow_state import WorkflowMissing, follow_state, read_state
from core import lifecycle, rollouts
from core.models import Tenant
from core.rollouts import Rollout, RolloutRunning
from core.schema import count_by_revision, resolve_revision
from core.settings import Settings
from workflows.fleet_models import (
    FleetProgress,
    FleetStatus,
    MigrateFleetInput,
    fleet_workflow_id,
)
from workflows.migrate_fleet import MigrateFleet

log = logging.getLogger(__name__)

COMMANDS = ("pause", "resume", "cancel", "retry")
UPDATE_TIMEOUT = timedelta(seconds=10)
LISTED = 50


class RolloutMissing(LookupError):
    pass


class CannotSteer(Exception):
    """The command does not apply to the rollout now (409)."""


class UnknownTenants(LookupError):
    """Some of the requested tenants do not exist (422)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        shown = ", ".join(missing[:20]) + (
            f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        super().__init__(f"No such tenant: {shown}")


async def _total(session: AsyncSession, tenant_ids: list[str] | None) -> int:
    if tenant_ids is not None:
        wanted = set(tenant_ids)
        found = set(await session.scalars(select(Tenant.id).where(Tenant.id.in_(wanted))))
        if missing := sorted(wanted - found):
            raise UnknownTenants(missing)
        return len(wanted)
    # What the workflow lists: every tenant with storage but the Deleted.
    return sum(count for _, count in await count_by_revision(session))


async def start(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    request: MigrationRequest,
    user_id: str,
) -> MigrationAccepted:
    """Claim the rollout's row and start its workflow in one transaction (RolloutRunning while
    another is open; UnknownRevision for a target that is not a revision, UnknownTenants for
    requested tenants that do not exist)."""
    target = resolve_revision(request.target_revision)
    total = await _total(session, request.tenant_ids)
    await session.rollback()  # the count's transaction: the claim opens its own
    for attempt in range(2):
        rollout_id = rollouts.new_rollout_id()
        workflow_id = fleet_workflow_id(rollout_id)
        arg = MigrateFleetInput(
            rollout_id,
            target,
            user_id,
            sorted(set(request.tenant_ids)) if request.tenant_ids is not None else None,
            request.concurrency,
            request.canary,
            request.max_failures,
            total,
        )
        try:
            async with session.begin():
                await rollouts.claim(
                    session,
                    {
                        "id": rollout_id,
                        "workflow_id": workflow_id,
                        "target_revision": target,
                        "total": total,
                        "initiated_by": user_id,
                    },
                )
                await client.start_workflow(
                    MigrateFleet.run,
                    arg,
                    id=workflow_id,
                    task_queue=settings.fleet_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                )
        except RolloutRunning as running:
            # An open row whose workflow has closed (terminated from outside) is settled, once.
            if attempt or not await _settle_if_closed(session, client, running):
                raise
        except IntegrityError:
            if attempt:  # the open one ended between the insert and the look: try again once
                raise
        else:
            return MigrationAccepted(id=rollout_id, workflow_id=workflow_id, total=total)
    raise AssertionError("unreachable")


async def _settle_if_closed(session: AsyncSession, client: Client, open: RolloutRunning) -> bool:
    """The open row's workflow has closed without storing its end: settle the row (True)."""
    status: WorkflowExecutionStatus | None
    try:
        status = (await client.get_workflow_handle(open.workflow_id).describe()).status
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        status = None
    if status == WorkflowExecutionStatus.RUNNING:
        return False
    if status == WorkflowExecutionStatus.COMPLETED:
        # It ended, but its last step could not store that (the control plane was away).
        handle = client.get_workflow_handle_for(MigrateFleet.run, open.workflow_id)
        state = await handle.result(follow_runs=False)
        summary = to_jsonable_python(dataclasses.asdict(state))
        await rollouts.finish(await session.connection(), open.rollout_id, state.status, summary)
        await session.commit()
        return True
    error = lifecycle.closed_without_outcome(open.workflow_id, status)
    await rollouts.settle(session, open.rollout_id, error)
    return True


def _handle(client: Client, rollout: Rollout) -> WorkflowHandle[MigrateFleet, FleetProgress]:
    return client.get_workflow_handle_for(MigrateFleet.run, rollout.workflow_id)


async def load(session: AsyncSession, rollout_id: str) -> Rollout:
    rollout = await session.get(Rollout, rollout_id)
    if rollout is None:
        raise RolloutMissing(rollout_id)
    return rollout


def out(rollout: Rollout, state: FleetProgress | dict[str, Any] | None) -> MigrationOut:
    """The API's view: the workflow's snapshot, or the row's (stored at the end)."""
    base: dict[str, Any] = {
        "id": rollout.id,
        "workflow_id": rollout.workflow_id,
        "target_revision": rollout.target_revision,
        "error": rollout.error,
    }
    if state is None:  # no snapshot to be had: no worker answers, or ended without one
        counts = dict.fromkeys(("succeeded", "failed", "skipped", "running", "pending"), 0)
        if rollout.finished_at is None:
            counts["pending"] = rollout.total
        return MigrationOut.model_validate(
            base
            | counts
            | {
                "status": rollout.status or _OPEN_OR_GONE[rollout.finished_at is None],
                "total": rollout.total,
                "failures": [],
                "started_at": rollout.created_on,
                "finished_at": rollout.finished_at,
            }
        )
    data = state if isinstance(state, dict) else _as_dict(state)
    fields = {k: v for k, v in data.items() if k in MigrationOut.model_fields}
    fields["running"] = len(data.get("running") or [])
    return MigrationOut.model_validate(fields | base)


def _as_dict(state: FleetProgress) -> dict[str, Any]:
    return {
        "status": state.status,
        "succeeded": state.succeeded,
        "failed": state.failed,
        "skipped": state.skipped,
        "running": state.running,
        "pending": state.pending,
        "failures": [{"tenant_id": f.tenant_id, "error": f.error} for f in state.failures],
        "skips": [{"tenant_id": s.tenant_id, "reason": s.reason} for s in state.skips],
        "started_at": state.started_at,
        "finished_at": state.finished_at,
        "max_running": state.max_running,
        "concurrency": state.concurrency,
        "paused_reason": state.paused_reason,
        "cancel_requested": state.cancel_requested,
        "version": state.version,
        "total": state.total,
    }


async def read(client: Client, rollout: Rollout) -> MigrationOut:
    """A rollout's state now: the row's once it has ended (with its final snapshot, or settled
    without one), else the workflow's (RPCError or one of QUERY_ERRORS when Temporal or every
    worker is away)."""
    if rollout.finished_at is not None:
        return out(rollout, rollout.summary)
    handle = _handle(client, rollout)
    try:
        state = await read_state(handle, MigrateFleet.progress)
    except WorkflowMissing:
        return out(rollout, None)
    if state.status.is_final:
        return out(rollout, state)
    # Not ended by its own account: running, or stopped from outside (terminated, timed out),
    # shown as what the next rollout's start will settle it to. Readers never write.
    status = (await handle.describe(rpc_timeout=DESCRIBE_TIMEOUT)).status
    if status == WorkflowExecutionStatus.RUNNING:
        return out(rollout, state)
    stopped = out(rollout, state)
    error = lifecycle.closed_without_outcome(rollout.workflow_id, status)
    return stopped.model_copy(update={"status": FleetStatus.FAILED, "error": error, "running": 0})


def follow(client: Client, rollout: Rollout, after: int) -> AsyncIterator[MigrationOut]:
    """The state each time it changes (versions above `after`), until it has ended."""
    return follow_state(
        _handle(client, rollout),
        lambda: read(client, rollout),
        version=lambda state: state.version,
        final=lambda state: FleetStatus(state.status).is_final,
        after=after,
    )


async def newest(session: AsyncSession, client: Client) -> list[MigrationOut]:
    """The latest rollouts, newest first; the open one (at most one) asked live, or shown from
    its row while no worker answers (the list stays readable)."""
    rows = (
        await session.scalars(select(Rollout).order_by(Rollout.created_on.desc()).limit(LISTED))
    ).all()
    await session.close()  # no pooled connection held while Temporal answers
    listed = []
    for rollout in rows:
        try:
            listed.append(await read(client, rollout))
        except (RPCError, *QUERY_ERRORS) as err:
            log.warning("rollout %s cannot be read now: %s", rollout.id, err)
            listed.append(out(rollout, None))
    return listed


async def steer(client: Client, rollout: Rollout, command: str) -> MigrationOut:
    """Run the command's Update (CannotSteer with the validator's reason, or once it has
    ended)."""
    if rollout.finished_at is not None:
        raise CannotSteer(_ended(rollout, rollout.status, command))
    handle = _handle(client, rollout)
    try:
        state: FleetProgress = await handle.execute_update(
            command, result_type=FleetProgress, rpc_timeout=UPDATE_TIMEOUT
        )
    except WorkflowUpdateFailedError as err:
        raise CannotSteer(getattr(err.cause, "message", None) or str(err.cause)) from err
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise CannotSteer(_ended(rollout, None, command)) from err
        raise
    return out(rollout, state)


def _ended(rollout: Rollout, status: str | None, command: str) -> str:
    said = f" ({status})" if status else ""
    hint = (
        ": start a new rollout with its failed tenants as tenantIds" if command == "retry" else ""
    )
    return f"Rollout {rollout.id} has ended{said}: it cannot be {_DONE[command]}{hint}"


_OPEN_OR_GONE = {True: FleetStatus.RUNNING, False: FleetStatus.FAILED}
_DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled", "retry": "retried"}
