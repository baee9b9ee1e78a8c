"""Workflow inputs, results and the progress snapshot exposed by the `progress` query.

New fields get defaults, so histories recorded before them still decode.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from core.status import TenantStatus

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
TENANT_STATUS = SearchAttributeKey.for_keyword("TenantStatus")
# The tenant schema revision a run found (when it starts) and left (when it ends) the tenant at.
TENANT_SCHEMA_REVISION = SearchAttributeKey.for_keyword("TenantSchemaRevision")
SEARCH_ATTRIBUTES = (TENANT_ID, TENANT_STATUS, TENANT_SCHEMA_REVISION)

PROGRESS_QUERY = "progress"


def search_attributes(tenant_id: str, status: TenantStatus) -> TypedSearchAttributes:
    """Set when a run starts, so the Web UI and `temporal workflow list` find it at once."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(TENANT_ID, tenant_id),
            SearchAttributePair(TENANT_STATUS, status.value),
        ]
    )


def tenant_search_attributes(tenant_id: str, schema_revision: str | None) -> TypedSearchAttributes:
    """For a MigrateTenant run's start: its tenant, the revision it was listed at (if known),
    and Migrating from the first moment: its first step moves the row to Migrating, and a run
    stopped from outside right after must already be one the API's sweep looks for."""
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(TENANT_ID, tenant_id),
        SearchAttributePair(TENANT_STATUS, TenantStatus.MIGRATING.value),
    ]
    if schema_revision is not None:
        pairs.append(SearchAttributePair(TENANT_SCHEMA_REVISION, schema_revision))
    return TypedSearchAttributes(pairs)


def provision_workflow_id(tenant_id: str) -> str:
    return f"provision-tenant-{tenant_id}"


# Sent by API versions before the cancel reason carried the user; kept for runs in flight.
CANCEL_REQUESTED_BY_SIGNAL = "cancel_requested_by"
_CANCEL_REASON_PREFIX = "requested by user "


def cancel_reason(user_id: str) -> str:
    """The reason the API gives `handle.cancel(reason=...)`: who asked, for the notification."""
    return f"{_CANCEL_REASON_PREFIX}{user_id}"


def canceller(reason: str | None) -> str | None:
    """The user in a reason made by `cancel_reason`; None for the Web UI's or the CLI's."""
    if reason and reason.startswith(_CANCEL_REASON_PREFIX):
        return reason.removeprefix(_CANCEL_REASON_PREFIX) or None
    return None


def update_workflow_id(tenant_id: str, operation_id: str) -> str:
    return f"update-tenant-{tenant_id}-{operation_id[:8]}"


def deprovision_workflow_id(tenant_id: str) -> str:
    return f"deprovision-tenant-{tenant_id}"


class NotificationType(StrEnum):
    TENANT_CREATED = "TenantCreated"
    TENANT_CREATION_FAILED = "TenantCreationFailed"
    TENANT_UPDATED = "TenantUpdated"
    TENANT_UPDATE_FAILED = "TenantUpdateFailed"
    TENANT_CANCELLED = "TenantCancelled"
    TENANT_CANCELLATION_FAILED = "TenantCancellationFailed"
    TENANT_DELETED = "TenantDeleted"
    TENANT_DELETION_FAILED = "TenantDeletionFailed"


class StepName(StrEnum):
    CREATE_ADMIN_USER = "create_admin_user"
    CREATE_DATABASE = "create_tenant_database"
    MIGRATE_DATABASE = "migrate_tenant_database"
    ACTIVATE = "activate_tenant"
    SEND_WELCOME = "send_welcome_email"
    APPLY_UPDATE = "apply_tenant_update"
    DROP_DATABASE = "drop_tenant_database"
    DELETE_USERS = "delete_tenant_users"
    MARK_DELETED = "mark_deleted"
    MIGRATE_SCHEMA = "migrate_tenant_schema"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class StepProgress:
    name: str
    status: StepStatus = StepStatus.PENDING
    attempt: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    # The driver's text behind last_error (activities/translate.py): the "details" disclosure.
    last_error_detail: str | None = None


@dataclass
class Progress:
    tenant_id: str
    workflow_type: str
    status: TenantStatus
    steps: list[StepProgress] = field(default_factory=list)
    error: str | None = None
    error_detail: str | None = None
    updated_at: datetime | None = None
    # Bumped on every change: with run_started_at, it orders snapshots across API processes
    # (the SSE event id).
    version: int = 0
    run_started_at: datetime | None = None


@dataclass(frozen=True)
class ProvisionTenantInput:
    tenant_id: str
    name: str
    admin_email: str
    has_isolated_database: bool
    # Id of the user who asked for it; None for public sign-up.
    initiated_by: str | None = None
    # Chosen by the API per request: keys the notification, so retries never send it twice.
    operation_id: str = ""
    # Public sign-up: send the admin a welcome e-mail once the tenant is Active.
    send_welcome_email: bool = False


@dataclass(frozen=True)
class ProvisionTenantResult:
    tenant_id: str
    status: TenantStatus
    database: str
    schema: str
    admin_user_id: str
    # The final snapshot, so a closed run's progress is read from its result, not by replaying.
    progress: Progress | None = None


@dataclass(frozen=True)
class UpdateTenantInput:
    tenant_id: str
    name: str
    is_active: bool
    initiated_by: str | None = None
    operation_id: str = ""


@dataclass(frozen=True)
class DeprovisionTenantInput:
    tenant_id: str
    name: str
    initiated_by: str | None = None
    operation_id: str = ""


@dataclass(frozen=True)
class OperationResult:
    tenant_id: str
    status: TenantStatus
    progress: Progress | None = None


class MigrationOutcome(StrEnum):
    MIGRATED = "migrated"
    # Nothing to do: at the target already, not Active (the reason says why), or Deleted.
    SKIPPED = "skipped"
    # Its migration failed (the error says why); the tenant stays Active at its old revision.
    FAILED = "failed"


@dataclass(frozen=True)
class MigrateTenantInput:
    tenant_id: str
    # A concrete revision id (the API resolves "head"); older than the tenant's: a downgrade.
    target_revision: str
    rollout_id: str


@dataclass(frozen=True)
class MigrateTenantResult:
    tenant_id: str
    outcome: MigrationOutcome
    # Where the tenant was and is (None: unknown, e.g. a tenant without storage).
    from_revision: str | None
    to_revision: str | None
    # Failed: an operator-readable error; skipped: why.
    error: str | None = None
    # The final snapshot (the tenant's page reads a closed run's progress from its result).
    progress: Progress | None = None
