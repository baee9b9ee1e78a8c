"""Per-user notification streams, fed from the control-plane `notifications` table.

The workflow records a notification (an activity) and the same transaction calls `pg_notify`.
Every API process LISTENs on one connection and wakes the streams of that user, which read
their new rows (see `api/notification_cursor.py` for which rows are new). The table is the
truth: a stream that missed a wake-up catches up on its next read, a reconnect with
`Last-Event-ID` resumes after that id, and a user who had no stream open gets the
notifications no stream has delivered yet, within the retention window.

The LISTEN connection is probed every PROBE_SECONDS: a connection the server or the network
dropped gives no sign until something is sent on it, and until then every stream would
silently fall back to its slow timer. While it is down, streams poll every DEGRADED_POLL_SECONDS.
"""

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from api.notification_cursor import SETTLE_SECONDS, Cursor
from core.models import NOTIFY_CHANNEL, Notification

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 15.0
DEGRADED_POLL_SECONDS = 1.0
PROBE_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 3.0
PURGE_EVERY_SECONDS = 3600.0


class NotificationHub:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        retention: timedelta,
        on_first_sending: Callable[[datetime], None] | None = None,
    ) -> None:
        self._engine = engine
        # Called with a notification's created_at when a stream first sends it (metrics).
        self._on_first_sending = on_first_sending
        self._sessions = sessions
        self.retention = retention
        self._wakers: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        # The backend pid of the LISTEN connection while it is up (operators, tests).
        self.listener_pid: int | None = None

    @property
    def poll_seconds(self) -> float:
        """How long a stream waits for a wake-up before it reads anyway."""
        return FALLBACK_SECONDS if self.listener_pid is not None else DEGRADED_POLL_SECONDS

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="notification-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        """Hold a LISTEN connection, reconnecting when it fails a probe (backing off from 0.5 s
        to 30 s while it keeps failing; a connection that listened starts the backoff over)."""
        self._purge_due = 0.0
        while True:  # each round: connect (with backoff) and listen until the connection fails
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                wait=wait_exponential(multiplier=0.5, max=30.0),
                before_sleep=self._log_retry,
            ):
                with attempt:
                    try:
                        await self._listen_once()
                    finally:
                        self._lost()

    async def _listen_once(self) -> None:
        """One LISTEN connection: raises if it cannot listen; returns once it stops working."""
        async with self._engine.connect() as conn:
            try:
                driver = await self._add_listener(conn)
            except Exception:
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                raise
            self.listener_pid = driver.get_server_pid()
            log.info("notifications: listening (backend pid %s)", self.listener_pid)
            self._wake_all()  # catch up on anything sent while we were not listening
            try:
                while True:
                    if time.monotonic() >= self._purge_due:
                        await self._purge()
                        self._purge_due = time.monotonic() + PURGE_EVERY_SECONDS
                    await asyncio.sleep(PROBE_SECONDS)
                    await _probe(driver)
            except Exception as err:
                self._lost()
                with contextlib.suppress(Exception):
                    await conn.invalidate()  # never hand a dead connection back
                log.warning(
                    "notifications: LISTEN connection failed (%s: %s); streams poll every "
                    "%.0fs; reconnecting",
                    type(err).__name__,
                    err,
                    DEGRADED_POLL_SECONDS,
                )

    def _log_retry(self, state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "notifications: cannot LISTEN (%s: %s); streams poll every %.0fs; again in %.1fs",
            type(err).__name__,
            err,
            DEGRADED_POLL_SECONDS,
            delay,
        )

    def _lost(self) -> None:
        if self.listener_pid is not None:
            self.listener_pid = None
            self._wake_all()  # streams switch to the short poll at once

    async def _add_listener(self, conn: AsyncConnection) -> Any:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection

        def on_notify(_conn: object, _pid: int, _channel: str, user_id: str) -> None:
            for waker in self._wakers.get(user_id, ()):
                waker.set()

        await driver.add_listener(NOTIFY_CHANNEL, on_notify)
        return driver

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

    async def opening(
        self, user_id: str, last_id: int | None
    ) -> tuple[Cursor, Sequence[Notification]]:
        """For a new stream: its cursor, and what to send first: what no stream has delivered
        yet, and on a reconnect everything after `last_id` too."""
        async with self._sessions() as session:
            # Ids older than twice the settling time are settled for every stream.
            floor = await session.scalar(
                select(func.coalesce(func.max(Notification.id), 0)).where(
                    Notification.user_id == user_id,
                    Notification.created_at < func.now() - timedelta(seconds=2 * SETTLE_SECONDS),
                )
            )
            floor = int(floor or 0)
            lowest = floor if last_id is None else min(floor, last_id)
            rows = (
                await session.scalars(
                    self._recent(user_id)
                    .where(or_(Notification.id > lowest, Notification.delivered_at.is_(None)))
                    .order_by(Notification.id)
                )
            ).all()
        cursor = Cursor(floor, (row.id for row in rows), time.monotonic())
        resumed = last_id if last_id is not None else cursor.highest
        return cursor, [row for row in rows if row.delivered_at is None or row.id > resumed]

    async def unseen(self, user_id: str, cursor: Cursor) -> Sequence[Notification]:
        """The user's notifications that became visible since the cursor last looked."""
        query = self._recent(user_id).where(Notification.id > cursor.floor)
        if cursor.seen:
            query = query.where(Notification.id.not_in(sorted(cursor.seen)))
        async with self._sessions() as session:
            rows = (await session.scalars(query.order_by(Notification.id))).all()
        cursor.saw((row.id for row in rows), time.monotonic())
        return rows

    async def mark_delivered(self, rows: Sequence[Notification]) -> None:
        """Record that a stream has sent `rows` (a new stream then skips them)."""
        ids = [row.id for row in rows if row.delivered_at is None]
        if not ids:
            return
        if self._on_first_sending is not None:
            for row in rows:
                if row.delivered_at is None:
                    self._on_first_sending(row.created_at)
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


async def _probe(driver: Any) -> None:
    """A round trip on the LISTEN connection: fails on a connection that is gone or hangs."""
    if driver.is_closed():
        raise ConnectionError("the connection was closed")
    async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
        await driver.fetchval("SELECT 1")
