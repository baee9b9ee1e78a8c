"""What a bulk action means for one tenant (core/actions.py) and how a retried first step
recognises the row its first attempt moved (activities/bulk.py): pure logic, no servers."""

import pytest

from activities.bulk import BulkItem, _resumed
from core.actions import Action, Skip, Work, plan
from core.models import Tenant
from core.status import TenantStatus as S


def tenant(status: S, workflow_id: str = "provision-tenant-acme", **values: object) -> Tenant:
    return Tenant(
        id=values.pop("id", "acme"),
        name="Acme",
        status=status,
        is_active=values.pop("is_active", True),
        has_isolated_database=False,
        admin_email="admin@acme.example.com",
        workflow_id=workflow_id,
        initiated_by=values.pop("initiated_by", None),
    )


@pytest.mark.parametrize(
    ("status", "action", "work", "target"),
    [
        (S.FAILED, Action.RETRY, Work.PROVISION, S.PENDING),
        (S.CANCELLED, Action.RETRY, Work.PROVISION, S.PENDING),
        (S.PENDING, Action.CANCEL, Work.CANCEL, None),
        (S.PROVISIONING, Action.CANCEL, Work.CANCEL, None),
        (S.ACTIVE, Action.DELETE, Work.DEPROVISION, S.DELETING),
        (S.FAILED, Action.DELETE, Work.DEPROVISION, S.DELETING),
        (S.ACTIVE, Action.DEACTIVATE, Work.UPDATE, S.UPDATING),
    ],
)
def test_an_eligible_tenant_gets_the_single_tenant_apis_work(
    status: S, action: Action, work: Work, target: S | None
) -> None:
    planned = plan(tenant(status), action)
    assert (planned.work, planned.target) == (work, target)


@pytest.mark.parametrize(
    ("row", "action", "reason"),
    [
        (
            tenant(S.ACTIVE),
            Action.RETRY,
            "is Active: only a tenant that is Cancelled or Failed can be retried",
        ),
        (tenant(S.DELETED), Action.DELETE, "is Deleted: only a tenant that is Active or "),
        (tenant(S.ACTIVE, id="root"), Action.DEACTIVATE, "the root tenant cannot be changed"),
        (tenant(S.ACTIVE, is_active=False), Action.DEACTIVATE, "already inactive"),
        (tenant(S.ACTIVE), Action.ACTIVATE, "already active"),
        (
            tenant(S.FAILED, "deprovision-tenant-acme"),
            Action.RETRY,
            "deleting it failed: delete it again to finish",
        ),
        (tenant(S.ACTIVE), Action.CANCEL, "is Active: only a tenant that is Pending or "),
    ],
)
def test_an_ineligible_tenant_is_skipped_with_the_reason(
    row: Tenant, action: Action, reason: str
) -> None:
    with pytest.raises(Skip) as skipped:
        plan(row, action)
    assert str(skipped.value).startswith(reason)


def test_a_failed_update_is_retried_as_an_update() -> None:
    planned = plan(tenant(S.FAILED, "update-tenant-acme-0123abcd"), Action.RETRY)
    assert (planned.work, planned.target) == (Work.UPDATE, S.UPDATING)


ITEM = BulkItem(
    action=Action.DEACTIVATE,
    tenant_id="acme",
    initiated_by="u1",
    provision_workflow_id="provision-tenant-acme",
    update_workflow_id="update-tenant-acme-0123abcd",
    deprovision_workflow_id="deprovision-tenant-acme",
)


def test_a_retried_first_step_recognises_the_row_it_moved() -> None:
    moved = tenant(S.UPDATING, ITEM.update_workflow_id, initiated_by="u1")
    resumed = _resumed(moved, ITEM)
    assert resumed is not None
    assert (resumed.work, resumed.status, resumed.is_active) == (Work.UPDATE, S.UPDATING, False)


@pytest.mark.parametrize(
    "row",
    [
        tenant(S.UPDATING, ITEM.update_workflow_id, initiated_by="someone-else"),
        tenant(S.ACTIVE, ITEM.update_workflow_id, initiated_by="u1"),  # already done since
        tenant(S.UPDATING, "update-tenant-acme-ffffffff", initiated_by="u1"),  # another update
    ],
)
def test_a_row_moved_by_anyone_or_anything_else_is_not_taken_over(row: Tenant) -> None:
    assert _resumed(row, ITEM) is None
