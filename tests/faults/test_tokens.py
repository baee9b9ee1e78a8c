"""Forged, expired and incomplete tokens get 401; a tenant admin's token on root endpoints 403;
a flood of wrong passwords is throttled (429) while tenant creation goes on."""

import asyncio
import base64
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import ROOT_EMAIL, token_for
from tests.faults.conftest import sized
from tests.helpers import PASSWORD, tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.faults

OTHER_KEY = "an-attackers-guess-at-the-secret-0123456789"
ROOT_ENDPOINTS = [
    ("GET", "/api/tenants"),
    ("POST", "/api/tenants"),
    ("GET", "/api/tenants/stats"),
    ("POST", "/api/tenants/bulk"),
    ("PUT", "/api/tenants/{id}"),
    ("POST", "/api/tenants/{id}/retry"),
    ("POST", "/api/tenants/{id}/cancel"),
    ("DELETE", "/api/tenants/{id}"),
    ("GET", "/api/tenants/{id}/runs"),
    ("GET", "/api/schema"),
    ("GET", "/api/migrations"),
    ("POST", "/api/migrations"),
    ("GET", "/api/ops/summary"),
]
# A tenant's admin may read their own tenant (and nobody else's).
OWN_TENANT_READS = [
    ("GET", "/api/tenants/{id}"),
    ("GET", "/api/tenants/{id}/progress"),
    ("GET", "/api/tenants/{id}/events"),
    ("GET", "/api/tenants/{id}/users"),
]


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def forgeries(root_token: str, settings: Settings) -> dict[str, str]:
    assert settings.jwt_secret
    key = settings.jwt_secret.get_secret_value()
    root = claims_of(root_token)
    past = datetime.now(UTC) - timedelta(minutes=5)
    forged = {
        "alg none": jwt.encode(root, "", algorithm="none"),
        "wrong key": jwt.encode(root, OTHER_KEY, algorithm="HS256"),
        "expired": jwt.encode(root | {"exp": past}, key, algorithm="HS256"),
        "garbage": "not.a.token",
    }
    for claim in ("exp", "sub", "tenant", "roles"):
        incomplete = {k: v for k, v in root.items() if k != claim}
        forged[f"no {claim}"] = jwt.encode(incomplete, key, algorithm="HS256")
    return forged


def tampered(token: str, **changes: Any) -> str:
    """The token with its claims changed and its original signature kept."""
    header, _, signature = token.split(".")
    claims = json.dumps(claims_of(token) | changes).encode()
    payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@pytest.fixture
async def tenant_admin(api: httpx.AsyncClient, api_url: str) -> AsyncIterator[tuple[str, str]]:
    """An Active tenant and its admin's token."""
    tenant_id = unique_tenant_id("jwt")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    yield tenant_id, await token_for(api_url, f"admin@{tenant_id}.example.com", PASSWORD, tenant_id)


async def test_forged_or_incomplete_tokens_are_refused_with_401(
    anonymous: httpx.AsyncClient,
    root_token: str,
    settings: Settings,
    tenant_admin: tuple[str, str],
) -> None:
    tokens = forgeries(root_token, settings)
    tokens["tenant admin made root"] = tampered(tenant_admin[1], tenant="root", roles=["root"])
    answers = {}
    for name, token in tokens.items():
        response = await anonymous.get("/api/tenants", headers={"Authorization": f"Bearer {token}"})
        answers[name] = (response.status_code, response.headers.get("WWW-Authenticate"))
    assert answers == dict.fromkeys(tokens, (401, "Bearer"))


async def test_a_tenant_admins_token_gets_403_on_every_root_endpoint(
    anonymous: httpx.AsyncClient, tenant_admin: tuple[str, str]
) -> None:
    tenant_id, token = tenant_admin
    headers = {"Authorization": f"Bearer {token}"}
    codes = {}
    for method, path in ROOT_ENDPOINTS:
        body = tenant_body(unique_tenant_id()) if method in ("POST", "PUT") else None
        response = await anonymous.request(
            method, path.format(id=tenant_id), headers=headers, json=body
        )
        codes[(method, path)] = response.status_code
    assert codes == dict.fromkeys(ROOT_ENDPOINTS, 403)
    others = {}
    for method, path in OWN_TENANT_READS:
        response = await anonymous.request(method, path.format(id="root"), headers=headers)
        others[(method, path)] = response.status_code
    assert others == dict.fromkeys(OWN_TENANT_READS, 403)


async def test_a_flood_of_wrong_passwords_is_throttled_while_creation_goes_on(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, fresh_counts: None
) -> None:
    guesses = sized(50, 200)

    flooding = asyncio.Event()

    async def guess(n: int) -> httpx.Response:
        form = {"username": ROOT_EMAIL, "password": f"guess-{n}", "tenant": "root"}
        response = await anonymous.post("/api/auth/token", data=form, timeout=120)
        flooding.set()
        return response

    async def create() -> tuple[float, float]:
        await flooding.wait()  # the flood is reaching the API: create in the middle of it
        tenant_id, started = unique_tenant_id("flood"), time.monotonic()
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        accepted = time.monotonic() - started
        await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE}, within=120)
        return accepted, time.monotonic() - started

    flood, (accepted, active) = await asyncio.gather(
        asyncio.gather(*(guess(n) for n in range(guesses))), create()
    )
    codes = Counter(r.status_code for r in flood)
    print(
        f"{guesses} wrong passwords: {dict(codes)}; during the flood a create was accepted "
        f"in {accepted * 1000:.0f} ms and Active after {active * 1000:.0f} ms"
    )
    assert set(codes) <= {401, 429, 503} and codes[429] > 0
    throttled = next(r for r in flood if r.status_code == 429)
    assert int(throttled.headers["Retry-After"]) > 0
