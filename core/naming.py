"""Tenant id rules and the database/schema names derived from an id.

Names are derived, never taken from input as they are: an id that passed `validate_tenant_id`
maps to `<prefix><id with - as _>`, shortened with a hash when PostgreSQL's 63-byte limit would
cut it. Every statement quotes the name all the same (`quote_ident`).
"""

import hashlib
import re

from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS

from core.status import ROOT_TENANT_ID

TENANT_ID_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
TENANT_ID_RULE = (
    "must be a lowercase slug of 3 to 63 characters: start with a letter, then letters, digits "
    "and single hyphens, not ending with a hyphen"
)

# Ids the product itself uses, names PostgreSQL keeps for itself, and SQL reserved words.
RESERVED_TENANT_IDS = frozenset(
    {
        ROOT_TENANT_ID,
        "admin",
        "api",
        # Paths beside /api/tenants/{id}: a tenant of that id could not be reached.
        "bulk",
        "stats",
        "default",
        "postgres",
        "public",
        "system",
        "template0",
        "template1",
        "tenantflow",
        "information-schema",
    }
    | set(RESERVED_WORDS)
)

PG_MAX_IDENTIFIER = 63
_preparer = postgresql.dialect().identifier_preparer  # type: ignore[no-untyped-call]


def validate_tenant_id(tenant_id: str) -> str:
    """Return the id if it is a valid, unreserved tenant id; raise ValueError saying why not."""
    if not tenant_id:
        raise ValueError("Enter an ID")
    if not TENANT_ID_PATTERN.fullmatch(tenant_id):
        raise ValueError(TENANT_ID_RULE)
    if tenant_id in RESERVED_TENANT_IDS or tenant_id.startswith("pg-"):
        raise ValueError(f"'{tenant_id}' is reserved")
    return tenant_id


def storage_name(prefix: str, tenant_id: str) -> str:
    """The database (isolated tenant) or schema (shared tenant) name of a tenant."""
    validate_tenant_id(tenant_id)
    name = prefix + tenant_id.replace("-", "_")
    if len(name) <= PG_MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:8]
    return f"{name[: PG_MAX_IDENTIFIER - len(digest) - 1]}_{digest}"


def quote_ident(name: str) -> str:
    """Quote an identifier for PostgreSQL, always (not only when it looks like it needs it)."""
    return _preparer.quote_identifier(name)


def ownership_marker(tenant_id: str) -> str:
    """Comment set on a tenant's database or schema, so we never adopt or drop a stranger's."""
    return f"tenantflow:tenant={tenant_id}"
