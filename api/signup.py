"""Public sign-up's abuse protection: an hourly limit per client address and one overall.

Counted in the control-plane database (`api/throttle.py`), so every API process enforces the
same limits and a concurrent burst gets exactly the limit through. Bodies that fail validation
never reach it (they cost nothing); every request that does counts, accepted or not. Sign-ups
only ever get a schema in the shared database, never a database of their own, and can be
switched off (`SIGNUP_ENABLED=false`).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from api import throttle
from api.errors import TooManyRequests
from core.settings import Settings

WINDOW_SECONDS = 3600


async def check_signup_rate(session: AsyncSession, settings: Settings, address: str) -> None:
    await throttle.purge(session)
    async with session.begin():
        from_address = await throttle.hit(session, f"signup:address:{address}", WINDOW_SECONDS)
        overall = await throttle.hit(session, "signup:all", WINDOW_SECONDS)
    if from_address.hits > settings.signup_limit_per_ip_per_hour:
        raise TooManyRequests(
            "Too many sign-ups from this address; try again later", from_address.retry_after
        )
    if overall.hits > settings.signup_limit_per_hour:
        raise TooManyRequests("Too many sign-ups right now; try again later", overall.retry_after)
