"""Who may sign in, and whose token still counts: one rule for both.

A user may sign in, and use a token, while the user row exists (users exist only once
provisioning created them, and deprovisioning removes them) and its tenant is active and not
being deleted. The tenant's operation status does not matter otherwise: the users of a tenant
that is Updating, or whose rename failed, keep working.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Tenant, User
from core.status import TenantStatus

GONE = (TenantStatus.DELETING, TenantStatus.DELETED)


@dataclass(frozen=True)
class Account:
    user_id: str
    email: str
    tenant: str
    roles: tuple[str, ...]
    password_hash: str
    tenant_active: bool
    tenant_gone: bool

    @property
    def usable(self) -> bool:
        return self.tenant_active and not self.tenant_gone


def _usable() -> ColumnElement[bool]:
    return and_(Tenant.is_active.is_(True), Tenant.status.not_in(GONE))


async def find_account(session: AsyncSession, tenant: str, email: str) -> Account | None:
    """The user signing in with this e-mail to this tenant (usable or not: the caller says why
    not, once the password has proven who is asking)."""
    row = (
        await session.execute(
            select(
                User.id,
                User.email,
                User.roles,
                User.password_hash,
                Tenant.is_active,
                Tenant.status.in_(GONE),
            )
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(User.tenant_id == tenant, func.lower(User.email) == email.lower())
        )
    ).first()
    if row is None:
        return None
    return Account(str(row[0]), row[1], tenant, tuple(row[2]), row[3], row[4], row[5])


async def current_roles(session: AsyncSession, user_id: str, tenant: str) -> tuple[str, ...] | None:
    """The roles of a token's user now, or None when the user may no longer use a token.
    One primary-key lookup joined to its tenant's row, on every authenticated request."""
    try:
        key = uuid.UUID(user_id)
    except ValueError:
        return None
    roles = await session.scalar(
        select(User.roles)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(User.id == key, User.tenant_id == tenant, _usable())
    )
    return None if roles is None else tuple(roles)
