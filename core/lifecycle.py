"""The tenant lifecycle: the one owner of `tenants.status`.

Statuses, the transitions between them, which operation may start from which status, and what a
run that closed without recording its outcome means for the row. The API asks this module to
start an operation (`create`, `begin`), the workflows' status activity asks it to record a step
(`record`), and nobody else writes `status`. Every write checks the status it moves from under
the row's lock, so an illegal transition is refused whoever asks, not merely avoided by callers.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core.models import Tenant
from core.schema import stored_revision
from core.status import TenantStatus

S = TenantStatus

# Where each status may go. Staying put is always allowed: status writes are repeated when an
# activity is retried after a lost response, and must stay harmless.
TRANSITIONS: dict[TenantStatus, frozenset[TenantStatus]] = {
    S.PENDING: frozenset({S.PROVISIONING, S.CANCELLED, S.FAILED}),
    S.PROVISIONING: frozenset({S.ACTIVE, S.CANCELLED, S.FAILED}),
    S.ACTIVE: frozenset({S.UPDATING, S.DELETING, S.MIGRATING}),
    # A migration ends Active whatever happened: migrated, failed (its transaction rolled back:
    # the old revision, with the error on the row) or cancelled.
    S.MIGRATING: frozenset({S.ACTIVE}),
    # A cancelled update leaves the tenant as it was: Active.
    S.UPDATING: frozenset({S.ACTIVE, S.FAILED}),
    # Retry: provisioning again (Pending) or re-applying a failed update (Updating).
    # Provisioning straight from Failed or Cancelled: an operator's `temporal workflow reset`
    # re-runs the closed provisioning run from its start (its first write is Provisioning).
    S.FAILED: frozenset({S.PENDING, S.PROVISIONING, S.UPDATING, S.DELETING}),
    S.CANCELLED: frozenset({S.PENDING, S.PROVISIONING, S.DELETING}),
    S.DELETING: frozenset({S.DELETED, S.FAILED}),
    # A deleted tenant's id can be provisioned again (its storage and users are gone; Temporal
    # keeps the earlier runs, which its history still lists).
    S.DELETED: frozenset({S.PENDING}),
}

IN_FLIGHT = frozenset({S.PENDING, S.PROVISIONING, S.UPDATING, S.DELETING, S.MIGRATING})


def can_move(source: TenantStatus, target: TenantStatus) -> bool:
    return source == target or target in TRANSITIONS[source]


def sources_of(target: TenantStatus) -> frozenset[TenantStatus]:
    """Every status the row may be in for a write of `target` to be legal."""
    return frozenset(s for s in TenantStatus if can_move(s, target))


_CREATION_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('tenant-row:' || :id))")
_CREATION_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtext('tenant-row:' || :id))")


async def wait_for_creation(conn: AsyncConnection, tenant_id: str) -> None:
    """In the caller's transaction: wait until a transaction creating (or reviving) the tenant's
    row has ended, so that what is read next is the row the workflow was started for."""
    await conn.execute(_CREATION_LOCK_SHARED, {"id": tenant_id})


class Operation(StrEnum):
    RETRY = "retry"
    UPDATE = "edit"
    CANCEL = "cancel"
    DELETE = "delete"
    MIGRATE = "migrate"


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[TenantStatus]
    # Past participle for the 409: "only a tenant that is Active can be edited".
    done: str


OPERATIONS: dict[Operation, Rule] = {
    Operation.RETRY: Rule(frozenset({S.FAILED, S.CANCELLED}), "retried"),
    Operation.UPDATE: Rule(frozenset({S.ACTIVE}), "edited"),
    Operation.CANCEL: Rule(frozenset({S.PENDING, S.PROVISIONING}), "cancelled"),
    Operation.DELETE: Rule(frozenset({S.ACTIVE, S.FAILED, S.CANCELLED}), "deleted"),
    # Begun by a fleet rollout's MigrateTenant, never by a request of its own.
    Operation.MIGRATE: Rule(frozenset({S.ACTIVE}), "migrated"),
}


class WrongStatus(Exception):
    """The tenant's status does not allow the operation (the API answers 409)."""

    def __init__(self, tenant_id: str, status: str, operation: Operation) -> None:
        rule = OPERATIONS[operation]
        accepted = " or ".join(sorted(rule.allowed))
        super().__init__(
            f"Tenant '{tenant_id}' is {status}: only a tenant that is {accepted} can be {rule.done}"
        )


class IllegalTransition(Exception):
    def __init__(self, tenant_id: str, source: str, target: TenantStatus) -> None:
        super().__init__(f"tenant {tenant_id} cannot go from {source} to {target}")


class NotTheOwner(IllegalTransition):
    def __init__(self, tenant_id: str, owner: str | None, workflow_id: str) -> None:
        Exception.__init__(
            self, f"tenant {tenant_id} belongs to {owner}, not to {workflow_id}: not written"
        )


class TenantMissing(Exception):
    pass


async def create(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a new tenant row, Pending; a Deleted tenant's row is taken over, afresh. False if
    the id is taken by a tenant that is not Deleted (nothing written).

    Holds the row's creation lock until the caller's transaction ends: the workflow is started
    inside that transaction, and its first status write waits for the commit instead of finding
    no row and retrying later."""
    await session.execute(_CREATION_LOCK, {"id": values["id"]})
    fresh = values | {"status": S.PENDING}
    revived = {
        # Everything the deleted tenant's row held is replaced, not merged.
        "admin_password_hash": None,
        "admin_password_sealed": None,
        "provisioning_error": None,
        "provisioning_error_detail": None,
        "last_provisioning_attempt": None,
        "schema_revision": None,
        "migration_error": None,
        **{key: value for key, value in fresh.items() if key != "id"},
        "created_on": func.now(),
        "updated_on": func.now(),
    }
    inserted = await session.scalar(
        insert(Tenant)
        .values(fresh)
        .on_conflict_do_update(
            index_elements=[Tenant.id], set_=revived, where=Tenant.status == S.DELETED
        )
        .returning(Tenant.id)
    )
    return inserted is not None


async def begin(
    session: AsyncSession,
    tenant: Tenant,
    operation: Operation,
    target: TenantStatus,
    **values: Any,
) -> None:
    """Move the row into `target` for `operation`, if its status allows it (else WrongStatus).

    Conditional on the status, so of two racing requests exactly one moves the row."""
    allowed = OPERATIONS[operation].allowed & sources_of(target)
    if tenant.status not in allowed:
        raise WrongStatus(tenant.id, tenant.status, operation)
    moved = await session.scalar(
        update(Tenant)
        .where(Tenant.id == tenant.id, Tenant.status.in_(list(allowed)))
        .values(values | {"status": target, "updated_on": func.now()})
        .returning(Tenant.id)
    )
    if moved is None:  # another request got there first
        await session.refresh(tenant)
        raise WrongStatus(tenant.id, tenant.status, operation)


def require(tenant: Tenant, operation: Operation) -> None:
    """For operations that do not move the row themselves (cancel: the workflow does)."""
    if tenant.status not in OPERATIONS[operation].allowed:
        raise WrongStatus(tenant.id, tenant.status, operation)


async def record(
    conn: AsyncConnection,
    tenant_id: str,
    target: TenantStatus,
    *,
    error: str | None = None,
    new_attempt: bool = False,
    workflow_id: str | None = None,
    error_detail: str | None = None,
) -> None:
    """A workflow's step: the row moves to `target` (TenantMissing, IllegalTransition).
    `workflow_id`: the run writing; only the run the row points at may write (an operation
    started since, or a run reset long after, must not overwrite another run's state)."""
    # A row being created is invisible until its transaction commits: wait for that (shared
    # lock: status writes of different runs do not wait for each other).
    await wait_for_creation(conn, tenant_id)
    # Read under the row lock first: a plain conditional UPDATE would judge the last committed
    # status, and a retry the API has moved (Failed -> Pending) but not yet committed — the
    # workflow starts inside that transaction — would look illegal. FOR UPDATE waits for it.
    row = (
        await conn.execute(
            select(Tenant.status, Tenant.workflow_id)
            .where(Tenant.id == tenant_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise TenantMissing(f"tenant {tenant_id} not found")
    current, owner = row
    if workflow_id is not None and owner is not None and owner != workflow_id:
        raise NotTheOwner(tenant_id, owner, workflow_id)
    if not can_move(S(current), target):
        raise IllegalTransition(tenant_id, current, target)
    values: dict[str, Any] = {"status": target, "updated_on": func.now()}
    # Stamped when the row moves: a retried write of a status it already holds (a step's second
    # attempt) starts no new attempt.
    if new_attempt and S(current) is not target:
        values |= {
            "last_provisioning_attempt": func.now(),
            "provisioning_error": None,
            "provisioning_error_detail": None,
        }
    if error is not None or target is S.FAILED:
        values |= {"provisioning_error": error, "provisioning_error_detail": error_detail}
    await conn.execute(update(Tenant).where(Tenant.id == tenant_id).values(values))


# What a run that closed without recording its outcome means for the row.


def closed_without_outcome(workflow_id: str, status: WorkflowExecutionStatus | None) -> str:
    """The error a row gets when the run behind it ended without recording an outcome: an
    operator terminated it, it timed out, or it failed while the database was unreachable.
    Nothing was rolled back; `retry` or `DELETE` can clean up."""
    return (
        f"Workflow {workflow_id} {_how(status)} without recording an outcome; nothing was rolled "
        "back. Retry or delete the tenant to clean up."
    )


def migration_closed_without_outcome(
    workflow_id: str, status: WorkflowExecutionStatus | None, revision: str | None
) -> str:
    """The migration error of a Migrating row whose run ended without recording an outcome.
    Its transaction committed or rolled back as a whole, so the tenant is Active again at
    whichever revision its storage holds."""
    at = f"its schema is at {revision}" if revision else "which revision is not known yet"
    return (
        f"Migration {workflow_id} {_how(status)} without recording an outcome; the migration "
        f"committed or rolled back as a whole: {at}."
    )


def _how(status: WorkflowExecutionStatus | None) -> str:
    return {
        WorkflowExecutionStatus.TERMINATED: "was terminated",
        WorkflowExecutionStatus.TIMED_OUT: "timed out",
        None: "is unknown to Temporal",
    }.get(status, f"ended ({status.name.lower() if status else 'unknown'})")


def settled_status(status: TenantStatus) -> TenantStatus:
    """What a row in flight becomes when its run closed without recording an outcome: Failed,
    except a migration's, which leaves the tenant usable (Active) at one revision or the other."""
    return S.ACTIVE if status == S.MIGRATING else S.FAILED


async def settle_closed_run(session: AsyncSession, client: Client, tenant: Tenant) -> Tenant:
    """A row still in flight behind a closed run becomes Failed, with an error saying why; a
    Migrating one becomes Active at the revision its storage holds (read now).

    Our workflows record their outcome before they close, so this happens only when a run was
    stopped from outside. Conditional: a row that moved on meanwhile stays as it is."""
    if S(tenant.status) not in IN_FLIGHT or tenant.workflow_id is None:
        return tenant
    try:
        status: WorkflowExecutionStatus | None = (
            await client.get_workflow_handle(tenant.workflow_id).describe()
        ).status
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            return tenant  # cannot tell now: leave the row as it is
        status = None
    if status == WorkflowExecutionStatus.RUNNING:
        return tenant
    values: dict[str, Any]
    if tenant.status == S.MIGRATING:
        revision = await _stored_revision(session, tenant)
        values = {
            "status": S.ACTIVE,
            "schema_revision": revision,
            "migration_error": migration_closed_without_outcome(
                tenant.workflow_id, status, revision
            ),
        }
    else:
        values = {
            "status": S.FAILED,
            "provisioning_error": closed_without_outcome(tenant.workflow_id, status),
        }
    await session.execute(
        update(Tenant)
        .where(
            Tenant.id == tenant.id,
            Tenant.status == tenant.status,
            Tenant.workflow_id == tenant.workflow_id,
        )
        .values(values | {"updated_on": func.now()})
    )
    await session.commit()
    await session.refresh(tenant)
    return tenant


async def _stored_revision(session: AsyncSession, tenant: Tenant) -> str | None:
    """The revision in the tenant's storage (on the control plane's server); None if it cannot
    be read now (the row then says so, and the next migration reads it again)."""
    if not tenant.database_name or not tenant.schema_name:
        return None
    server = session.get_bind().engine.url
    try:
        return await stored_revision(server, tenant.database_name, tenant.schema_name)
    except (OSError, SQLAlchemyError):
        return None
