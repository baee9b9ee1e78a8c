import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import LastEventId, NotificationHubDep, SettingsDep, StreamUser
from api.notification_hub import NotificationHub
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
        cursor, rows = await hub.opening(user_id, last_id)
        # A late commit can bring a lower id after a higher one: the event id is the highest
        # sent so far, so it stays monotonic and `Last-Event-ID` means "everything up to here
        # that reached this stream" (a late lower row is found again by its delivery mark).
        high = last_id or 0
        while True:
            sent: list[Notification] = []
            try:
                for row in rows:
                    high = max(high, row.id)
                    yield _event(row, high)
                    sent.append(row)  # resumed: the event was written
            finally:
                # Also when the client leaves right after an event (the stream is closed at
                # its yield, or cancelled while marking): what it was sent is not "missed"
                # and must not be e-mailed later.
                await asyncio.shield(hub.mark_delivered(sent))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), hub.poll_seconds)
            wake.clear()
            rows = await hub.unseen(user_id, cursor)


def _event(row: Notification, event_id: int) -> ServerSentEvent:
    body = NotificationOut(
        type=row.type,
        message=row.message,
        tenant_id=row.tenant_id,
        tenant_name=row.tenant_name,
        timestamp=row.created_at,
    )
    return ServerSentEvent(
        data=body.model_dump_json(by_alias=True), event=NOTIFICATION_EVENT, id=str(event_id)
    )
