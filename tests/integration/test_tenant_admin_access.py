"""A tenant admin reads their own tenant (row, progress, live events, users) and nothing else;
a sign-up follows its own provisioning with the token its answer carried, and only that one."""

import asyncio
import json

import httpx
import pytest
from httpx_sse import aconnect_sse

from core.status import TenantStatus
from tests.conftest import token_for
from tests.helpers import PASSWORD, tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.integration

READS = ["", "/progress", "/users"]


async def active_tenant_with_admin(api: httpx.AsyncClient, api_url: str) -> tuple[str, str]:
    """A new Active tenant and a token of its admin."""
    tenant_id = unique_tenant_id("adm")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    token = await token_for(api_url, f"admin@{tenant_id}.example.com", PASSWORD, tenant_id)
    return tenant_id, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def first_progress(client: httpx.AsyncClient, url: str) -> dict[str, object]:
    async with asyncio.timeout(60), aconnect_sse(client, "GET", url) as source:
        assert source.response.status_code == 200
        async for event in source.aiter_sse():
            if event.event == "progress":
                snapshot: dict[str, object] = json.loads(event.data)
                return snapshot
    raise AssertionError("the stream ended without a progress event")


async def test_a_tenant_admin_reads_their_own_tenant_and_no_other(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str
) -> None:
    own, own_token = await active_tenant_with_admin(api, api_url)
    other, _ = await active_tenant_with_admin(api, api_url)
    headers = bearer(own_token)

    for suffix in READS:
        mine = await anonymous.get(f"/api/tenants/{own}{suffix}", headers=headers)
        assert mine.status_code == 200, (suffix, mine.text)
        # Another tenant, and one that does not exist, answer alike: no probing for tenants.
        for target in (other, unique_tenant_id("nobody")):
            theirs = await anonymous.get(f"/api/tenants/{target}{suffix}", headers=headers)
            assert theirs.status_code == 403, (suffix, theirs.text)
            assert theirs.json() == {
                "detail": "This needs the root role or the admin role of this tenant"
            }
        assert (await api.get(f"/api/tenants/{own}{suffix}")).status_code == 200

    snapshot = await first_progress(
        anonymous, f"/api/tenants/{own}/events?access_token={own_token}"
    )
    assert snapshot["tenantId"] == own
    refused = await anonymous.get(f"/api/tenants/{other}/events?access_token={own_token}")
    assert refused.status_code == 403

    # Everything else stays the operators'.
    for method, path in [
        ("GET", "/api/tenants"),
        ("GET", "/api/tenants/stats"),
        ("GET", f"/api/tenants/{own}/runs"),
        ("PUT", f"/api/tenants/{own}"),
        ("DELETE", f"/api/tenants/{own}"),
        ("POST", f"/api/tenants/{own}/retry"),
    ]:
        body = {"name": "Mine now", "isActive": True} if method == "PUT" else None
        answer = await anonymous.request(method, path, headers=headers, json=body)
        assert answer.status_code == 403, (method, path, answer.text)


async def test_the_users_of_a_tenant_are_listed_without_password_hashes(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str
) -> None:
    tenant_id, token = await active_tenant_with_admin(api, api_url)
    for client, headers in ((anonymous, bearer(token)), (api, {})):
        response = await client.get(f"/api/tenants/{tenant_id}/users", headers=headers)
        assert response.status_code == 200
        (user,) = response.json()
        assert set(user) == {"email", "roles", "createdOn"}
        assert (user["email"], user["roles"]) == (f"admin@{tenant_id}.example.com", ["admin"])
    assert (await api.get(f"/api/tenants/{unique_tenant_id()}/users")).status_code == 404


async def test_a_sign_up_follows_its_own_provisioning_and_no_other(
    anonymous: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    tenant_id = unique_tenant_id("su")
    body = {
        "id": tenant_id,
        "name": "Pied Piper",
        "adminEmail": f"founder@{tenant_id}.example.com",
        "password": PASSWORD,
    }
    accepted = await anonymous.post("/api/signup", json=body)
    assert accepted.status_code == 202, accepted.text
    answer = accepted.json()
    assert answer["name"] == "Pied Piper"
    token = answer["progressToken"]

    snapshot = await first_progress(anonymous, f"/api/signup/{tenant_id}/events?token={token}")
    assert snapshot["tenantId"] == tenant_id

    other = unique_tenant_id("su")
    assert (await api.post("/api/tenants", json=tenant_body(other))).status_code == 202
    for target in (other, unique_tenant_id("nobody")):
        refused = await anonymous.get(f"/api/signup/{target}/events?token={token}")
        assert refused.status_code == 403
    # The progress token is no access token, and an access token is no progress token.
    as_bearer = await anonymous.get(f"/api/tenants/{tenant_id}", headers=bearer(token))
    assert as_bearer.status_code == 401
    root_token = api.headers["Authorization"].removeprefix("Bearer ")
    forged = await anonymous.get(f"/api/signup/{tenant_id}/events?token={root_token}")
    assert forged.status_code == 401
    assert (await anonymous.get(f"/api/signup/{tenant_id}/events")).status_code == 422
