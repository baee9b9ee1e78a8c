from fastapi import APIRouter

from api.deps import RootUser, SessionDep
from api.schemas import RevisionCount, RevisionOut, SchemaOut
from api.tenant_list import count_by_status
from core.schema import count_by_revision, tenant_revisions
from core.status import TenantStatus

router = APIRouter(prefix="/api/schema", tags=["schema"])


@router.get("", response_model=SchemaOut)
async def get_schema(user: RootUser, session: SessionDep) -> SchemaOut:
    """The tenant schema's revisions (oldest first), its head, and the tenants on each."""
    head, revisions = tenant_revisions()
    counts = await count_by_revision(session)
    migrating = (await count_by_status(session))[TenantStatus.MIGRATING]
    return SchemaOut(
        head=head,
        revisions=[RevisionOut(id=r.id, description=r.description) for r in revisions],
        counts=[RevisionCount(revision=r, tenants=n) for r, n in counts],
        migrating=migrating,
    )
