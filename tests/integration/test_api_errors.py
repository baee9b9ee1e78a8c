"""Bad input, duplicates and auth: clear 4xx errors, and nothing written or started."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.main import create_app
from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import token_for
from tests.helpers import (
    PASSWORD,
    listed_runs,
    serve_in_thread,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
)

pytestmark = pytest.mark.integration


async def assert_nothing_started(api: httpx.AsyncClient, client: Client, tenant_id: str) -> None:
    assert (await api.get(f"/api/tenants/{tenant_id}")).status_code == 404
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(f"provision-tenant-{tenant_id}").describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "", "Enter an ID"),
        ("id", "Acme", "lowercase slug"),
        ("id", "ab", "lowercase slug"),
        ("id", "1acme", "lowercase slug"),
        ("id", "acme-", "lowercase slug"),
        ("id", "ac--me", "lowercase slug"),
        ("id", "acme_corp", "lowercase slug"),
        ("id", "a" * 64, "lowercase slug"),
        ("id", "acme'; drop", "lowercase slug"),
        ("id", "root", "reserved"),
        ("id", "select", "reserved"),
        ("id", "template1", "reserved"),
        ("id", "pg-catalog", "reserved"),
        ("name", "   ", "Enter a name"),
        ("adminEmail", "not-an-email", "valid email"),
        ("adminEmail", "admin@", "valid email"),
        ("password", "short1", "8 to 128 characters"),
        ("password", "lettersonly", "at least one letter and one digit"),
        ("password", "1234567890", "at least one letter and one digit"),
        ("hasIsolatedDatabase", "perhaps", "valid boolean"),
    ],
)
async def test_invalid_field_is_named_in_422_and_nothing_is_started(
    api: httpx.AsyncClient, temporal_client: Client, field: str, value: str, message: str
) -> None:
    tenant_id = unique_tenant_id()
    body = tenant_body(tenant_id) | {field: value}
    response = await api.post("/api/tenants", json=body)

    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", field]]
    assert message in errors[0]["msg"]
    if field == "password":
        assert value not in response.text, "a rejected password must not be echoed"
    if field != "id":
        await assert_nothing_started(api, temporal_client, tenant_id)


async def test_missing_and_unknown_fields_are_each_named(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/tenants", json={"id": unique_tenant_id(), "colour": "red"})
    assert response.status_code == 422
    locs = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert locs == {
        ("body", "name"),
        ("body", "adminEmail"),
        ("body", "password"),
        ("body", "colour"),
    }


async def test_duplicate_id_is_409_and_changes_nothing(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    before = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})

    again = await api.post("/api/tenants", json=tenant_body(tenant_id, name="Impostor"))
    assert again.status_code == 409
    assert again.json() == {"detail": f"Tenant '{tenant_id}' already exists"}
    assert (await api.get(f"/api/tenants/{tenant_id}")).json() == before
    runs = await listed_runs(temporal_client, f"TenantId = '{tenant_id}'", 1)
    await asyncio.sleep(0.5)  # a second run, had one started, would be listed by now
    runs = await listed_runs(temporal_client, f"TenantId = '{tenant_id}'", 1)
    assert runs == [f"provision-tenant-{tenant_id}"]


async def test_concurrent_duplicates_start_exactly_one_workflow(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    tenant_id = unique_tenant_id()
    responses = await asyncio.gather(
        *(
            api.post("/api/tenants", json=tenant_body(tenant_id, name=f"Racer {n}"))
            for n in range(8)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [409] * 7
    winner = next(r for r in responses if r.status_code == 202)
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    assert tenant["workflowId"] == winner.json()["workflowId"]
    runs = await listed_runs(temporal_client, f"TenantId = '{tenant_id}'", 1)
    await asyncio.sleep(0.5)  # a second run, had one started, would be listed by now
    runs = await listed_runs(temporal_client, f"TenantId = '{tenant_id}'", 1)
    assert runs == [f"provision-tenant-{tenant_id}"]


async def test_failed_workflow_start_leaves_no_tenant_behind(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client, root_token: str
) -> None:
    broken = settings.model_copy(update={"temporal_namespace": "no-such-namespace"})
    tenant_id = unique_tenant_id()
    with serve_in_thread(create_app(broken)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post(
                "/api/tenants",
                json=tenant_body(tenant_id),
                headers={"Authorization": f"Bearer {root_token}"},
            )
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Could not start provisioning")
    await assert_nothing_started(api, temporal_client, tenant_id)


def forged(settings: Settings, secret: str | None = None, **overrides: Any) -> str:
    assert settings.jwt_secret is not None
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "00000000-0000-0000-0000-000000000000",
        "tenant": "root",
        "roles": ["root"],
        "iat": now,
        "exp": now + timedelta(minutes=5),
    } | overrides
    key = secret or settings.jwt_secret.get_secret_value()
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "wrong-secret", "expired", "no-expiry", "alg-none"]
)
async def test_bad_token_is_401_with_bearer_challenge(
    anonymous: httpx.AsyncClient, settings: Settings, case: str
) -> None:
    tokens = {
        "missing": None,
        "garbage": "not-a-jwt",
        "wrong-secret": forged(settings, secret="another-secret-0123456789abcdef-0123456789"),
        "expired": forged(settings, exp=datetime.now(UTC) - timedelta(seconds=1)),
        "no-expiry": forged(settings, exp=None),
        "alg-none": jwt.encode({"sub": "x", "tenant": "root", "roles": ["root"]}, "", "none"),
    }
    headers = {"Authorization": f"Bearer {tokens[case]}"} if tokens[case] else {}
    for method, path in [("GET", "/api/tenants"), ("POST", "/api/tenants")]:
        response = await anonymous.request(
            method, path, headers=headers, json=tenant_body(unique_tenant_id())
        )
        assert response.status_code == 401, (case, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_tenant_admin_token_is_403_on_root_routes(
    api: httpx.AsyncClient, api_url: str
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    token = await token_for(api_url, tenant["adminEmail"], PASSWORD, tenant=tenant_id)
    headers = {"Authorization": f"Bearer {token}"}
    other = unique_tenant_id()
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as client:
        assert (await client.get("/api/tenants")).status_code == 403
        # Reading their own tenant is theirs; acting on it, or on any other, is root's.
        assert (await client.get(f"/api/tenants/{tenant_id}")).status_code == 200
        assert (await client.get("/api/tenants/root")).status_code == 403
        assert (await client.delete(f"/api/tenants/{tenant_id}")).status_code == 403
        created = await client.post("/api/tenants", json=tenant_body(other))
    assert created.status_code == 403
    assert created.json() == {"detail": "This needs the root role"}
    assert (await api.get(f"/api/tenants/{other}")).status_code == 404


@pytest.mark.parametrize(
    ("username", "password", "tenant"),
    [
        ("root@example.com", "wrong-password1", "root"),
        ("nobody@example.com", "rootpass123", "root"),
        ("root@example.com", "rootpass123", "no-such-tenant"),
    ],
)
async def test_bad_credentials_are_401(
    anonymous: httpx.AsyncClient, username: str, password: str, tenant: str
) -> None:
    response = await anonymous.post(
        "/api/auth/token", data={"username": username, "password": password, "tenant": tenant}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect e-mail, password or tenant"}


async def test_unknown_tenant_is_404(api: httpx.AsyncClient) -> None:
    for path in ["/api/tenants/nope-nope", "/api/tenants/nope-nope/progress"]:
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Tenant 'nope-nope' not found"}


async def test_api_routes_win_over_the_browser_app(anonymous: httpx.AsyncClient) -> None:
    """The SPA is mounted at `/`: an API route registered after it would answer 404."""
    for path in ["/api/notifications", "/api/tenants", "/api/tenants/acme/events"]:
        assert (await anonymous.get(path)).status_code == 401, path
    assert (await anonymous.post("/api/signup", json={})).status_code == 422
    home = await anonymous.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")


async def test_openapi_docs_need_no_internet(anonymous: httpx.AsyncClient) -> None:
    """/docs references only assets the API serves itself (no CDN)."""
    page = await anonymous.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    for asset in ["/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"]:
        assert asset in page.text
        assert (await anonymous.get(asset)).status_code == 200
    assert (await anonymous.get("/docs/oauth2-redirect")).status_code == 200
