from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import func, select

from api.deps import SessionDep, SettingsDep
from api.errors import NotAuthenticated
from api.schemas import Token
from api.security import Principal, create_access_token
from core.models import Tenant, User
from core.passwords import verify_password_async
from core.status import ROOT_TENANT_ID, TenantStatus

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=Token)
async def create_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    tenant: Annotated[str, Form(description="Tenant to sign in to")] = ROOT_TENANT_ID,
) -> Token:
    """Exchange e-mail, password and tenant (default `root`) for a bearer token."""
    row = (
        await session.execute(
            select(User.id, User.email, User.password_hash, User.roles)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(
                User.tenant_id == tenant,
                func.lower(User.email) == form.username.strip().lower(),
                Tenant.status == TenantStatus.ACTIVE,
                Tenant.is_active.is_(True),
            )
        )
    ).first()
    valid = await verify_password_async(form.password, row.password_hash if row else None)
    if not valid or row is None:
        raise NotAuthenticated("Incorrect e-mail, password or tenant")
    principal = Principal(
        user_id=str(row.id), email=row.email, tenant=tenant, roles=tuple(row.roles)
    )
    return Token(access_token=create_access_token(settings, principal))
