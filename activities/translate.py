"""Driver exceptions as sentences an operator can act on, with the driver's text kept apart.

What a step, a run or a tenant row shows is `ApplicationError.message`: a sentence about what
PostgreSQL refused and why, chosen by SQLSTATE (driver class names are not stable error types).
The driver's own text, without SQLAlchemy's "Background on this error" link, travels as the
error's first detail (`describe_detail`), for the "details" disclosure and for logs.
"""

import re

from sqlalchemy.exc import DBAPIError
from temporalio.exceptions import ApplicationError

from core.database import sqlstate

# The ApplicationError type of a translated driver error; retried like any other failure
# unless the raise site says otherwise (non_retryable=True with its own type).
DATABASE_ERROR = "DatabaseError"

# SQLSTATE (or its two-character class) -> why PostgreSQL refused. Exact codes win over classes.
REASONS: dict[str, str] = {
    "42P04": "a database of that name already exists",
    "42P06": "a schema of that name already exists",
    "42P07": "a table of that name already exists",
    "42710": "an object of that name already exists",
    "42501": "the database role lacks the privilege (the role in DATABASE_URL needs CREATEDB)",
    "55006": "another session is connected to it",
    "55000": "the database is not accepting connections (ALLOW_CONNECTIONS is off)",
    "55P03": "another session held a lock it needed for longer than the lock timeout",
    "57014": "the statement ran longer than the statement timeout",
    "53300": "it has too many connections open (max_connections)",
    "53100": "its disk is full",
    "53200": "it ran out of memory",
    "3D000": "the database does not exist",
    "28P01": "it rejected the password of the role in DATABASE_URL",
    "28000": "it did not accept the role in DATABASE_URL",
    "40P01": "the statement deadlocked with another session",
    "40001": "the transaction conflicted with a concurrent one",
    "08": "the connection to the server failed",
    "57": "the server is shutting down or restarting",
    "53": "it ran out of resources",
    "23": "the change would break a constraint (a duplicate or a missing reference)",
    "42": "the statement is invalid for the current schema",
}

# What each activity was doing, for the sentence of a driver error that reached its boundary
# untranslated. Activities that do not talk to PostgreSQL (e-mail) are not listed.
DOING = {
    "create_admin_user": "create the tenant's admin user",
    "create_tenant_database": "create the tenant's database or schema",
    "migrate_tenant_database": "migrate the tenant's schema",
    "drop_tenant_database": "remove the tenant's database or schema",
    "set_tenant_status": "record the tenant's status",
    "record_notification": "record a notification",
    "delete_tenant_users": "remove the tenant's users",
    "apply_tenant_update": "save the tenant's changes",
    "begin_bulk_item": "start a bulk action's item",
    "begin_tenant_migration": "start the tenant's migration",
    "migrate_tenant_schema": "migrate the tenant's schema",
    "finish_tenant_migration": "record the tenant's schema revision",
}

_BACKGROUND_LINK = re.compile(r"\s*\(Background on this error at: https?://sqlalche\.me/\S*\)")


def reason(err: BaseException) -> str | None:
    """Why PostgreSQL refused, for a driver error; None for anything else."""
    state = sqlstate(err)
    if state is not None:
        return REASONS.get(state) or REASONS.get(state[:2]) or f"of error {state}"
    if isinstance(err, ConnectionRefusedError):
        return "the connection was refused (is the server running, is DATABASE_URL right?)"
    if isinstance(err, TimeoutError):
        return "it did not answer in time"
    if isinstance(err, OSError | DBAPIError):
        return "the connection to the server failed"
    return None


def sentence(err: BaseException, doing: str) -> str | None:
    """ "PostgreSQL refused to <doing> because <reason>", or None if `err` is no driver error."""
    why = reason(err)
    if why is None:
        return None
    if sqlstate(err) is None:
        return f"Could not reach PostgreSQL to {doing}: {why}"
    return f"PostgreSQL refused to {doing} because {why}"


def technical_detail(err: BaseException) -> str:
    """The driver's text (SQL included, bound values are hidden by our engines), minus links."""
    text = _BACKGROUND_LINK.sub("", str(err)).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def for_operator(
    err: BaseException, doing: str, *, type: str = DATABASE_ERROR, non_retryable: bool = False
) -> ApplicationError | None:
    """The ApplicationError to raise instead of driver error `err`, or None if it is none."""
    message = sentence(err, doing)
    if message is None:
        return None
    return ApplicationError(message, technical_detail(err), type=type, non_retryable=non_retryable)


def at_boundary(activity_type: str, err: BaseException) -> ApplicationError | None:
    """A driver error that reached an activity's boundary untranslated, as `for_operator`."""
    doing = DOING.get(activity_type)
    return None if doing is None else for_operator(err, doing)


def describe_detail(err: BaseException) -> str | None:
    """The technical detail an error carries (see `for_operator`), if any."""
    if isinstance(err, ApplicationError):
        details = err.details
        return details[0] if details and isinstance(details[0], str) else None
    return None
