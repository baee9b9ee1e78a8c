"""Per-user notification streams, fed from the control-plane `notifications` table.

The workflow records a notification (an activity) and the same transaction calls `pg_notify`.
Every API process LISTENs on one connection and wakes the streams of that user, which read
their new rows by id. The table is the truth: a stream that missed a wake-up (the LISTEN
connection dropped) catches up on its next fallback read, a reconnect with `Last-Event-ID`
resumes after that id, and a user who had no stream open gets the notifications no stream
has delivered yet, within the retention window.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core.models import NOTIFY_CHANNEL, Notification

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 15.0
PURGE_EVERY_SECONDS = 3600.0


class NotificationHub:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        retention: timedelta,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self.retention = retention
        self._wakers: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="notification-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        """Hold a LISTEN connection, reconnecting when it drops; purge expired rows hourly."""
        delay = 0.5
        while True:
            try:
                async with self._engine.connect() as conn:
                    lost = asyncio.Event()
                    await self._add_listener(conn, lost)
                    delay = 0.5
                    self._wake_all()  # catch up on anything sent while we were not listening
                    while not lost.is_set():
                        await self._purge()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(lost.wait(), PURGE_EVERY_SECONDS)
                log.warning("notification LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("notification listener failed; retrying in %.1fs", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _add_listener(self, conn: AsyncConnection, lost: asyncio.Event) -> None:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection

        def on_notify(_conn: object, _pid: int, _channel: str, user_id: str) -> None:
            for waker in self._wakers.get(user_id, ()):
                waker.set()

        driver.add_termination_listener(lambda _conn: lost.set())
        await driver.add_listener(NOTIFY_CHANNEL, on_notify)

    def _wake_all(self) -> None:
        for wakers in self._wakers.values():
            for waker in wakers:
                waker.set()

    async def _purge(self) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(Notification).where(Notification.created_at < func.now() - self.retention)
            )

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: str) -> AsyncIterator[asyncio.Event]:
        waker = asyncio.Event()
        self._wakers[user_id].add(waker)
        try:
            yield waker
        finally:
            self._wakers[user_id].discard(waker)
            if not self._wakers[user_id]:
                del self._wakers[user_id]

    async def undelivered(self, user_id: str) -> tuple[int, Sequence[Notification]]:
        """For a new stream: the user's newest id, and what no stream has delivered yet."""
        async with self._sessions() as session:
            newest = await session.scalar(
                select(func.coalesce(func.max(Notification.id), 0)).where(
                    Notification.user_id == user_id
                )
            )
            rows = await session.scalars(
                self._recent(user_id)
                .where(Notification.id <= newest, Notification.delivered_at.is_(None))
                .order_by(Notification.id)
            )
            return int(newest or 0), rows.all()

    async def after(
        self, user_id: str, floor: int, exclude: Collection[int] = ()
    ) -> Sequence[Notification]:
        """The user's notifications above `floor`, within retention, but those in `exclude`."""
        query = self._recent(user_id).where(Notification.id > floor)
        if exclude:
            query = query.where(Notification.id.not_in(list(exclude)))
        async with self._sessions() as session:
            rows = await session.scalars(query.order_by(Notification.id))
            return rows.all()

    async def mark_delivered(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(Notification)
                .where(Notification.id.in_(ids), Notification.delivered_at.is_(None))
                .values(delivered_at=func.now())
            )

    def _recent(self, user_id: str) -> Any:
        return select(Notification).where(
            Notification.user_id == user_id,
            Notification.created_at >= func.now() - self.retention,
        )
