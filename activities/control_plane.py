"""Activities on the control-plane database: tenant status and the tenant's admin user."""

import uuid

from sqlalchemy import Boolean, Row, delete, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import ILLEGAL_TRANSITION, TENANT_MISCONFIGURED, TENANT_NOT_FOUND
from activities.models import (
    AdminUser,
    NotificationRequest,
    Removed,
    StatusChange,
    TenantRef,
    TenantUpdate,
)
from activities.progress import AttemptReporter, reports_failed_attempts
from core import lifecycle
from core.models import NOTIFY_CHANNEL, Notification, Tenant, User

ADMIN_ROLES = ["admin"]


class ControlPlaneActivities:
    def __init__(self, engine: AsyncEngine, reporter: AttemptReporter) -> None:
        self.engine = engine
        self.reporter = reporter

    @activity.defn(name="set_tenant_status")
    @reports_failed_attempts
    async def set_tenant_status(self, change: StatusChange) -> None:
        """Record the workflow's status on the tenant row (core/lifecycle.py decides what is
        legal; setting a value twice is harmless)."""
        try:
            async with self.engine.begin() as conn:
                await lifecycle.record(
                    conn,
                    change.tenant_id,
                    change.status,
                    error=change.error,
                    new_attempt=change.new_attempt,
                )
        except lifecycle.TenantMissing as err:
            # Retryable: the API commits the row right after starting the workflow.
            raise ApplicationError(str(err), type=TENANT_NOT_FOUND) from err
        except lifecycle.IllegalTransition as err:
            raise ApplicationError(str(err), type=ILLEGAL_TRANSITION, non_retryable=True) from err

    @activity.defn(name="create_admin_user")
    @reports_failed_attempts
    async def create_admin_user(self, ref: TenantRef) -> AdminUser:
        """Create the tenant's admin user from the credentials the API stored on the row."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(Tenant.admin_email, Tenant.admin_password_hash).where(
                        Tenant.id == ref.tenant_id
                    )
                )
            ).first()
            if row is None:
                raise ApplicationError(
                    f"tenant {ref.tenant_id} not found", type=TENANT_NOT_FOUND, non_retryable=True
                )
            if not row.admin_email or not row.admin_password_hash:
                raise ApplicationError(
                    f"tenant {ref.tenant_id} has no admin credentials stored",
                    type=TENANT_MISCONFIGURED,
                    non_retryable=True,
                )
            statement = insert(User).values(
                tenant_id=ref.tenant_id,
                email=row.admin_email,
                password_hash=row.admin_password_hash,
                roles=ADMIN_ROLES,
            )
            # Run twice, this updates the one row instead of adding a second; xmax = 0 only
            # for a freshly inserted row.
            user: Row[uuid.UUID, bool] = (
                await conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[User.tenant_id, User.email],
                        set_={
                            "password_hash": statement.excluded.password_hash,
                            "roles": ADMIN_ROLES,
                        },
                    ).returning(User.id, literal_column("xmax = 0", Boolean).label("inserted"))
                )
            ).one()
        return AdminUser(user_id=str(user.id), email=row.admin_email, created=bool(user.inserted))

    @activity.defn(name="record_notification")
    @reports_failed_attempts
    async def record_notification(self, request: NotificationRequest) -> None:
        """Store a notification for its user and wake the API processes' streams."""
        async with self.engine.begin() as conn:
            inserted = await conn.scalar(
                insert(Notification)
                .values(
                    key=request.key,
                    user_id=request.user_id,
                    type=request.type,
                    message=request.message,
                    tenant_id=request.tenant_id,
                    tenant_name=request.tenant_name,
                )
                .on_conflict_do_nothing(index_elements=[Notification.key])
                .returning(Notification.id)
            )
            if inserted is not None:
                # Delivered at commit, together with the row.
                await conn.execute(
                    text("SELECT pg_notify(:channel, :user)"),
                    {"channel": NOTIFY_CHANNEL, "user": request.user_id},
                )

    @activity.defn(name="delete_tenant_users")
    @reports_failed_attempts
    async def delete_tenant_users(self, ref: TenantRef) -> Removed:
        """Remove every user of the tenant (its admin, and any added since)."""
        async with self.engine.begin() as conn:
            deleted = (
                await conn.scalars(
                    delete(User).where(User.tenant_id == ref.tenant_id).returning(User.id)
                )
            ).all()
        return Removed(bool(deleted), len(deleted))

    @activity.defn(name="apply_tenant_update")
    @reports_failed_attempts
    async def apply_tenant_update(self, change: TenantUpdate) -> None:
        """Store the tenant's new name and active flag."""
        async with self.engine.begin() as conn:
            updated = await conn.scalar(
                update(Tenant)
                .where(Tenant.id == change.tenant_id)
                .values(name=change.name, is_active=change.is_active, updated_on=func.now())
                .returning(Tenant.id)
            )
        if updated is None:
            raise ApplicationError(
                f"tenant {change.tenant_id} not found", type=TENANT_NOT_FOUND, non_retryable=True
            )
