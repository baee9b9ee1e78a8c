from typing import Any

from fastapi import APIRouter, status

from api.deps import RootUser, SessionDep, SettingsDep, TemporalDep
from api.operations import Operations
from api.schemas import TenantAccepted, TenantChange

router = APIRouter(prefix="/api/tenants", tags=["operations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The root tenant cannot be changed"},
    404: {"description": "No such tenant"},
    409: {"description": "The tenant's status does not allow it"},
}


@router.put(
    "/{tenant_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TenantAccepted,
    responses=ERRORS,
)
async def update_tenant(
    tenant_id: str,
    body: TenantChange,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> TenantAccepted:
    """Change an Active tenant's name and active flag (UpdateTenant workflow)."""
    return await Operations(session, temporal, settings).update(tenant_id, body, user.user_id)


@router.post(
    "/{tenant_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TenantAccepted,
    responses=ERRORS,
)
async def retry_tenant(
    tenant_id: str,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> TenantAccepted:
    """Provision a Failed or Cancelled tenant again (every step is idempotent)."""
    return await Operations(session, temporal, settings).retry(tenant_id, user.user_id)


@router.post(
    "/{tenant_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TenantAccepted,
    responses=ERRORS,
)
async def cancel_tenant(
    tenant_id: str,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> TenantAccepted:
    """Cancel a provisioning in progress: what it created is removed, status Cancelled."""
    return await Operations(session, temporal, settings).cancel(tenant_id, user.user_id)


@router.delete(
    "/{tenant_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TenantAccepted,
    responses=ERRORS,
)
async def delete_tenant(
    tenant_id: str,
    user: RootUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> TenantAccepted:
    """Deprovision a tenant: drop its database or schema and its users; status Deleted."""
    return await Operations(session, temporal, settings).delete(tenant_id, user.user_id)
