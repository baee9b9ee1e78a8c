"""Named retry policies and timeouts, one per activity. All bounded: Temporal's default retries
forever. Worst cases (sum of backoffs) are noted so operators know how long a step may take."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy, WorkflowIDReusePolicy

from activities import errors


@dataclass(frozen=True)
class ActivityPolicy:
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    # Set for steps that heartbeat (activities/_heartbeat.py): how soon a dead worker is noticed.
    heartbeat_timeout: timedelta | None = None


# Status writes on the control-plane row (local activities on the fast path). The first write
# waits for the API's creating transaction (core/lifecycle.py's creation lock); "tenant not
# found" stays retryable for a few seconds all the same, for an API that died before its commit
# was sent. Worst case ~16 s of backoff.
STATUS_UPDATE = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=10),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=50),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=10,
    ),
)

# Worst case ~30 s of backoff.
CREATE_ADMIN_USER = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=[
            errors.TENANT_NOT_FOUND,
            errors.TENANT_MISCONFIGURED,
            errors.CANNOT_UNSEAL_PASSWORD,
        ],
    ),
)

# A database server that is down or out of connections usually comes back: ~2.5 min of backoff.
CREATE_DATABASE = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=60),
    heartbeat_timeout=timedelta(seconds=10),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=8,
        non_retryable_error_types=[
            errors.STORAGE_NAME_TAKEN,
            errors.TENANT_NOT_FOUND,
            errors.TENANT_MISCONFIGURED,
        ],
    ),
)

# A migration the server rejects (SQL error) will not pass on retry; connection trouble, or a
# lock a tenant's session held past the lock timeout, may. Provisioning's migration step and a
# fleet migration's (MigrateTenant) alike.
MIGRATE_DATABASE = ActivityPolicy(
    start_to_close_timeout=timedelta(minutes=5),
    heartbeat_timeout=timedelta(seconds=10),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=6,
        non_retryable_error_types=[
            errors.MIGRATION_FAILED,
            errors.TENANT_NOT_FOUND,
            errors.TENANT_MISCONFIGURED,
        ],
    ),
)

# A fleet migration's first step (MigrateTenant): the row Active -> Migrating. A tenant in an
# update waits for it (TenantBusy is retried for ~30 s, then the tenant is skipped); a control
# plane that is away is retried as long.
BEGIN_MIGRATION = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=250),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=8),
        maximum_attempts=8,
        non_retryable_error_types=[errors.ILLEGAL_TRANSITION],
    ),
)

# Its last step: back to Active with the revision its storage is at. Retried for ~2.5 minutes;
# a row still Migrating after that is settled by the API's sweep (core/lifecycle.py).
FINISH_MIGRATION = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=8,
        non_retryable_error_types=[
            errors.ILLEGAL_TRANSITION,
            errors.TENANT_NOT_FOUND,
            errors.TENANT_MISCONFIGURED,
        ],
    ),
)

# Compensation and deprovisioning: a removal that cannot proceed (a stranger's database under
# the tenant's name) stops at once; anything else is retried for ~2.5 minutes.
REMOVE_STORAGE = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=60),
    heartbeat_timeout=timedelta(seconds=10),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=8,
        non_retryable_error_types=[
            errors.STORAGE_NAME_TAKEN,
            errors.TENANT_NOT_FOUND,
            errors.TENANT_MISCONFIGURED,
        ],
    ),
)

# Control-plane writes of an operation (update, user removal).
CONTROL_PLANE_WRITE = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=[errors.TENANT_NOT_FOUND],
    ),
)

# SMTP: a server that is down is retried for ~5 minutes; a recipient it refuses is not.
SEND_EMAIL = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=8,
        non_retryable_error_types=[errors.EMAIL_REJECTED],
    ),
)

# A bulk action's step for one tenant (move its row, or ask its run to cancel): a database or
# Temporal that is away is retried for ~30 s; after that the tenant's outcome is "failed".
BULK_ITEM = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=6,
    ),
)
# A bulk action's child reuses the tenant's workflow id (a retry's earlier run has closed).
BULK_CHILD_REUSE = WorkflowIDReusePolicy.ALLOW_DUPLICATE

# A fleet rollout's own steps (list a page of tenants, store its end on its row): a control
# plane that is away is retried for ~1 minute; then the rollout pauses (listing) or leaves its
# row to the API to settle (its end).
FLEET_STEP = ActivityPolicy(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=15),
        maximum_attempts=8,
    ),
)
# A tenant retried in one rollout runs again under the same child id (its first run has closed).
MIGRATE_TENANT_CHILD_REUSE = WorkflowIDReusePolicy.ALLOW_DUPLICATE
