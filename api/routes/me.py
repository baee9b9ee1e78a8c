"""The signed-in user's own settings."""

import uuid

from fastapi import APIRouter
from pydantic import StrictBool
from sqlalchemy import select, update

from api.deps import CurrentUser, SessionDep
from api.errors import NotAuthenticated
from api.schemas import CamelModel
from core.models import User

router = APIRouter(prefix="/api/me", tags=["me"])


class Preferences(CamelModel):
    """`notifyByEmail`: a notification no stream of yours took within
    NOTIFICATION_EMAIL_AFTER_SECONDS is e-mailed to you (on unless you turn it off)."""

    notify_by_email: StrictBool


@router.get("/preferences", response_model=Preferences)
async def get_preferences(user: CurrentUser, session: SessionDep) -> Preferences:
    """Your preferences."""
    value = await session.scalar(
        select(User.notify_by_email).where(User.id == uuid.UUID(user.user_id))
    )
    if value is None:  # removed since the token was checked
        raise NotAuthenticated("Token revoked: the user is deleted")
    return Preferences(notify_by_email=value)


@router.put("/preferences", response_model=Preferences)
async def put_preferences(body: Preferences, user: CurrentUser, session: SessionDep) -> Preferences:
    """Change your preferences."""
    async with session.begin():
        value = await session.scalar(
            update(User)
            .where(User.id == uuid.UUID(user.user_id))
            .values(notify_by_email=body.notify_by_email)
            .returning(User.notify_by_email)
        )
    if value is None:
        raise NotAuthenticated("Token revoked: the user is deleted")
    return Preferences(notify_by_email=value)
