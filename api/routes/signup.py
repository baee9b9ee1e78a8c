from fastapi import APIRouter, Request, status

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import NotFound, responses
from api.operations import Operations
from api.schemas import SignupRequest, TenantAccepted, TenantCreate
from api.signup import check_signup_rate
from api.throttle import client_address

router = APIRouter(prefix="/api", tags=["signup"])


@router.post(
    "/signup",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TenantAccepted,
    responses=responses(404, 409, 429),
)
async def sign_up(
    body: SignupRequest,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> TenantAccepted:
    """Public sign-up: provision a tenant (shared schema) and e-mail its admin when ready."""
    if not settings.signup_enabled:
        raise NotFound("Public sign-up is disabled")
    await check_signup_rate(session, settings, client_address(request))
    tenant = TenantCreate(
        id=body.id,
        name=body.name,
        admin_email=body.admin_email,
        password=body.password,
        has_isolated_database=False,
    )
    return await Operations(session, temporal, settings).create(
        tenant, None, send_welcome_email=True
    )
