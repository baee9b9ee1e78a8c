"""Request dependencies, declared once as `Annotated` aliases.

All `async def`: FastAPI runs a plain `def` dependency in its thread pool, a round trip per
dependency per request (measured: 4-5 ms of CPU to open one SSE stream; see docs/benchmarks.md)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.accounts import current_roles
from api.errors import Forbidden, NotAuthenticated
from api.login import SignIns
from api.notification_hub import NotificationHub
from api.progress_hub import ProgressHub
from api.security import InvalidToken, Principal, decode_access_token
from core.settings import Settings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_sessionmaker(request)() as session:
        yield session


async def get_progress_hub(request: Request) -> ProgressHub:
    hub: ProgressHub = request.app.state.progress_hub
    return hub


async def get_notification_hub(request: Request) -> NotificationHub:
    hub: NotificationHub = request.app.state.notification_hub
    return hub


async def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_sign_ins(request: Request) -> SignIns:
    sign_ins: SignIns = request.app.state.sign_ins
    return sign_ins


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
ProgressHubDep = Annotated[ProgressHub, Depends(get_progress_hub)]
NotificationHubDep = Annotated[NotificationHub, Depends(get_notification_hub)]
SignInsDep = Annotated[SignIns, Depends(get_sign_ins)]


async def _principal(request: Request, settings: Settings, token: str | None) -> Principal:
    if not token:
        raise NotAuthenticated("Not authenticated")
    try:
        claimed = decode_access_token(settings, token)
    except InvalidToken as err:
        raise NotAuthenticated(f"Invalid token: {err}") from err
    # A token is only as good as its user: deleted or deactivated (user or tenant) ends it at
    # once. A session of its own, closed before the route runs, so the route's session starts
    # its transactions afresh and no pooled connection is held across the two.
    async with get_sessionmaker(request)() as session:
        roles = await current_roles(session, claimed.user_id, claimed.tenant)
    if roles is None:
        raise NotAuthenticated("Token revoked: the user or tenant is deleted or deactivated")
    return Principal(claimed.user_id, claimed.email, claimed.tenant, roles)


async def current_user(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    return await _principal(request, settings, token)


CurrentUser = Annotated[Principal, Depends(current_user)]


async def root_user(user: CurrentUser) -> Principal:
    if not user.is_root:
        raise Forbidden("This needs the root role")
    return user


RootUser = Annotated[Principal, Depends(root_user)]

ADMIN_ROLE = "admin"


def _check_reader(user: Principal, tenant_id: str) -> Principal:
    # Checked before the tenant is looked up: another tenant's id gets 403 whether or not it
    # exists, so a tenant admin cannot probe for tenants.
    if user.is_root or (user.tenant == tenant_id and ADMIN_ROLE in user.roles):
        return user
    raise Forbidden("This needs the root role or the admin role of this tenant")


async def tenant_reader(tenant_id: str, user: CurrentUser) -> Principal:
    """Root, or an admin of the tenant in the path (read access to that tenant only)."""
    return _check_reader(user, tenant_id)


TenantReader = Annotated[Principal, Depends(tenant_reader)]


async def stream_user(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    access_token: Annotated[
        str | None, Query(description="The token, for EventSource (it cannot send headers)")
    ] = None,
) -> Principal:
    return await _principal(request, settings, token or access_token)


StreamUser = Annotated[Principal, Depends(stream_user)]


async def stream_root(user: StreamUser) -> Principal:
    return await root_user(user)


StreamRoot = Annotated[Principal, Depends(stream_root)]


async def stream_tenant_reader(tenant_id: str, user: StreamUser) -> Principal:
    return _check_reader(user, tenant_id)


StreamTenantReader = Annotated[Principal, Depends(stream_tenant_reader)]


async def last_event_id(
    header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    query: Annotated[
        str | None,
        Query(alias="lastEventId", description="For a new EventSource resuming a stream"),
    ] = None,
) -> int | None:
    """The id a reconnecting EventSource sends (a header), or a new EventSource resuming one
    (it cannot set headers). Ours are integers; anything else is ignored."""
    value = header if header is not None else query
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


LastEventId = Annotated[int | None, Depends(last_event_id)]
