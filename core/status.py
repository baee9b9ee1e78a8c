"""The tenant statuses, shared by the control-plane row, the workflows and the API."""

from enum import StrEnum


class TenantStatus(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    ACTIVE = "Active"
    FAILED = "Failed"
    UPDATING = "Updating"
    CANCELLED = "Cancelled"
    DELETING = "Deleting"
    DELETED = "Deleted"
    # Its schema is being moved to another revision (a fleet rollout); back to Active after.
    MIGRATING = "Migrating"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED, TenantStatus.DELETED}
)

ROOT_TENANT_ID = "root"
