"""Bulk actions on tenants: start one, read its state, follow it live (SSE)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.exceptions import RequestValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from temporalio.client import Client
from temporalio.service import RPCError

from api import bulk
from api.deps import RootUser, SessionDep, SettingsDep, StreamRoot, TemporalDep
from api.errors import NotFound, ServiceUnavailable
from api.progress_source import QUERY_ERRORS
from api.schemas import BulkAccepted, BulkOut, BulkRequest, TenantOutcomeOut
from api.tenant_list import TenantFilter
from workflows.bulk_action import BulkProgress, Outcome

router = APIRouter(prefix="/api/tenants/bulk", tags=["bulk"])

BulkId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The id POST answered")]
PROGRESS_EVENT = "progress"


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=BulkAccepted)
async def start_bulk_action(
    body: BulkRequest,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> BulkAccepted:
    """Start one action on many tenants; each is judged on its own (done, skipped, failed)."""
    if body.filter is not None:
        where = TenantFilter(frozenset(body.filter.status), body.filter.q)
        try:
            tenant_ids = await bulk.matching_ids(session, where)
        except bulk.TooMany as err:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "filter"), "msg": str(err)}]
            ) from err
    else:
        assert body.tenant_ids is not None
        tenant_ids = body.tenant_ids
    await session.close()  # no pooled connection held while Temporal answers
    try:
        bulk_id, workflow_id = await bulk.start(
            temporal,
            settings.temporal_task_queue,
            body.action,
            tenant_ids,
            user.user_id,
            body.concurrency,
        )
    except RPCError as err:
        raise ServiceUnavailable(f"Could not start the bulk action: {err.message}") from err
    return BulkAccepted(id=bulk_id, workflow_id=workflow_id, total=len(set(tenant_ids)))


@router.get(
    "/{bulk_id}", response_model=BulkOut, responses={404: {"description": "No such bulk action"}}
)
async def get_bulk_action(bulk_id: BulkId, user: RootUser, temporal: TemporalDep) -> BulkOut:
    """A bulk action's state: counts and every tenant's outcome so far."""
    return summary(await _read(temporal, bulk_id))


@router.get(
    "/{bulk_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`progress` events"},
        404: {"description": "No such bulk action"},
    },
)
async def stream_bulk_action(
    bulk_id: BulkId, user: StreamRoot, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    """Server-sent `progress` events: the bulk's state each time it changes, until it ends."""
    await _read(temporal, bulk_id)  # 404 and 503 before the stream starts
    return EventSourceResponse(_events(temporal, bulk_id), ping=int(settings.sse_ping_seconds))


async def _events(client: Client, bulk_id: str) -> AsyncIterator[ServerSentEvent]:
    async for state in bulk.follow(client, bulk_id):
        out = summary(state)
        yield ServerSentEvent(
            data=out.model_dump_json(by_alias=True), event=PROGRESS_EVENT, id=str(out.version)
        )


async def _read(client: Client, bulk_id: str) -> BulkProgress:
    try:
        return await bulk.read(client, bulk_id)
    except bulk.BulkMissing as err:
        raise NotFound(f"No bulk action {bulk_id}") from err
    except (RPCError, *QUERY_ERRORS) as err:
        raise ServiceUnavailable(f"Could not read the bulk action: {err}") from err


def summary(state: BulkProgress) -> BulkOut:
    counts = dict.fromkeys(Outcome, 0)
    for outcome in state.outcomes:
        counts[outcome.outcome] += 1
    return BulkOut(
        id=state.bulk_id,
        action=state.action,
        finished=state.finished,
        cancelled=state.cancelled,
        total=state.total,
        done=counts[Outcome.DONE],
        skipped=counts[Outcome.SKIPPED],
        failed=counts[Outcome.FAILED],
        running=len(state.running),
        pending=state.total - len(state.outcomes) - len(state.running),
        outcomes=[TenantOutcomeOut.model_validate(o) for o in state.outcomes],
        started_at=state.started_at,
        finished_at=state.finished_at,
        version=state.version,
    )
