"""E-mail fallback: a notification that no stream of its user took within
NOTIFICATION_EMAIL_AFTER_SECONDS is sent to that user by e-mail, once, unless they opted out.

Every API process sweeps; PostgreSQL decides who sends what. A sweep takes one due notification
at a time with `FOR UPDATE SKIP LOCKED`, sends it and sets `emailed_at` in that transaction: a
concurrent sweep skips the locked row, and once committed the row is no longer due, so no two
processes send it. A crash after the mail server took the message and before the commit sends
it again on the next sweep with the same Message-ID (`<notification-<id>@tenantflow>`), so mail
clients fold the copies; a sweep never sends one it did not lock. A stream that delivers the
notification meanwhile waits on the lock for that one send (bounded by the SMTP timeout) and
finds it taken; the sweep's own WHERE is re-checked on the locked row, so a notification a
stream delivered first is not sent.

An API background task rather than a Temporal schedule: the API already holds the database, the
notification table and the SMTP settings; a schedule would add a workflow history per sweep
and a second place that knows about delivery.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from sqlalchemy import Select, String, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.mail import send_email
from core.models import Notification, User
from core.settings import Settings

log = logging.getLogger(__name__)

# How often a sweep runs: a tenth of the delay, between these bounds.
MIN_SWEEP_SECONDS = 0.2
MAX_SWEEP_SECONDS = 30.0
# Notifications sent per sweep at most; the next sweep goes on.
BATCH = 100


def message_id(notification_id: int) -> str:
    """Stable per notification: a copy sent again after a crash has the same one."""
    return f"<notification-{notification_id}@tenantflow>"


class NotificationMailer:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, after: timedelta
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self.after = after
        # Completed sweeps (tests wait on it instead of on time).
        self.sweeps = 0

    @property
    def every(self) -> float:
        seconds = self.after.total_seconds() / 10
        return min(MAX_SWEEP_SECONDS, max(MIN_SWEEP_SECONDS, seconds))

    async def send_due(self) -> int:
        """Send what is due now, one notification per transaction; return how many."""
        sent = 0
        for _ in range(BATCH):
            async with self._sessions.begin() as session:
                due = (await session.execute(self._next_due())).first()
                if due is None:
                    break
                notification, address = due
                try:
                    await send_email(self._settings, self._message(notification, address))
                except aiosmtplib.SMTPRecipientsRefused as err:
                    # It will never take this address: not sent, and not tried again.
                    log.warning(
                        "notification %s: the mail server refused %s: %s",
                        notification.id,
                        address,
                        err,
                    )
                else:
                    sent += 1
                await session.execute(
                    update(Notification)
                    .where(Notification.id == notification.id)
                    .values(emailed_at=func.now())
                )
        self.sweeps += 1
        return sent

    def _next_due(self) -> Select[Notification, str]:
        return (
            select(Notification, User.email)
            .join(User, cast(User.id, String) == Notification.user_id)
            .where(
                Notification.delivered_at.is_(None),
                Notification.emailed_at.is_(None),
                Notification.created_at < func.now() - self.after,
                User.notify_by_email.is_(True),
            )
            .order_by(Notification.created_at, Notification.id)
            .limit(1)
            .with_for_update(of=Notification, skip_locked=True)
        )

    def _message(self, notification: Notification, address: str) -> EmailMessage:
        settings = self._settings
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = address
        message["Subject"] = f"Tenantflow: {notification.message}"
        message["Message-ID"] = message_id(notification.id)
        message["Date"] = format_datetime(notification.created_at)
        # RFC 3834: sent by a program; auto-responders do not answer it.
        message["Auto-Submitted"] = "auto-generated"
        minutes = max(1, round(self.after.total_seconds() / 60))
        message.set_content(
            f"Hello,\n\n{notification.message}\n"
            f"(tenant {notification.tenant_id}, {notification.type}, "
            f"{notification.created_at:%Y-%m-%d %H:%M} UTC)\n\n"
            f"You get this e-mail because Tenantflow was not open for you within {minutes} "
            f"minute(s). Open it at {settings.public_url}/ ; the account menu there turns "
            "these e-mails off.\n\n-- Tenantflow\n"
        )
        return message

    async def run_forever(self) -> None:
        while True:
            try:
                sent = await self.send_due()
                if sent:
                    log.info("e-mailed %d notification(s) no stream took in time", sent)
            except Exception as err:  # the database or the mail server is away: next time
                log.warning(
                    "notification e-mail sweep failed, again in %.0f s: %s", self.every, err
                )
            await asyncio.sleep(self.every)


@contextlib.asynccontextmanager
async def emailing(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[NotificationMailer | None]:
    """Sweep in the background while the API runs (not at all when the setting is 0)."""
    seconds = settings.notification_email_after_seconds
    if not seconds:
        yield None
        return
    mailer = NotificationMailer(sessions, settings, timedelta(seconds=seconds))
    task = asyncio.create_task(mailer.run_forever(), name="notification-email-sweep")
    try:
        yield mailer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
