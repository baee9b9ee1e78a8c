"""Control-plane tables (managed by the Alembic environment in migrations/controlplane)."""

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.status import TenantStatus

_STATUSES = ", ".join(f"'{s.value}'" for s in TenantStatus)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "pk": "pk_%(table_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "ix": "ix_%(table_name)s_%(column_0_name)s",
        }
    )


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(f"status IN ({_STATUSES})", name="status"),)

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    has_isolated_database: Mapped[bool] = mapped_column(Boolean)
    database_name: Mapped[str | None] = mapped_column(String(63))
    schema_name: Mapped[str | None] = mapped_column(String(63))
    admin_email: Mapped[str | None] = mapped_column(String(320))
    # The new admin's password for the create-admin-user activity, kept here (never in workflow
    # history): sealed by the API (core/sealing.py), or hashed when no sealing key is set. That
    # activity clears both when it creates the user.
    admin_password_hash: Mapped[str | None] = mapped_column(Text)
    admin_password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    provisioning_error: Mapped[str | None] = mapped_column(Text)
    # The driver's text behind provisioning_error (a sentence), for the "details" disclosure.
    provisioning_error_detail: Mapped[str | None] = mapped_column(Text)
    last_provisioning_attempt: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    # The tenant schema's Alembic revision in the tenant's storage, as last established by
    # provisioning or a migration; None: unknown (no storage yet, or not read since; see
    # core/schema.py). The error of its last failed migration, cleared by a successful one.
    schema_revision: Mapped[str | None] = mapped_column(String(32), index=True)
    migration_error: Mapped[str | None] = mapped_column(Text)
    # The user who started the current operation (for notifications); None for public sign-up.
    initiated_by: Mapped[str | None] = mapped_column(String(64))
    created_on: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_on: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    # Notifications no stream took in time are e-mailed, unless the user turned that off.
    notify_by_email: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_on: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# pg_notify channel: an inserted notification wakes every API process's streams of that user.
NOTIFY_CHANNEL = "tenantflow_notifications"


class Notification(Base):
    """Outcome of an operation on a tenant, for one recipient: the user who started it, or an
    admin of that tenant (one row each; GET /api/notifications)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[str] = mapped_column(String(63))
    tenant_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # First delivery to any of the user's streams; a new stream skips delivered ones.
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Sent by e-mail because no stream took it in time (api/notification_mail.py).
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateLimit(Base):
    """A fixed-window counter per key (sign-up per address, sign-in per account and address).

    One row per key, bumped with a single INSERT ... ON CONFLICT DO UPDATE ... RETURNING, so
    concurrent requests in any API process each get their own count; expired rows are purged.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_ends: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
