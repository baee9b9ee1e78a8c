from fastapi import APIRouter, Request

from api import ops
from api.deps import RootUser, SessionDep, SettingsDep, TemporalDep
from api.errors import responses
from api.ops_schemas import OpsSummary

router = APIRouter(prefix="/api/ops", tags=["operations view"])


@router.get("/summary", response_model=OpsSummary, responses=responses(401, 403))
async def get_ops_summary(
    request: Request,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> OpsSummary:
    """The operations view's figures over the last hour (sources: docs/architecture.md)."""
    steps: ops.FailedSteps = request.app.state.failed_steps
    return await ops.summary(session, temporal, settings.temporal_task_queue, steps)
