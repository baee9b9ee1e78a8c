"""Activities on the control-plane database: tenant status and the tenant's admin user."""

import uuid
from typing import NamedTuple

from sqlalchemy import Boolean, any_, delete, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import (
    CANNOT_UNSEAL_PASSWORD,
    ILLEGAL_TRANSITION,
    TENANT_MISCONFIGURED,
    TENANT_NOT_FOUND,
)
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
from core.passwords import HashingPool
from core.sealing import CannotUnseal, unseal
from core.status import TenantStatus

ADMIN_ROLES = ["admin"]


# Threads hashing admin passwords (Argon2id at OWASP's minimum, ~30 ms each): as many as the
# machine's cores, so a burst of creates queues its hashes instead of starving everything else.
HASH_THREADS = 2


class ControlPlaneActivities:
    def __init__(
        self,
        engine: AsyncEngine,
        reporter: AttemptReporter,
        sealing_key: bytes | None = None,
        hash_threads: int = HASH_THREADS,
    ) -> None:
        self.engine = engine
        self.reporter = reporter
        self.sealing_key = sealing_key  # PASSWORD_SEALING_KEY: unseals what the API sealed
        self.hashing = HashingPool(hash_threads)

    async def close(self) -> None:
        self.hashing.close()

    @activity.defn(name="set_tenant_status")
    @reports_failed_attempts
    async def set_tenant_status(self, change: StatusChange) -> None:
        """Record the workflow's status on the tenant row (core/lifecycle.py decides what is
        legal; setting a value twice is harmless)."""
        await self._record_status(change)

    async def _record_status(self, change: StatusChange) -> None:
        try:
            async with self.engine.begin() as conn:
                await lifecycle.record(
                    conn,
                    change.tenant_id,
                    change.status,
                    error=change.error,
                    error_detail=change.error_detail,
                    new_attempt=change.new_attempt,
                    workflow_id=activity.info().workflow_id,
                )
                if change.notification is not None:
                    await _insert_notification(conn, change.notification)
        except lifecycle.TenantMissing as err:
            # Retryable: the API commits the row right after starting the workflow.
            raise ApplicationError(str(err), type=TENANT_NOT_FOUND) from err
        except lifecycle.IllegalTransition as err:
            raise ApplicationError(str(err), type=ILLEGAL_TRANSITION, non_retryable=True) from err

    @activity.defn(name="create_admin_user")
    @reports_failed_attempts
    async def create_admin_user(self, ref: TenantRef) -> AdminUser:
        """Create the tenant's admin user from the password the API stored on the row (sealed,
        or hashed when the API has no sealing key), and clear it from the row in the same
        transaction. Run again after that commit, it finds the cleared row and returns the user.
        `ref.begins_attempt`: first move the row to Provisioning (a write the workflow's own
        task would otherwise wait for)."""
        if ref.begins_attempt:
            await self._record_status(
                StatusChange(ref.tenant_id, TenantStatus.PROVISIONING, new_attempt=True)
            )
        for _ in range(3):
            stored = await self._stored_password(ref.tenant_id)
            if stored.admin_password_sealed is not None:
                password = self._unseal(ref.tenant_id, stored.admin_password_sealed)
                # Hashed with no connection held: under a burst the hash may wait its turn.
                password_hash = await self.hashing.hash(password)
            elif stored.admin_password_hash is not None:
                password_hash = stored.admin_password_hash
            else:
                return await self._existing_admin(ref.tenant_id, stored.admin_email)
            async with self.engine.begin() as conn:
                # Cleared only if it still holds what was read: when a concurrent attempt got
                # there first, the next pass finds the cleared row and returns that user.
                cleared = await conn.scalar(
                    update(Tenant)
                    .where(
                        Tenant.id == ref.tenant_id,
                        Tenant.admin_password_sealed.is_not_distinct_from(
                            stored.admin_password_sealed
                        ),
                        Tenant.admin_password_hash.is_not_distinct_from(stored.admin_password_hash),
                    )
                    .values(admin_password_sealed=None, admin_password_hash=None)
                    .returning(Tenant.id)
                )
                if cleared is None:
                    continue
                user = await _upsert_admin(conn, ref.tenant_id, stored.admin_email, password_hash)
            return AdminUser(str(user.id), stored.admin_email, created=bool(user.inserted))
        raise ApplicationError(f"tenant {ref.tenant_id}'s stored admin password kept changing")

    async def _stored_password(self, tenant_id: str) -> "_StoredPassword":
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        Tenant.admin_email,
                        Tenant.admin_password_sealed,
                        Tenant.admin_password_hash,
                    ).where(Tenant.id == tenant_id)
                )
            ).first()
        if row is None:
            raise ApplicationError(
                f"tenant {tenant_id} not found", type=TENANT_NOT_FOUND, non_retryable=True
            )
        if not row.admin_email:
            raise _misconfigured(tenant_id)
        return _StoredPassword(row.admin_email, row.admin_password_sealed, row.admin_password_hash)

    async def _existing_admin(self, tenant_id: str, email: str) -> AdminUser:
        """The user an earlier attempt created (it cleared the row as it did)."""
        async with self.engine.connect() as conn:
            user_id = await conn.scalar(
                select(User.id).where(User.tenant_id == tenant_id, User.email == email)
            )
        if user_id is None:
            raise _misconfigured(tenant_id)
        return AdminUser(str(user_id), email, created=False)

    def _unseal(self, tenant_id: str, sealed: bytes) -> str:
        if self.sealing_key is None:
            raise ApplicationError(
                f"tenant {tenant_id}'s admin password was sealed by the API, but the worker has "
                "no PASSWORD_SEALING_KEY: give the worker the API's key, then retry the tenant",
                type=CANNOT_UNSEAL_PASSWORD,
                non_retryable=True,
            )
        try:
            return unseal(self.sealing_key, tenant_id, sealed)
        except CannotUnseal as err:
            raise ApplicationError(
                f"the worker cannot unseal tenant {tenant_id}'s admin password: its "
                "PASSWORD_SEALING_KEY is not the one the API sealed it with; give the worker "
                "the API's key, then retry the tenant",
                type=CANNOT_UNSEAL_PASSWORD,
                non_retryable=True,
            ) from err

    @activity.defn(name="record_notification")
    @reports_failed_attempts
    async def record_notification(self, request: NotificationRequest) -> None:
        """Store a notification for each recipient (the user who started the operation and
        every admin of the tenant) and wake the API processes' streams of those users.

        Recipients are resolved here, when the outcome is written: each gets a row of their
        own (their own delivery mark and e-mail claim), keyed on the request's key and the
        user, so a retried attempt writes nothing twice."""
        async with self.engine.begin() as conn:
            await _insert_notification(conn, request)

    @activity.defn(name="delete_tenant_users")
    @reports_failed_attempts
    async def delete_tenant_users(self, ref: TenantRef) -> Removed:
        """Remove every user of the tenant (its admin, and any added since)."""
        async with self.engine.begin() as conn:
            # Compensating a provisioning: create_admin_user cleared the password it made the
            # admin from, and a retry of the cancelled tenant needs it, so the admin's hash goes
            # back on the row (a deleted tenant's row keeps none).
            await conn.execute(
                update(Tenant)
                .where(
                    Tenant.id == ref.tenant_id,
                    Tenant.status.in_(_PROVISIONING),
                    Tenant.admin_password_sealed.is_(None),
                    Tenant.admin_password_hash.is_(None),
                )
                .values(
                    admin_password_hash=select(User.password_hash)
                    .where(User.tenant_id == Tenant.id, User.email == Tenant.admin_email)
                    .scalar_subquery()
                )
            )
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


# A tenant whose provisioning is under way (and may be compensated).
_PROVISIONING = (TenantStatus.PENDING, TenantStatus.PROVISIONING)


class _StoredPassword(NamedTuple):
    admin_email: str
    admin_password_sealed: bytes | None
    admin_password_hash: str | None


class _Upserted(NamedTuple):
    id: uuid.UUID
    inserted: bool


async def _upsert_admin(
    conn: AsyncConnection, tenant_id: str, email: str, password_hash: str
) -> _Upserted:
    statement = insert(User).values(
        tenant_id=tenant_id, email=email, password_hash=password_hash, roles=ADMIN_ROLES
    )
    # Run twice, this updates the one row instead of adding a second; xmax = 0 only for a
    # freshly inserted row.
    user = (
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[User.tenant_id, User.email],
                set_={"password_hash": statement.excluded.password_hash, "roles": ADMIN_ROLES},
            ).returning(User.id, literal_column("xmax = 0", Boolean).label("inserted"))
        )
    ).one()
    return _Upserted(user.id, bool(user.inserted))


def notification_key(request: NotificationRequest, user_id: str) -> str:
    """The initiator's row keeps the request's own key (rows written before admins were
    notified too have it); every other recipient's is that key and their user id."""
    return request.key if user_id == request.user_id else f"{request.key}:{user_id}"


def _misconfigured(tenant_id: str) -> ApplicationError:
    return ApplicationError(
        f"tenant {tenant_id} has no admin credentials stored",
        type=TENANT_MISCONFIGURED,
        non_retryable=True,
    )


async def _insert_notification(conn: AsyncConnection, request: NotificationRequest) -> None:
    """One row per recipient (`record_notification`), woken at the transaction's commit."""
    admins = await conn.scalars(
        select(User.id).where(
            User.tenant_id == request.tenant_id, any_(User.roles) == ADMIN_ROLES[0]
        )
    )
    recipients = dict.fromkeys([request.user_id, *(str(a) for a in admins)])
    inserted = await conn.scalars(
        insert(Notification)
        .values(
            [
                {
                    "key": notification_key(request, user_id),
                    "user_id": user_id,
                    "type": request.type,
                    "message": request.message,
                    "tenant_id": request.tenant_id,
                    "tenant_name": request.tenant_name,
                }
                for user_id in recipients
            ]
        )
        .on_conflict_do_nothing(index_elements=[Notification.key])
        .returning(Notification.user_id)
    )
    for user_id in inserted.all():
        # Delivered at commit, together with the rows.
        await conn.execute(
            text("SELECT pg_notify(:channel, :user)"), {"channel": NOTIFY_CHANNEL, "user": user_id}
        )
