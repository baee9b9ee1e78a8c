"""Public sign-up's abuse protection: a sliding one-hour window per client IP and overall.

Counted in the control-plane database, so every API process enforces the same limits without a
shared cache. Bodies that fail validation never reach it (they cost nothing); every request that
does counts, accepted or not. Sign-ups only ever get a schema in the shared database, never a
database of their own, and can be switched off (`SIGNUP_ENABLED=false`).
"""

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import TooManyRequests
from core.models import SignupAttempt
from core.settings import Settings

WINDOW_SECONDS = 3600


async def check_signup_rate(session: AsyncSession, settings: Settings, ip: str) -> None:
    async with session.begin():
        await session.execute(
            delete(SignupAttempt).where(SignupAttempt.at < func.now() - _interval(86400))
        )
        await session.execute(insert(SignupAttempt).values(ip=ip))
        recent = SignupAttempt.at >= func.now() - _interval(WINDOW_SECONDS)
        from_ip = await session.scalar(select(func.count()).where(recent, SignupAttempt.ip == ip))
        overall = await session.scalar(select(func.count()).where(recent))
    if (from_ip or 0) > settings.signup_limit_per_ip_per_hour:
        raise TooManyRequests(
            "Too many sign-ups from this address; try again later", WINDOW_SECONDS
        )
    if (overall or 0) > settings.signup_limit_per_hour:
        raise TooManyRequests("Too many sign-ups right now; try again later", WINDOW_SECONDS)


def _interval(seconds: int) -> object:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds)
