from typing import Annotated

from fastapi import APIRouter, Form, Request

from api.deps import SessionDep, SettingsDep, SignInsDep
from api.errors import responses
from api.schemas import NoControl, Token
from api.security import Principal, create_access_token
from api.throttle import client_address
from core.status import ROOT_TENANT_ID

router = APIRouter(prefix="/api/auth", tags=["auth"])

# The OAuth2 password form's fields, bounded, and without control characters where they are
# looked up (a NUL reached PostgreSQL as a 500). The password is never stored or queried: any
# characters, the body limit bounds it.
Username = Annotated[str, Form(min_length=1, max_length=320, description="E-mail"), NoControl]
Password = Annotated[str, Form(max_length=4096)]
TenantField = Annotated[
    str, Form(min_length=1, max_length=63, description="Tenant to sign in to"), NoControl
]
GrantType = Annotated[str | None, Form(pattern="^password$")]


@router.post("/token", response_model=Token, responses=responses(401, 403, 429, 503))
async def create_token(
    request: Request,
    username: Username,
    password: Password,
    session: SessionDep,
    settings: SettingsDep,
    sign_ins: SignInsDep,
    tenant: TenantField = ROOT_TENANT_ID,
    grant_type: GrantType = None,
) -> Token:
    """Exchange e-mail, password and tenant (default `root`) for a bearer token."""
    account = await sign_ins.sign_in(
        session,
        tenant=tenant,
        email=username.strip(),
        password=password,
        address=client_address(request),
    )
    principal = Principal(
        user_id=account.user_id, email=account.email, tenant=tenant, roles=account.roles
    )
    return Token(access_token=create_access_token(settings, principal))
