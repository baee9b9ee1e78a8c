import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import LastEventId, NotificationHubDep, SettingsDep, StreamUser
from api.notification_hub import FALLBACK_SECONDS, NotificationHub
from api.schemas import NotificationOut
from core.models import Notification

router = APIRouter(prefix="/api", tags=["notifications"])

NOTIFICATION_EVENT = "notification"


@router.get(
    "/notifications",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "`notification` events"}},
)
async def stream_notifications(
    user: StreamUser, hub: NotificationHubDep, settings: SettingsDep, last_id: LastEventId
) -> EventSourceResponse:
    """Server-sent `notification` events: outcomes of the operations this user started."""
    return EventSourceResponse(
        _notification_events(hub, user.user_id, last_id), ping=int(settings.sse_ping_seconds)
    )


async def _notification_events(
    hub: NotificationHub, user_id: str, last_id: int | None
) -> AsyncIterator[ServerSentEvent]:
    async with hub.subscribe(user_id) as wake:
        if last_id is None:
            floor, rows = await hub.undelivered(user_id)
        else:
            floor, rows = last_id, []
        # Ids are handed out at insert, not in commit order: a lower id can commit after a
        # higher one. So the stream does not advance a cursor; it remembers what it sent.
        sent: set[int] = set()
        while True:
            for row in rows:
                yield _event(row)
                sent.add(row.id)
            await hub.mark_delivered([row.id for row in rows])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), FALLBACK_SECONDS)
            wake.clear()
            rows = list(await hub.after(user_id, floor, exclude=sent))


def _event(row: Notification) -> ServerSentEvent:
    body = NotificationOut(
        type=row.type,
        message=row.message,
        tenant_id=row.tenant_id,
        tenant_name=row.tenant_name,
        timestamp=row.created_at,
    )
    return ServerSentEvent(
        data=body.model_dump_json(by_alias=True), event=NOTIFICATION_EVENT, id=str(row.id)
    )
