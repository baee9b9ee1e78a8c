"""The naive baseline the shared reader is measured against: every SSE subscriber queries the
workflow's `progress` once a second and sends the snapshot when it changed.

`python -m bench.naive_api` serves it with uvicorn on API_HOST:API_PORT, configured like the
real API (`python -m api`), so the two processes' CPU can be compared. No auth and no database:
those would only add to its cost.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from api.schemas import ProgressOut
from core.settings import get_settings
from core.temporal import connect
from workflows.models import PROGRESS_QUERY

POLL_SECONDS = 1.0
QUERY_TIMEOUT = timedelta(seconds=5)

log = logging.getLogger("bench.naive_api")


def create_app() -> FastAPI:
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.temporal = await connect(settings)
        yield

    app = FastAPI(title="Naive SSE baseline", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Up once the Temporal client is connected."""
        return {"status": "ok"}

    @app.get("/workflows/{workflow_id}/events", response_class=EventSourceResponse)
    async def stream_progress(workflow_id: str, request: Request) -> EventSourceResponse:
        """`progress` events: this subscriber's own query every second, sent when changed."""
        client: Client = request.app.state.temporal
        handle = client.get_workflow_handle(workflow_id)
        return EventSourceResponse(_poll(handle), ping=int(settings.sse_ping_seconds))

    return app


async def _query(handle: WorkflowHandle[Any, Any]) -> ProgressOut | None:
    try:
        progress = await handle.query(PROGRESS_QUERY, rpc_timeout=QUERY_TIMEOUT)
    except (TimeoutError, RPCError) as err:
        log.warning("progress query of %s failed: %s", handle.id, err)
        return None
    return ProgressOut.model_validate(progress)


async def _poll(handle: WorkflowHandle[Any, Any]) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    last: str | None = None
    while True:
        started = loop.time()
        progress = await _query(handle)
        if progress is not None:
            data = progress.model_dump_json(by_alias=True)
            if data != last:
                last = data
                yield ServerSentEvent(data=data, event="progress", id=str(progress.version))
            if progress.status.is_terminal:
                return
        await asyncio.sleep(max(0.0, started + POLL_SECONDS - loop.time()))


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "bench.naive_api:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=True,
        log_level="info",
    )


if __name__ == "__main__":
    main()
