"""Activity inputs and outputs. No secrets here: these land in workflow history in clear."""

from dataclasses import dataclass

from core.status import TenantStatus


@dataclass(frozen=True)
class TenantRef:
    tenant_id: str
    # This step opens the provisioning attempt: it moves the row to Provisioning (stamping
    # lastProvisioningAttempt) before its own work, unless the row already is (a retried step).
    begins_attempt: bool = False


@dataclass(frozen=True)
class NotificationRequest:
    """The outcome of an operation for `user_id`, who started it; the tenant's admins get it too.
    `key` makes recording it idempotent."""

    key: str
    user_id: str
    type: str
    message: str
    tenant_id: str
    tenant_name: str


@dataclass(frozen=True)
class StatusChange:
    tenant_id: str
    status: TenantStatus
    error: str | None = None
    # A new provisioning attempt begins: stamp lastProvisioningAttempt, clear the old error.
    new_attempt: bool = False
    # The driver's text behind `error` (activities/translate.py), shown one click away.
    error_detail: str | None = None
    # Recorded in the same transaction as the status (the activation's "ready" notification).
    notification: NotificationRequest | None = None


@dataclass(frozen=True)
class AdminUser:
    user_id: str
    email: str
    created: bool


@dataclass(frozen=True)
class TenantStorage:
    database: str
    schema: str
    created: bool
    # Set when the step took a spare schema (activities/spares.py): it is at this revision,
    # recorded on the row, and there is nothing left to migrate.
    revision: str | None = None


@dataclass(frozen=True)
class TenantUpdate:
    tenant_id: str
    name: str
    is_active: bool


@dataclass(frozen=True)
class Removed:
    """What a compensation or deprovisioning step removed (False: there was nothing)."""

    removed: bool
    count: int = 0


@dataclass(frozen=True)
class WelcomeEmail:
    tenant_id: str
    tenant_name: str
    to: str


@dataclass(frozen=True)
class Migrated:
    revision: str


@dataclass(frozen=True)
class AttemptFailure:
    """Sent by an activity to its workflow when one attempt fails (see activities/progress.py)."""

    activity: str
    attempt: int
    error: str
    will_retry: bool
    error_detail: str | None = None
