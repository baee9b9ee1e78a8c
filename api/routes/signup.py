from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sse_starlette import EventSourceResponse

from api.deps import LastEventId, ProgressHubDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Forbidden, NotAuthenticated, NotFound, responses
from api.operations import Operations
from api.routes.events import progress_response
from api.schemas import SignupAccepted, SignupRequest, TenantCreate
from api.security import InvalidToken, create_signup_progress_token, signup_progress_tenant
from api.signup import check_signup_rate
from api.throttle import client_address

router = APIRouter(prefix="/api", tags=["signup"])


@router.post(
    "/signup",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignupAccepted,
    responses=responses(404, 409, 429),
)
async def sign_up(
    body: SignupRequest,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> SignupAccepted:
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
    accepted = await Operations(session, temporal, settings).create(
        tenant, None, send_welcome_email=True
    )
    return SignupAccepted(
        **accepted.model_dump(),
        name=tenant.name,
        progress_token=create_signup_progress_token(settings, accepted.id),
    )


@router.get(
    "/signup/{tenant_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`progress` events"},
        204: {"description": "The client already has the final state (stop reconnecting)"},
        **responses(401, 403, 404),
    },
)
async def stream_signup_progress(
    tenant_id: str,
    token: Annotated[str, Query(max_length=2000, description="progressToken of the sign-up")],
    session: SessionDep,
    hub: ProgressHubDep,
    settings: SettingsDep,
    last_id: LastEventId,
) -> Response:
    """The new organization's provisioning as `progress` events, for whoever signed it up."""
    # The token is checked before the tenant is looked up: without the token of this very
    # sign-up, every id answers alike, existing or not.
    try:
        subject = signup_progress_tenant(settings, token)
    except InvalidToken as err:
        raise NotAuthenticated(f"Invalid progress token: {err}") from err
    if subject != tenant_id:
        raise Forbidden("This progress token is for another sign-up")
    return await progress_response(session, hub, settings, tenant_id, last_id)
