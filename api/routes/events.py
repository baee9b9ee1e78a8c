import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import (
    LastEventId,
    ProgressHubDep,
    SessionDep,
    SettingsDep,
    StreamTenantReader,
)
from api.errors import NotFound, ServiceUnavailable
from api.operations import load_tenant
from api.progress_hub import ProgressHub
from core.models import Tenant
from core.settings import Settings

router = APIRouter(prefix="/api/tenants", tags=["tenants"])

PROGRESS_EVENT = "progress"
FIRST_SNAPSHOT_SECONDS = 15.0


@router.get(
    "/{tenant_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`progress` events"},
        204: {"description": "The client already has the final state (stop reconnecting)"},
    },
)
async def stream_progress(
    tenant_id: str,
    user: StreamTenantReader,
    session: SessionDep,
    hub: ProgressHubDep,
    settings: SettingsDep,
    last_id: LastEventId,
) -> Response:
    """Server-sent `progress` events: the snapshot each time it changes, until a final status."""
    return await progress_response(session, hub, settings, tenant_id, last_id)


async def progress_response(
    session: AsyncSession,
    hub: ProgressHub,
    settings: Settings,
    tenant_id: str,
    last_id: int | None,
) -> Response:
    """The tenant's progress stream, every check done before it starts (also for sign-up)."""
    tenant = await load_tenant(session, tenant_id)
    await session.close()  # the stream outlives the request's session
    if tenant.workflow_id is None:
        raise NotFound(f"Tenant '{tenant_id}' has no provisioning workflow")
    async with hub.subscribe(tenant) as reader:
        try:
            current = await asyncio.wait_for(reader.next_after(-1), FIRST_SNAPSHOT_SECONDS)
        except TimeoutError:
            current = None
    if current is None:
        raise ServiceUnavailable("The workflow's progress cannot be read right now")
    if last_id is not None and current.terminal and current.event_id <= last_id:
        # 204 tells EventSource to stop reconnecting: it has the final state already.
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return EventSourceResponse(
        _progress_events(hub, tenant, last_id or 0), ping=int(settings.sse_ping_seconds)
    )


async def _progress_events(
    hub: ProgressHub, tenant: Tenant, after: int
) -> AsyncIterator[ServerSentEvent]:
    async with hub.subscribe(tenant) as reader:
        while True:
            snapshot = await reader.next_after(after)
            if snapshot is None:
                return
            yield ServerSentEvent(
                data=snapshot.data, event=PROGRESS_EVENT, id=str(snapshot.event_id)
            )
            after = snapshot.event_id
            if snapshot.terminal:
                return
