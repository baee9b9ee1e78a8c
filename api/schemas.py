"""Request and response bodies (camelCase on the wire, as the contract fixes)."""

import re
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from core.actions import Action
from core.naming import validate_tenant_id
from core.passwords import check_password_policy
from core.status import TenantStatus


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def _password_policy(value: SecretStr) -> SecretStr:
    check_password_policy(value.get_secret_value())
    return value


def _lower(value: str) -> str:
    return value.lower()


# C0 and C1 controls (NUL, CR, LF, ESC ...), DEL, and the Unicode line/paragraph separators:
# PostgreSQL refuses NUL in text, and a line break in a name breaks the e-mail headers it
# ends up in. Rejected at the edge, with the field named, rather than failing somewhere later.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def reject_control_characters(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"must not contain control characters (found U+{ord(found[0]):04X})")
    return value


def _no_control_before(value: object) -> object:
    return reject_control_characters(value) if isinstance(value, str) else value


def human_messages(messages: dict[str, str]) -> WrapValidator:
    """Say a field's constraint errors as sentences for the form ("Enter a name") instead of
    pydantic's wording, keeping the error type and the constraints in the OpenAPI schema."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError as err:
            first = err.errors()[0]
            message = messages.get(first["type"])
            if message is None:
                raise
            raise PydanticCustomError(first["type"], message) from None

    return WrapValidator(validate)


NoControl = AfterValidator(reject_control_characters)
TenantId = Annotated[str, NoControl, AfterValidator(validate_tenant_id)]
TenantName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    NoControl,
    human_messages(
        {
            "string_too_short": "Enter a name",
            "string_too_long": "Use at most 200 characters for the name",
        }
    ),
]
# The wrapper is inner to the control-character check, whose own message stays.
Email = Annotated[
    EmailStr,
    human_messages({"value_error": "Enter a valid email address, like name@example.com"}),
    BeforeValidator(_no_control_before),
    AfterValidator(_lower),
]
# SecretStr: a rejected password is never echoed back in the 422 body or in logs.
Password = Annotated[SecretStr, AfterValidator(_password_policy)]


class TenantCreate(CamelModel):
    model_config = ConfigDict(extra="forbid")

    id: TenantId = Field(examples=["acme"])
    name: TenantName = Field(examples=["Acme Corporation"])
    admin_email: Email = Field(examples=["admin@acme.example.com"])
    password: Password = Field(examples=["correct-horse-42"])
    has_isolated_database: bool = False


class SignupRequest(CamelModel):
    """Public sign-up: always a schema in the shared database (no isolated database)."""

    model_config = ConfigDict(extra="forbid")

    id: TenantId = Field(examples=["acme"])
    name: TenantName = Field(examples=["Acme Corporation"])
    admin_email: Email = Field(examples=["admin@acme.example.com"])
    password: Password = Field(examples=["correct-horse-42"])


class TenantChange(CamelModel):
    model_config = ConfigDict(extra="forbid")

    name: TenantName = Field(examples=["Acme Corp."])
    is_active: bool = True


class TenantAccepted(CamelModel):
    id: str
    status: TenantStatus
    workflow_id: str


class SignupAccepted(TenantAccepted):
    """`progressToken` reads this tenant's progress for a while:
    `GET /api/signup/{id}/events?token=…` (nothing else, nobody else's)."""

    name: str
    progress_token: str


class TenantOut(CamelModel):
    id: str
    name: str
    status: TenantStatus
    is_active: bool
    has_isolated_database: bool
    database: str | None = Field(validation_alias="database_name")
    schema_: str | None = Field(validation_alias="schema_name", serialization_alias="schema")
    admin_email: str | None
    provisioning_error: str | None
    # The technical detail behind provisioningError (driver text), for a "details" disclosure.
    provisioning_error_detail: str | None = None
    last_provisioning_attempt: datetime | None
    workflow_id: str | None
    schema_revision: str | None = Field(
        default=None, description="Tenant schema revision of its storage; null: not known yet"
    )
    migration_error: str | None = Field(
        default=None, description="Why its last schema migration failed (cleared by the next)"
    )
    created_on: datetime
    updated_on: datetime


class TenantUserOut(CamelModel):
    """A user of a tenant (never the password hash)."""

    email: str
    roles: list[str]
    created_on: datetime


class TenantPage(CamelModel):
    """One page of tenants; `nextCursor` fetches the next (null on the last page)."""

    items: list[TenantOut]
    total: int = Field(description="Tenants matching the filter, on all pages")
    next_cursor: str | None


class TenantStats(CamelModel):
    total: int = Field(description="Every tenant, Deleted ones included")
    by_status: dict[TenantStatus, int]
    by_schema_revision: dict[str, int] = Field(
        default_factory=dict,
        description="Tenants with storage (Deleted ones excepted) per schema revision; "
        '"unknown": not known yet',
    )


class RevisionOut(CamelModel):
    id: str
    description: str


class RevisionCount(CamelModel):
    revision: str | None = Field(description="null: tenants whose revision is not known yet")
    tenants: int


class SchemaOut(CamelModel):
    """The tenant schema's revisions and how many tenants are on each."""

    head: str
    revisions: list[RevisionOut] = Field(description="Oldest first")
    counts: list[RevisionCount] = Field(
        description="Tenants with storage (Deleted ones excepted) per revision, in the order of "
        "`revisions` (zeros included); then revisions this version does not know, then null"
    )
    migrating: int = Field(description="Tenants being migrated now")


class RunOut(CamelModel):
    """One workflow run of a tenant. `status` is Temporal's (Running, Completed, Failed,
    Cancelled, Terminated, TimedOut); `tenantStatus` what the run last recorded for the tenant."""

    workflow_id: str
    run_id: str
    workflow_type: str
    label: str
    status: str
    tenant_status: TenantStatus | None
    started_at: datetime
    closed_at: datetime | None
    error: str | None
    web_url: str


class BulkFilter(CamelModel):
    """The statuses are required: a bulk action says which tenants it is for, never "all"."""

    model_config = ConfigDict(extra="forbid")

    status: list[TenantStatus] = Field(min_length=1)
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), NoControl] = ""


class BulkRequest(CamelModel):
    """One action on the tenants listed, or on those matching the filter now."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    tenant_ids: list[Annotated[str, StringConstraints(max_length=63), NoControl]] | None = Field(
        default=None, min_length=1, max_length=1000
    )
    filter: BulkFilter | None = None
    concurrency: int = Field(default=10, ge=1, le=50)

    @model_validator(mode="after")
    def _one_target(self) -> "BulkRequest":
        if (self.tenant_ids is None) == (self.filter is None):
            raise ValueError("give either tenantIds or filter")
        return self


class BulkAccepted(CamelModel):
    id: str
    workflow_id: str
    total: int


class TenantOutcomeOut(CamelModel):
    tenant_id: str
    outcome: str
    detail: str | None
    workflow_id: str | None
    finished_at: datetime | None


class BulkOut(CamelModel):
    """A bulk action's state; `outcomes` in the order tenants finished."""

    id: str
    action: Action
    finished: bool
    # Cancelled from the Web UI or CLI: tenants not yet begun are skipped.
    cancelled: bool
    total: int
    done: int
    skipped: int
    failed: int
    running: int
    pending: int
    outcomes: list[TenantOutcomeOut]
    started_at: datetime | None
    finished_at: datetime | None
    version: int


class StepOut(CamelModel):
    name: str
    status: str
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    last_error_detail: str | None = None


class ProgressOut(CamelModel):
    tenant_id: str
    workflow_type: str
    status: TenantStatus
    steps: list[StepOut]
    error: str | None
    error_detail: str | None = None
    updated_at: datetime | None
    version: int = 0
    run_started_at: datetime | None = None


class NotificationOut(CamelModel):
    type: str
    message: str
    tenant_id: str
    tenant_name: str
    timestamp: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class ClientConfig(CamelModel):
    temporal_ui_url: str
    temporal_namespace: str
    signup_enabled: bool


class Health(BaseModel):
    status: str
    database: bool
    temporal: bool


class MigrationRequest(CamelModel):
    """A fleet rollout of one tenant schema revision (an older one: a rollback)."""

    model_config = ConfigDict(extra="forbid")

    target_revision: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoControl
    ] = Field(examples=["head"], description='"head" or a revision id')
    tenant_ids: list[TenantId] | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="These tenants only; without it every Active tenant",
    )
    concurrency: int = Field(default=5, ge=1, le=50, description="Tenants migrated at once")
    canary: int = Field(default=1, ge=0, le=1000, description="Tenants that go first, alone")
    max_failures: int = Field(
        default=0, ge=0, description="Failed tenants tolerated before the rollout pauses"
    )


class MigrationAccepted(CamelModel):
    id: str
    workflow_id: str
    total: int


class MigrationFailureOut(CamelModel):
    tenant_id: str
    error: str


class MigrationSkipOut(CamelModel):
    tenant_id: str
    reason: str


class MigrationOut(CamelModel):
    """A rollout's state. `failures`: the first 100 failed tenants with their error (`failed`
    counts them all); `skips`: the first 100 skipped tenants and why; `maxRunning`: the most
    tenant migrations ever in flight at once."""

    id: str
    workflow_id: str
    status: str = Field(description="Running, Paused, Completed, Failed or Cancelled")
    target_revision: str
    total: int
    succeeded: int
    failed: int
    skipped: int
    running: int
    pending: int
    failures: list[MigrationFailureOut]
    skips: list[MigrationSkipOut] = []
    started_at: datetime | None
    finished_at: datetime | None
    max_running: int = 0
    concurrency: int = 0
    paused_reason: str | None = None
    cancel_requested: bool = False
    error: str | None = None
    version: int = 0
