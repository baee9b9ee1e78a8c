"""Connecting to Temporal, patiently: the dev launcher starts the server alongside us."""

import asyncio
import logging
import time
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from core.settings import Settings

log = logging.getLogger(__name__)


async def connect(
    settings: Settings,
    *,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
    wait_seconds: float = 60.0,
) -> Client:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                interceptors=interceptors,
                runtime=runtime,
            )
        except (RuntimeError, RPCError) as err:
            if time.monotonic() > deadline:
                raise
            log.info("Temporal at %s not ready yet (%s); retrying", settings.temporal_address, err)
            await asyncio.sleep(1.0)
