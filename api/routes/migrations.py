"""Fleet rollouts of a tenant schema revision: start, list, read, follow live (SSE), steer."""

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse, ServerSentEvent
from temporalio.client import Client
from temporalio.service import RPCError

from api import migrations
from api.deps import LastEventId, RootUser, SessionDep, SettingsDep, StreamRoot, TemporalDep
from api.errors import Conflict, NotFound, ServiceUnavailable
from api.progress_source import QUERY_ERRORS
from api.schemas import MigrationAccepted, MigrationOut, MigrationRequest
from core.rollouts import Rollout, RolloutRunning
from core.schema import UnknownRevision
from workflows.fleet_models import FleetStatus

router = APIRouter(prefix="/api/migrations", tags=["migrations"])

RolloutId = Annotated[
    str,
    Path(pattern=r"^[0-9]{8}-[0-9]{4}-[0-9a-f]{4}$", description="The id POST answered"),
]
Command = Literal["pause", "resume", "cancel", "retry"]
PROGRESS_EVENT = "progress"
MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "No such rollout"}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MigrationAccepted,
    responses={409: {"description": "A rollout is already running"}},
)
async def start_migration(
    body: MigrationRequest,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> MigrationAccepted:
    """Roll a tenant schema revision out to the fleet (an older revision: a rollback)."""
    try:
        return await migrations.start(session, temporal, settings, body, user.user_id)
    except UnknownRevision as err:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "targetRevision"), "msg": str(err)}]
        ) from err
    except migrations.UnknownTenants as err:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "tenantIds"), "msg": str(err)}]
        ) from err
    except RolloutRunning as err:
        raise Conflict(str(err)) from err
    except RPCError as err:
        raise ServiceUnavailable(f"Could not start the rollout: {err.message}") from err


@router.get("", response_model=list[MigrationOut])
async def list_migrations(
    user: RootUser, session: SessionDep, temporal: TemporalDep
) -> list[MigrationOut]:
    """The latest 50 rollouts, newest first."""
    try:
        return await migrations.newest(session, temporal)
    except (RPCError, *QUERY_ERRORS) as err:
        raise ServiceUnavailable(f"Could not read the running rollout: {err}") from err


@router.get("/{rollout_id}", response_model=MigrationOut, responses=MISSING)
async def get_migration(
    rollout_id: RolloutId, user: RootUser, session: SessionDep, temporal: TemporalDep
) -> MigrationOut:
    """A rollout's state: counts, failures, and whether it runs, is paused or has ended."""
    rollout = await _load(session, rollout_id)
    return await _read(temporal, rollout)


@router.get(
    "/{rollout_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`progress` events"},
        204: {"description": "The client already has the final state (stop reconnecting)"},
        **MISSING,
    },
)
async def stream_migration(
    rollout_id: RolloutId,
    user: StreamRoot,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    last_id: LastEventId,
) -> Response:
    """Server-sent `progress` events: the rollout's state each time it changes, until it ends."""
    rollout = await _load(session, rollout_id)
    current = await _read(temporal, rollout)  # 404 and 503 before the stream starts
    if last_id is not None and FleetStatus(current.status).is_final:
        if current.version <= last_id:
            # 204 tells EventSource to stop reconnecting: it has the final state already.
            return Response(status_code=status.HTTP_204_NO_CONTENT)
    events = _events(temporal, rollout, -1 if last_id is None else last_id)
    return EventSourceResponse(events, ping=int(settings.sse_ping_seconds))


@router.post(
    "/{rollout_id}/{command}",
    response_model=MigrationOut,
    responses={**MISSING, 409: {"description": "Not possible in the rollout's state"}},
)
async def steer_migration(
    rollout_id: RolloutId,
    command: Command,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
) -> MigrationOut:
    """Pause, resume, cancel (running tenants commit or roll back), or retry the failed tenants."""
    rollout = await _load(session, rollout_id)
    try:
        return await migrations.steer(temporal, rollout, command)
    except migrations.CannotSteer as err:
        raise Conflict(str(err)) from err
    except RPCError as err:
        raise ServiceUnavailable(f"Could not reach the rollout: {err.message}") from err


async def _events(client: Client, rollout: Rollout, after: int) -> AsyncIterator[ServerSentEvent]:
    async for state in migrations.follow(client, rollout, after):
        yield ServerSentEvent(
            data=state.model_dump_json(by_alias=True), event=PROGRESS_EVENT, id=str(state.version)
        )


async def _load(session: AsyncSession, rollout_id: str) -> Rollout:
    try:
        rollout = await migrations.load(session, rollout_id)
    except migrations.RolloutMissing as err:
        raise NotFound(f"No rollout {rollout_id}") from err
    await session.close()  # the row is read: no pooled connection held while Temporal answers
    return rollout


async def _read(client: Client, rollout: Rollout) -> MigrationOut:
    try:
        return await migrations.read(client, rollout)
    except (RPCError, *QUERY_ERRORS) as err:
        raise ServiceUnavailable(f"Could not read the rollout: {err}") from err
