"""`ApplicationError` types raised by activities (listed in the retry policies' non-retryables)."""

TENANT_NOT_FOUND = "TenantNotFound"
TENANT_MISCONFIGURED = "TenantMisconfigured"
STORAGE_NAME_TAKEN = "StorageNameTaken"
MIGRATION_FAILED = "MigrationFailed"
EMAIL_REJECTED = "EmailRejected"
ILLEGAL_TRANSITION = "IllegalTransition"
# The worker's PASSWORD_SEALING_KEY is missing or is not the API's: no retry can unseal it.
CANNOT_UNSEAL_PASSWORD = "CannotUnsealPassword"
# An operation (an update) holds the tenant for a moment: a migration waits for it, retrying.
TENANT_BUSY = "TenantBusy"
