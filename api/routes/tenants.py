from fastapi import APIRouter, status
from sqlalchemy import select
from temporalio.service import RPCError

from api.deps import RootUser, SessionDep, SettingsDep, TemporalDep
from api.errors import NotFound, ServiceUnavailable
from api.operations import Operations, load_tenant
from api.progress_source import current_snapshot
from api.schemas import ProgressOut, TenantAccepted, TenantCreate, TenantOut
from core.models import Tenant

router = APIRouter(prefix="/api/tenants", tags=["tenants"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=TenantAccepted)
async def create_tenant(
    body: TenantCreate,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> TenantAccepted:
    """Accept a new tenant and start its provisioning workflow."""
    return await Operations(session, temporal, settings).create(body, user.user_id)


# Reads never write: a row left in flight by a run stopped from outside is settled by the
# background sweep (api/sweeper.py) within RECONCILE_INTERVAL_SECONDS.


@router.get("", response_model=list[TenantOut])
async def list_tenants(user: RootUser, session: SessionDep) -> list[TenantOut]:
    """All tenants, oldest first."""
    rows = (await session.scalars(select(Tenant).order_by(Tenant.created_on, Tenant.id))).all()
    return [TenantOut.model_validate(row) for row in rows]


@router.get("/{tenant_id}", response_model=TenantOut)
async def get_tenant(tenant_id: str, user: RootUser, session: SessionDep) -> TenantOut:
    """One tenant."""
    return TenantOut.model_validate(await load_tenant(session, tenant_id))


@router.get("/{tenant_id}/progress", response_model=ProgressOut)
async def get_progress(
    tenant_id: str, user: RootUser, session: SessionDep, temporal: TemporalDep
) -> ProgressOut:
    """The workflow's progress snapshot; with no worker up, the row (steps omitted)."""
    tenant = await load_tenant(session, tenant_id)
    if tenant.workflow_id is None:
        raise NotFound(f"Tenant '{tenant_id}' has no provisioning workflow")
    try:
        return (await current_snapshot(session, temporal, tenant)).progress
    except RPCError as err:
        raise ServiceUnavailable(f"Could not read the workflow: {err.message}") from err
