"""Rate limits counted in the control-plane database, so every API process sees the same counts.

A fixed window per key: the first hit opens it, later hits add to it until it ends. One
statement both counts and reads the count (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`):
PostgreSQL serialises concurrent hits on the row, so a burst of N requests sees the counts
1..N and exactly `limit` of them pass, whichever process serves them. A transaction that
counts several keys takes them in one order (address before account, before the global key),
so two of them can never wait on each other.
"""

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy import Interval, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from core.models import RateLimit


@dataclass(frozen=True)
class Count:
    hits: int
    retry_after: int  # seconds until the window ends


def client_address(request: Request) -> str:
    """The client's address, as every rate limit keys it.

    The peer address, unless the peer is one of TRUSTED_PROXIES (the app's proxy-headers
    middleware has then replaced it with the right-most untrusted X-Forwarded-For entry)."""
    return request.client.host if request.client else "unknown"


async def hit(session: AsyncSession, key: str, window_seconds: int) -> Count:
    """Count one hit on `key` (in the session's transaction) and return the window's count."""
    window = _seconds(window_seconds)
    # The clock, not now(): a transaction that waited for the row's lock started before the
    # one that opened the window, and its now() would be that much in the past.
    clock = func.clock_timestamp()
    table = RateLimit.__table__
    expired = table.c.window_ends <= clock
    statement = (
        insert(RateLimit)
        .values(key=key, hits=1, window_ends=clock + window)
        .on_conflict_do_update(
            index_elements=[RateLimit.key],
            set_={
                "hits": case((expired, 1), else_=table.c.hits + 1),
                "window_ends": case((expired, clock + window), else_=table.c.window_ends),
            },
        )
        .returning(RateLimit.hits, RateLimit.window_ends, clock)
    )
    row = (await session.execute(statement)).one()
    return Count(hits=row[0], retry_after=_until(row[1], row[2]))


async def forget(session: AsyncSession, key: str) -> None:
    """Start `key` afresh (a successful sign-in clears its account's failures)."""
    await session.execute(delete(RateLimit).where(RateLimit.key == key))


async def refund(session: AsyncSession, key: str) -> None:
    """Take back one hit (an attempt that turned out not to count)."""
    await session.execute(
        update(RateLimit)
        .where(RateLimit.key == key, RateLimit.hits > 0)
        .values(hits=RateLimit.hits - 1)
    )


PURGE_EVERY_SECONDS = 60.0
_last_purge = -PURGE_EVERY_SECONDS


async def purge(session: AsyncSession) -> None:
    """Drop ended windows, at most once a minute per process, in a transaction of its own (call
    it outside one): it skips rows others have locked and so never waits, which keeps it out of
    any lock cycle with the hits."""
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_EVERY_SECONDS:
        return
    _last_purge = time.monotonic()
    ended = (
        select(RateLimit.key)
        .where(RateLimit.window_ends < func.now())
        .limit(1000)
        .with_for_update(skip_locked=True)
    )
    async with session.begin():
        await session.execute(delete(RateLimit).where(RateLimit.key.in_(ended.scalar_subquery())))


def _seconds(seconds: int) -> ColumnElement[timedelta]:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds, type_=Interval)


def _until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))
