"""Sign-in and sign-up throttling: counted in PostgreSQL, before any Argon2, not fooled by
X-Forwarded-For unless the proxy is trusted."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from api.login import SignIns
from api.main import create_app
from core.models import RateLimit
from core.settings import Settings
from tests.api_process import api_process
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD
from tests.helpers import PASSWORD, serve_in_thread, unique_tenant_id

pytestmark = pytest.mark.integration

ACCOUNT_LIMIT = 3
ADDRESS_LIMIT = 5


@pytest.fixture(autouse=True)
async def fresh_counts(control_plane: AsyncEngine) -> AsyncIterator[None]:
    """Every API of the session counts in the same table: start and leave it empty."""
    async with control_plane.begin() as conn:
        await conn.execute(delete(RateLimit))
    yield
    async with control_plane.begin() as conn:
        await conn.execute(delete(RateLimit))


@dataclass
class Limited:
    url: str
    app: FastAPI

    @property
    def verified(self) -> int:
        sign_ins: SignIns = self.app.state.sign_ins
        return sign_ins.verifier.verified


@contextmanager
def _limited(settings: Settings, **overrides: Any) -> Iterator[Limited]:
    limits = {
        "login_limit_per_account": ACCOUNT_LIMIT,
        "login_limit_per_address": ADDRESS_LIMIT,
        "signup_limit_per_ip_per_hour": 3,
    }
    app = create_app(settings.model_copy(update=limits | overrides))
    with serve_in_thread(app) as url:
        yield Limited(url, app)


@pytest.fixture
def limited(settings: Settings) -> Iterator[Limited]:
    with _limited(settings) as limited:
        yield limited


@pytest.fixture
def behind_proxy(settings: Settings) -> Iterator[Limited]:
    with _limited(settings, trusted_proxies=("127.0.0.1",)) as limited:
        yield limited


def login(username: str, password: str, tenant: str = "root") -> dict[str, str]:
    return {"username": username, "password": password, "tenant": tenant}


async def test_a_burst_of_wrong_passwords_gets_the_limit_verified_and_the_rest_429(
    limited: Limited,
) -> None:
    async with httpx.AsyncClient(base_url=limited.url, timeout=60) as client:
        before = limited.verified
        responses = await asyncio.gather(
            *(
                client.post("/api/auth/token", data=login(ROOT_EMAIL, f"wrong-{n}-pass"))
                for n in range(12)
            )
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [401] * ACCOUNT_LIMIT + [429] * (12 - ACCOUNT_LIMIT)
        # Throttled attempts cost no Argon2: only the admitted ones were verified.
        assert limited.verified - before == ACCOUNT_LIMIT
        throttled = next(r for r in responses if r.status_code == 429)
        assert throttled.json() == {
            "detail": "Too many sign-in attempts for this account; try again later"
        }
        assert 0 < int(throttled.headers["retry-after"]) <= 900

        # The right password is refused too while the account is throttled, unverified.
        right = await client.post("/api/auth/token", data=login(ROOT_EMAIL, ROOT_PASSWORD))
        assert right.status_code == 429
        assert limited.verified - before == ACCOUNT_LIMIT


async def test_two_api_processes_share_the_counts(limited: Limited, settings: Settings) -> None:
    """Counted in PostgreSQL: attempts on one API count on the other."""
    with _limited(settings) as second:
        async with (
            httpx.AsyncClient(base_url=limited.url, timeout=60) as one,
            httpx.AsyncClient(base_url=second.url, timeout=60) as two,
        ):
            codes = [
                (
                    await client.post("/api/auth/token", data=login(ROOT_EMAIL, "wrong-pass1"))
                ).status_code
                for client in [one, two, one, two, one]
            ]
    assert codes == [401] * ACCOUNT_LIMIT + [429, 429]


async def test_a_successful_sign_in_clears_the_accounts_count(limited: Limited) -> None:
    async with httpx.AsyncClient(base_url=limited.url, timeout=60) as client:

        async def attempt(password: str) -> int:
            response = await client.post("/api/auth/token", data=login(ROOT_EMAIL, password))
            return response.status_code

        assert [await attempt("wrong-pass1") for _ in range(ACCOUNT_LIMIT - 1)] == [401, 401]
        assert await attempt(ROOT_PASSWORD) == 200
        # A fresh allowance (and the success did not use up the address's either).
        assert [await attempt("wrong-pass1") for _ in range(ACCOUNT_LIMIT)] == [401] * 3
        assert await attempt("wrong-pass1") == 429


async def test_many_accounts_from_one_address_are_throttled_per_address(
    limited: Limited,
) -> None:
    async with httpx.AsyncClient(base_url=limited.url, timeout=60) as client:
        codes = [
            (
                await client.post(
                    "/api/auth/token",
                    data=login(f"user{n}@example.com", "wrong-pass1"),
                    # Not a trusted proxy: a varying X-Forwarded-For changes nothing.
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                )
            ).status_code
            for n in range(ADDRESS_LIMIT + 2)
        ]
        blocked = await client.post("/api/auth/token", data=login(ROOT_EMAIL, ROOT_PASSWORD))
    assert codes == [401] * ADDRESS_LIMIT + [429, 429]
    assert blocked.status_code == 429
    assert blocked.json() == {
        "detail": "Too many sign-in attempts from this address; try again later"
    }


async def test_a_trusted_proxys_forwarded_for_gives_each_client_its_own_count(
    behind_proxy: Limited,
) -> None:
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=60) as client:

        async def attempt(n: int, client_address: str) -> int:
            response = await client.post(
                "/api/auth/token",
                data=login(f"user{n}@example.com", "wrong-pass1"),
                headers={"X-Forwarded-For": f"{client_address}, 127.0.0.1"},
            )
            return response.status_code

        spread = [await attempt(n, f"198.51.100.{n}") for n in range(ADDRESS_LIMIT + 2)]
        one = [await attempt(n, "198.51.100.200") for n in range(ADDRESS_LIMIT + 1)]
    assert spread == [401] * (ADDRESS_LIMIT + 2)
    assert one == [401] * ADDRESS_LIMIT + [429]


def signup_body(tenant_id: str) -> dict[str, object]:
    return {
        "id": tenant_id,
        "name": f"Burst {tenant_id}",
        "adminEmail": f"founder@{tenant_id}.example.com",
        "password": PASSWORD,
    }


async def test_a_concurrent_sign_up_burst_lets_exactly_the_limit_through(
    limited: Limited, worker: None
) -> None:
    async with httpx.AsyncClient(base_url=limited.url, timeout=60) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/signup",
                    json=signup_body(unique_tenant_id("burst")),
                    headers={"X-Forwarded-For": f"192.0.2.{n}"},
                )
                for n in range(10)
            )
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [202] * 3 + [429] * 7, [r.text for r in responses]
        later = await client.post(
            "/api/signup",
            json=signup_body(unique_tenant_id("burst")),
            headers={"X-Forwarded-For": "192.0.2.250"},
        )
    assert later.status_code == 429


async def test_python_m_api_does_not_believe_forwarded_for_by_default(
    settings: Settings, worker: None
) -> None:
    """The real entry point (uvicorn trusted 127.0.0.1's X-Forwarded-For before)."""
    with api_process(settings, SIGNUP_LIMIT_PER_IP_PER_HOUR="2") as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            codes = [
                (
                    await client.post(
                        "/api/signup",
                        json=signup_body(unique_tenant_id("xff")),
                        headers={"X-Forwarded-For": f"192.0.2.{n}"},
                    )
                ).status_code
                for n in range(3)
            ]
    assert codes == [202, 202, 429]
