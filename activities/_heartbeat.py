"""Heartbeat in the background while a long step runs.

With a heartbeat timeout on the policy, Temporal notices a worker that died mid-step within
seconds (instead of at the start-to-close timeout) and retries the step elsewhere; heartbeats
also deliver cancellation to the activity.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

HEARTBEAT_EVERY = 2.0


@contextlib.asynccontextmanager
async def heartbeating(every: float = HEARTBEAT_EVERY) -> AsyncIterator[None]:
    async def beat() -> None:
        # None at the start: a heartbeat is a server write, and most steps end well before the
        # first one is due (their worker dying is still noticed at the heartbeat timeout).
        while True:
            await asyncio.sleep(every)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
