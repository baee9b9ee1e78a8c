"""A tenant's history: its workflow runs, newest first, and any run's steps."""

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from temporalio.service import RPCError

from api.deps import RootUser, SessionDep, SettingsDep, TemporalDep
from api.errors import NotFound, ServiceUnavailable
from api.operations import load_tenant
from api.progress_source import QUERY_ERRORS, QUERY_PATIENCE, closing_snapshot, query_progress
from api.runs import RUN_ID, as_run, close_error, find_run, list_runs, tenant_status
from api.schemas import ProgressOut, RunOut
from core.status import TenantStatus

router = APIRouter(prefix="/api/tenants", tags=["tenants"])


@router.get("/{tenant_id}/runs", response_model=list[RunOut])
async def list_tenant_runs(
    tenant_id: str,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> list[RunOut]:
    """Every workflow run of the tenant (any type, retries included), newest first."""
    await load_tenant(session, tenant_id)
    try:
        runs = await list_runs(temporal, settings.temporal_ui_url, tenant_id)
    except RPCError as err:
        raise ServiceUnavailable(f"Could not list the runs: {err.message}") from err
    return runs


@router.get("/{tenant_id}/runs/{run_id}", response_model=ProgressOut)
async def get_tenant_run(
    tenant_id: str, run_id: str, user: RootUser, session: SessionDep, temporal: TemporalDep
) -> ProgressOut:
    """One run's steps: a closed run's from its result or failure details, an open run's from
    its worker."""
    if not RUN_ID.fullmatch(run_id):
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("path", "run_id"), "msg": "not a run id"}]
        )
    await load_tenant(session, tenant_id)
    try:
        execution = await find_run(temporal, tenant_id, run_id)
        if execution is None:
            raise NotFound(f"Tenant '{tenant_id}' has no run {run_id}")
        run = as_run(temporal, execution)
        if run.open:
            return (await query_progress(run, QUERY_PATIENCE)).progress
        closing = await closing_snapshot(run)
        if closing is not None:
            return closing.progress
        # Closed without details (terminated, or cancelled with no worker to replay it).
        return ProgressOut(
            tenant_id=tenant_id,
            workflow_type=execution.workflow_type,
            status=tenant_status(execution) or TenantStatus.FAILED,
            steps=[],
            error=await close_error(run.handle),
            updated_at=execution.close_time,
            run_started_at=execution.start_time,
        )
    except QUERY_ERRORS as err:
        raise ServiceUnavailable(f"No worker answered for the run: {err}") from err
