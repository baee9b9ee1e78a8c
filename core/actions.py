"""What an action asked of many tenants at once means for one of them (bulk actions).

The same rules as the single-tenant API (core/lifecycle.py's OPERATIONS): `plan` either names
the operation, the status the row moves to and the workflow that does the work, or says why the
tenant is skipped. The row is then moved by `lifecycle.begin`, conditional on its status, so a
bulk action and a single request racing on one tenant cannot both start work.
"""

from dataclasses import dataclass
from enum import StrEnum

from core import lifecycle
from core.lifecycle import Operation
from core.models import Tenant
from core.status import ROOT_TENANT_ID, TenantStatus

S = TenantStatus


class Action(StrEnum):
    RETRY = "retry"
    CANCEL = "cancel"
    DELETE = "delete"
    DEACTIVATE = "deactivate"
    ACTIVATE = "activate"


class Work(StrEnum):
    """The workflow an action starts (or, for cancel, asks to stop)."""

    PROVISION = "provision"
    UPDATE = "update"
    DEPROVISION = "deprovision"
    CANCEL = "cancel"


OPERATION_OF = {
    Action.RETRY: Operation.RETRY,
    Action.CANCEL: Operation.CANCEL,
    Action.DELETE: Operation.DELETE,
    Action.DEACTIVATE: Operation.UPDATE,
    Action.ACTIVATE: Operation.UPDATE,
}


@dataclass(frozen=True)
class Plan:
    operation: Operation
    work: Work
    # Where the row moves; None when the workflow moves it itself (cancel).
    target: TenantStatus | None
    is_active: bool


class Skip(Exception):
    """The tenant is left as it is; the message says why ("is Active: only ... retried")."""


def plan(tenant: Tenant, action: Action) -> Plan:
    if tenant.id == ROOT_TENANT_ID:
        raise Skip("the root tenant cannot be changed")
    is_active = tenant.is_active
    if action is Action.RETRY:
        operation = Operation.RETRY
        kind = (tenant.workflow_id or "").split("-", 1)[0]
        if kind == "deprovision" and tenant.status == S.FAILED:
            raise Skip("deleting it failed: delete it again to finish")
        # A tenant that was Active is never provisioned again: its update is re-applied.
        work, target = (
            (Work.UPDATE, S.UPDATING) if kind == "update" else (Work.PROVISION, S.PENDING)
        )
    elif action is Action.CANCEL:
        operation, work, target = Operation.CANCEL, Work.CANCEL, None
    elif action is Action.DELETE:
        operation, work, target = Operation.DELETE, Work.DEPROVISION, S.DELETING
    else:
        operation, work, target = Operation.UPDATE, Work.UPDATE, S.UPDATING
        is_active = action is Action.ACTIVATE
        if tenant.status == S.ACTIVE and tenant.is_active == is_active:
            raise Skip(f"already {'active' if is_active else 'inactive'}")
    allowed = lifecycle.OPERATIONS[operation].allowed
    if target is not None:
        allowed &= lifecycle.sources_of(target)
    if tenant.status not in allowed:
        raise Skip(_reason(tenant.status, operation))
    return Plan(operation, work, target, is_active)


def _reason(status: str, operation: Operation) -> str:
    rule = lifecycle.OPERATIONS[operation]
    return (
        f"is {status}: only a tenant that is {' or '.join(sorted(rule.allowed))} can be {rule.done}"
    )
