"""The tenant schema's revisions, and which revision each tenant's storage is at.

The revisions are the tenant Alembic environment's (migrations/tenant), one linear history.
`tenants.schema_revision` is the revision a tenant's storage was last seen at: written here, by
provisioning's migration step and by MigrateTenant when it ends (and by the closed-run sweep,
core/lifecycle.py); NULL means unknown (no storage yet, or never read), and whoever needs to know
reads the storage itself (`stored_revision`). `migration_error` is the error of the tenant's last
failed migration, cleared by the next one that succeeds.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import URL, ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.database import create_oneshot_engine, with_database
from core.migrate import alembic_config, current_revision
from core.models import Tenant
from core.status import TenantStatus

HEAD = "head"


@dataclass(frozen=True)
class Revision:
    id: str
    description: str


class UnknownRevision(ValueError):
    """Not "head" nor a revision of the tenant schema (the API answers 422)."""


@functools.cache
def tenant_revisions() -> tuple[str, tuple[Revision, ...]]:
    """(head, every revision oldest first), read once from migrations/tenant."""
    script = ScriptDirectory.from_config(alembic_config("tenant"))
    heads = script.get_heads()
    assert len(heads) == 1, f"the tenant schema must have one head, not {heads}"
    newest_first = [Revision(s.revision, s.doc) for s in script.walk_revisions()]
    return heads[0], tuple(reversed(newest_first))


def resolve_revision(name: str) -> str:
    """ "head" or a revision id -> that revision's id; UnknownRevision otherwise."""
    head, revisions = tenant_revisions()
    if name == HEAD:
        return head
    ids = [r.id for r in revisions]
    if name not in ids:
        raise UnknownRevision(
            f"'{name}' is not a tenant schema revision: give 'head' or one of {', '.join(ids)}"
        )
    return name


def is_downgrade(start: str | None, target: str) -> bool:
    """Moving from `start` (None: an empty schema) to `target` goes back in history."""
    if start is None:
        return False
    ids = [r.id for r in tenant_revisions()[1]]
    return ids.index(target) < ids.index(start)


async def record_revision(
    conn: AsyncConnection, tenant_id: str, revision: str | None, error: str | None = None
) -> None:
    """The tenant's storage is at `revision` (None: could not be read); `error` is its last
    migration's (None: none, or it succeeded)."""
    await conn.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(schema_revision=revision, migration_error=error, updated_on=func.now())
    )


async def stored_revision(server: URL, database: str, schema: str) -> str | None:
    """The revision in the tenant's storage itself (its `alembic_version`), on a connection of
    its own; None for storage without one."""
    engine = create_oneshot_engine(with_database(server, database))
    try:
        async with engine.begin() as conn:
            return await current_revision(conn, schema)
    finally:
        await engine.dispose()


# Tenants that have storage to migrate: every row but Deleted ones and the root tenant's (no
# tenant schema: its database name is NULL).
def _with_storage() -> tuple[ColumnElement[bool], ...]:
    return (Tenant.database_name.is_not(None), Tenant.status != TenantStatus.DELETED)


async def count_by_revision(session: AsyncSession) -> list[tuple[str | None, int]]:
    """Tenants with storage per recorded revision: every revision oldest first (zeros
    included), then any this version does not know, then None (unknown) if there are such."""
    rows = await session.execute(
        select(Tenant.schema_revision, func.count())
        .where(*_with_storage())
        .group_by(Tenant.schema_revision)
    )
    found: dict[str | None, int] = dict(rows.all())
    known = [r.id for r in tenant_revisions()[1]]
    strangers = sorted(r for r in found if r is not None and r not in known)
    unknown: list[str | None] = [None] if None in found else []
    return [(r, found.get(r, 0)) for r in [*known, *strangers, *unknown]]


@dataclass(frozen=True)
class Candidate:
    tenant_id: str
    status: str
    schema_revision: str | None


async def migration_candidates(
    conn: AsyncConnection | AsyncSession,
    after_id: str | None,
    limit: int,
    tenant_ids: Sequence[str] | None = None,
) -> list[Candidate]:
    """One page of the tenants a rollout may migrate, by id (keyset: ids above `after_id`).

    Without `tenant_ids`: every tenant with storage, Deleted ones excepted, in any status (a
    rollout skips those that are not Active, with the reason). With them: those of the ids that
    exist, Deleted included, so each one asked for can be answered for."""
    query = select(Tenant.id, Tenant.status, Tenant.schema_revision)
    if tenant_ids is None:
        query = query.where(*_with_storage())
    else:
        query = query.where(Tenant.id.in_(list(tenant_ids)))
    if after_id is not None:
        query = query.where(Tenant.id > after_id)
    rows = await conn.execute(query.order_by(Tenant.id).limit(limit))
    return [Candidate(tenant_id, status, revision) for tenant_id, status, revision in rows]
