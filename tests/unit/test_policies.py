"""Retry-policy wiring: every policy is bounded and names only error types activities raise."""

import pytest

from activities import errors
from workflows import policies

ALL = {
    name: value
    for name, value in vars(policies).items()
    if isinstance(value, policies.ActivityPolicy)
}
KNOWN_TYPES = {v for k, v in vars(errors).items() if k.isupper()}


def test_there_is_a_policy_per_activity_kind() -> None:
    assert set(ALL) == {
        "STATUS_UPDATE",
        "CREATE_ADMIN_USER",
        "CREATE_DATABASE",
        "MIGRATE_DATABASE",
        "REMOVE_STORAGE",
        "CONTROL_PLANE_WRITE",
        "SEND_EMAIL",
        "BULK_ITEM",
        "FLEET_STEP",
        "BEGIN_MIGRATION",
        "FINISH_MIGRATION",
    }


@pytest.mark.parametrize("name", sorted(ALL))
def test_policy_is_bounded_and_names_known_error_types(name: str) -> None:
    policy = ALL[name]
    assert 0 < policy.retry_policy.maximum_attempts <= 10
    assert policy.retry_policy.maximum_interval is not None
    assert policy.start_to_close_timeout.total_seconds() > 0
    assert set(policy.retry_policy.non_retryable_error_types or ()) <= KNOWN_TYPES


def test_storage_name_clash_is_never_retried() -> None:
    assert errors.STORAGE_NAME_TAKEN in (
        policies.CREATE_DATABASE.retry_policy.non_retryable_error_types or ()
    )


def test_a_missing_row_is_retried_by_status_updates_only() -> None:
    # The API commits the tenant row right after starting the workflow: the first status
    # update may run before the commit and must retry; later steps must not wait on it.
    assert errors.TENANT_NOT_FOUND not in (
        policies.STATUS_UPDATE.retry_policy.non_retryable_error_types or ()
    )
    for name in ("CREATE_ADMIN_USER", "CREATE_DATABASE", "MIGRATE_DATABASE"):
        assert errors.TENANT_NOT_FOUND in (ALL[name].retry_policy.non_retryable_error_types or ())
