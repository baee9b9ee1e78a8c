"""Sign-in: throttled per account and per client address before any password is verified.

Each attempt is counted first (`api/throttle.py`, in the control-plane database, so every API
process sees the same counts); one over either limit is refused with 429 and costs no Argon2.
The counts are of attempts, not of failures, so a concurrent burst cannot slip past the limit
while its first guesses are still being verified; a successful sign-in then clears its
account's count and takes its attempt back from the address's. Verifies run on the bounded
`BoundedVerifier`, never on the threads tenant creation hashes on, and a flood of sign-ins
takes at most a few of the API's pooled connections at a time: the rest wait for a slot
without holding one, so other requests keep theirs.
"""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from api import throttle
from api.accounts import Account, find_account
from api.errors import Forbidden, NotAuthenticated, ServiceUnavailable, TooManyRequests
from api.metrics import ApiMetrics
from core.passwords import BoundedVerifier, VerifierBusy
from core.settings import Settings

BAD_CREDENTIALS = "Incorrect e-mail, password or tenant"
# Sign-ins using the database at once, per API process (the pool holds 5 + 10 overflow).
DATABASE_SLOTS = 4


class SignIns:
    """One per API process (built in the lifespan): the verifier and the database slots."""

    def __init__(self, settings: Settings, metrics: ApiMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.verifier = BoundedVerifier(settings.login_verify_threads, settings.login_verify_queue)
        self._database = asyncio.Semaphore(DATABASE_SLOTS)

    def close(self) -> None:
        self.verifier.close()

    async def sign_in(
        self, session: AsyncSession, *, tenant: str, email: str, password: str, address: str
    ) -> Account:
        settings = self.settings
        account_key = f"login:account:{tenant}:{email.lower()}"
        address_key = f"login:address:{address}"
        window = settings.login_window_seconds
        async with self._database:
            await throttle.purge(session)
            async with session.begin():
                by_address = await throttle.hit(session, address_key, window)
                by_account = await throttle.hit(session, account_key, window)
                account = await find_account(session, tenant, email)
        throttled_by = None  # the account's limit is the one named when both are over
        if by_address.hits > settings.login_limit_per_address:
            throttled_by = "address"
        if by_account.hits > settings.login_limit_per_account:
            throttled_by = "account"
        if self.metrics is not None:
            self.metrics.sign_in(throttled_by)
        if throttled_by == "account":
            raise TooManyRequests(
                "Too many sign-in attempts for this account; try again later",
                by_account.retry_after,
            )
        if throttled_by == "address":
            raise TooManyRequests(
                "Too many sign-in attempts from this address; try again later",
                by_address.retry_after,
            )
        try:
            valid = await self.verifier.verify(password, account.password_hash if account else None)
        except VerifierBusy:
            async with self._database, session.begin():
                await throttle.refund(session, address_key)
                await throttle.refund(session, account_key)
            raise ServiceUnavailable(
                "Sign-in is busy; try again in a moment", retry_after=1
            ) from None
        if not valid or account is None:
            raise NotAuthenticated(BAD_CREDENTIALS)
        async with self._database, session.begin():
            await throttle.refund(session, address_key)
            await throttle.forget(session, account_key)
        if account.tenant_gone:
            raise Forbidden(f"Tenant '{tenant}' is being deleted")
        if not account.tenant_active:
            raise Forbidden(f"Tenant '{tenant}' is deactivated: ask an operator to activate it")
        return account
