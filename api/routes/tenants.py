from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from temporalio.service import RPCError

from api.deps import RootUser, SessionDep, SettingsDep, TemporalDep, TenantReader
from api.errors import NotFound, ServiceUnavailable
from api.operations import Operations, load_tenant
from api.progress_source import current_snapshot
from api.schemas import (
    ProgressOut,
    TenantAccepted,
    TenantCreate,
    TenantOut,
    TenantPage,
    TenantStats,
    TenantUserOut,
)
from api.tenant_list import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadCursor,
    Sort,
    TenantFilter,
    count_by_status,
    list_tenants,
)
from core.models import User
from core.schema import count_by_revision
from core.status import TenantStatus

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


@router.get("", response_model=TenantPage)
async def list_tenants_page(
    user: RootUser,
    session: SessionDep,
    status: Annotated[
        list[TenantStatus] | None,
        Query(description="One or more statuses; without it every status but Deleted"),
    ] = None,
    q: Annotated[
        str, Query(max_length=200, description="Part of the id, name or admin e-mail")
    ] = "",
    sort: Annotated[
        Sort, Query(description="created (newest first), name or status; '-' reverses")
    ] = Sort.CREATED,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="nextCursor of the previous page")
    ] = None,
) -> TenantPage:
    """A page of tenants matching the filter, with the total and the next page's cursor."""
    where = TenantFilter(frozenset(status or ()), q.strip())
    try:
        page = await list_tenants(session, where, sort, limit, cursor)
    except BadCursor as err:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "cursor"), "msg": str(err)}]
        ) from err
    return TenantPage(
        items=[TenantOut.model_validate(row) for row in page.items],
        total=page.total,
        next_cursor=page.next_cursor,
    )


@router.get("/stats", response_model=TenantStats)
async def get_tenant_stats(user: RootUser, session: SessionDep) -> TenantStats:
    """How many tenants there are in each status, and on each tenant schema revision."""
    counts = await count_by_status(session)
    revisions = {r or "unknown": n for r, n in await count_by_revision(session)}
    return TenantStats(total=sum(counts.values()), by_status=counts, by_schema_revision=revisions)


@router.get("/{tenant_id}", response_model=TenantOut)
async def get_tenant(tenant_id: str, user: TenantReader, session: SessionDep) -> TenantOut:
    """One tenant (root, or an admin of this tenant)."""
    return TenantOut.model_validate(await load_tenant(session, tenant_id))


@router.get("/{tenant_id}/progress", response_model=ProgressOut)
async def get_progress(
    tenant_id: str, user: TenantReader, session: SessionDep, temporal: TemporalDep
) -> ProgressOut:
    """The workflow's progress snapshot; with no worker up, the row (steps omitted)."""
    tenant = await load_tenant(session, tenant_id)
    if tenant.workflow_id is None:
        raise NotFound(f"Tenant '{tenant_id}' has no provisioning workflow")
    try:
        return (await current_snapshot(session, temporal, tenant)).progress
    except RPCError as err:
        raise ServiceUnavailable(f"Could not read the workflow: {err.message}") from err


@router.get("/{tenant_id}/users", response_model=list[TenantUserOut])
async def list_tenant_users(
    tenant_id: str, user: TenantReader, session: SessionDep
) -> list[TenantUserOut]:
    """The tenant's users, oldest first (root, or an admin of this tenant)."""
    await load_tenant(session, tenant_id)
    users = await session.scalars(
        select(User).where(User.tenant_id == tenant_id).order_by(User.created_on, User.email)
    )
    return [TenantUserOut.model_validate(row) for row in users]
