"""The tenant state machine, enumerated: every (from, to) pair is legal or not on purpose."""

import itertools

import pytest

from core.lifecycle import OPERATIONS, TRANSITIONS, Operation, can_move, sources_of
from core.status import TenantStatus as S

# Written out independently of core/lifecycle.py: a change to either must be deliberate.
LEGAL = {
    (S.PENDING, S.PROVISIONING),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.FAILED),
    (S.PROVISIONING, S.ACTIVE),
    (S.PROVISIONING, S.CANCELLED),
    (S.PROVISIONING, S.FAILED),
    (S.ACTIVE, S.UPDATING),
    (S.ACTIVE, S.DELETING),
    (S.ACTIVE, S.MIGRATING),  # a fleet rollout's MigrateTenant begins
    (S.MIGRATING, S.ACTIVE),  # migrated, failed (rolled back) or cancelled: Active either way
    (S.UPDATING, S.ACTIVE),
    (S.UPDATING, S.FAILED),
    (S.FAILED, S.PENDING),
    (S.FAILED, S.PROVISIONING),  # `temporal workflow reset` of a failed provisioning
    (S.CANCELLED, S.PROVISIONING),
    (S.FAILED, S.UPDATING),
    (S.FAILED, S.DELETING),
    (S.CANCELLED, S.PENDING),
    (S.CANCELLED, S.DELETING),
    (S.DELETING, S.DELETED),
    (S.DELETING, S.FAILED),
    (S.DELETED, S.PENDING),  # the id provisioned again (POST /api/tenants)
} | {(s, s) for s in S}

PAIRS = list(itertools.product(S, S))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_each_transition_is_legal_exactly_when_the_design_says(source: S, target: S) -> None:
    assert can_move(source, target) == ((source, target) in LEGAL)


def test_every_status_has_its_transitions_declared() -> None:
    assert set(TRANSITIONS) == set(S)


def test_a_deleted_tenant_can_only_be_provisioned_anew() -> None:
    assert [t for t in S if can_move(S.DELETED, t)] == [S.PENDING, S.DELETED]
    for operation in Operation:  # no operation on the row revives it: only a new create
        assert S.DELETED not in OPERATIONS[operation].allowed


def test_an_active_tenant_is_never_provisioned_again() -> None:
    assert not can_move(S.ACTIVE, S.PENDING)
    assert not can_move(S.ACTIVE, S.PROVISIONING)
    assert S.ACTIVE not in sources_of(S.CANCELLED)


@pytest.mark.parametrize(
    ("operation", "allowed"),
    [
        (Operation.RETRY, {S.FAILED, S.CANCELLED}),
        (Operation.UPDATE, {S.ACTIVE}),
        (Operation.CANCEL, {S.PENDING, S.PROVISIONING}),
        (Operation.DELETE, {S.ACTIVE, S.FAILED, S.CANCELLED}),
        (Operation.MIGRATE, {S.ACTIVE}),
    ],
)
def test_operations_start_only_from_their_statuses(operation: Operation, allowed: set[S]) -> None:
    assert OPERATIONS[operation].allowed == allowed


def test_a_migrating_tenant_takes_no_operation_and_only_goes_back_to_active() -> None:
    assert [t for t in S if can_move(S.MIGRATING, t)] == [S.ACTIVE, S.MIGRATING]
    for operation in Operation:  # edit, delete, cancel, retry: the 409 of the lifecycle
        assert S.MIGRATING not in OPERATIONS[operation].allowed
