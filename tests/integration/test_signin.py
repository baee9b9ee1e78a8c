"""Who may sign in and whose token still counts: the user and its tenant's row decide, at once;
the tenant's operation status (Updating, a failed update) does not."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import Tenant, User
from core.passwords import hash_password
from core.status import TenantStatus
from tests.conftest import token_for
from tests.helpers import PASSWORD, tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.integration


async def active_tenant(api: httpx.AsyncClient) -> dict[str, str]:
    tenant_id = unique_tenant_id("signin")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    return {"username": tenant["adminEmail"], "password": PASSWORD, "tenant": tenant_id}


async def sign_in(client: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    return await client.post("/api/auth/token", data=form)


async def stream_status(base_url: str, token: str) -> int:
    """Open /api/notifications the way EventSource does (token in the URL); the status."""
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
        client.stream("GET", "/api/notifications", params={"access_token": token}) as response,
    ):
        return response.status_code


@pytest.mark.parametrize(
    ("status", "workflow"),
    [(TenantStatus.UPDATING, "update-{id}-x"), (TenantStatus.FAILED, "update-{id}-x")],
)
async def test_users_sign_in_while_their_tenant_is_updating_or_after_a_failed_update(
    api: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    control_plane: AsyncEngine,
    status: TenantStatus,
    workflow: str,
) -> None:
    form = await active_tenant(api)
    tenant_id = form["tenant"]
    async with control_plane.begin() as conn:
        await conn.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(status=status, workflow_id=workflow.format(id=tenant_id))
        )
    response = await sign_in(anonymous, form)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    # The token works too: a tenant admin is authenticated (403 on root routes, not 401).
    headers = {"Authorization": f"Bearer {token}"}
    assert (await anonymous.get("/api/tenants", headers=headers)).status_code == 403


async def test_a_deactivated_tenant_refuses_sign_in_and_its_tokens_at_once(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str
) -> None:
    form = await active_tenant(api)
    token = await token_for(api_url, form["username"], PASSWORD, tenant=form["tenant"])
    assert await stream_status(api_url, token) == 200

    change = {"name": "Switched off", "isActive": False}
    assert (await api.put(f"/api/tenants/{form['tenant']}", json=change)).status_code == 202
    tenant = await wait_for_status(api, form["tenant"], {TenantStatus.ACTIVE})
    assert tenant["isActive"] is False

    refused = await sign_in(anonymous, form)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": f"Tenant '{form['tenant']}' is deactivated: ask an operator to activate it"
    }
    headers = {"Authorization": f"Bearer {token}"}
    revoked = await anonymous.get("/api/tenants", headers=headers)
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"] == "Bearer"
    assert await stream_status(api_url, token) == 401
    # A wrong password learns nothing about the tenant.
    wrong = await sign_in(anonymous, form | {"password": "wrong-pass1"})
    assert wrong.json() == {"detail": "Incorrect e-mail, password or tenant"}


async def test_deleting_a_tenant_ends_its_tokens_at_once_and_its_sign_ins(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str
) -> None:
    form = await active_tenant(api)
    token = await token_for(api_url, form["username"], PASSWORD, tenant=form["tenant"])
    assert await stream_status(api_url, token) == 200

    assert (await api.delete(f"/api/tenants/{form['tenant']}")).status_code == 202
    assert await stream_status(api_url, token) == 401  # Deleting already
    await wait_for_status(api, form["tenant"], {TenantStatus.DELETED})
    assert await stream_status(api_url, token) == 401
    refused = await sign_in(anonymous, form)
    assert refused.status_code == 401


@pytest.fixture
async def second_root(control_plane: AsyncEngine) -> AsyncIterator[dict[str, str]]:
    """Another user with the root role, in the root tenant (created as core.setup would)."""
    user_id = uuid.uuid4()
    email = f"ops-{user_id.hex[:8]}@example.com"
    async with control_plane.begin() as conn:
        await conn.execute(
            insert(User).values(
                id=user_id,
                tenant_id="root",
                email=email,
                password_hash=hash_password(PASSWORD),
                roles=["root"],
            )
        )
    yield {"id": str(user_id), "email": email}
    async with control_plane.begin() as conn:
        await conn.execute(delete(User).where(User.id == user_id))


async def test_a_deleted_users_token_is_refused_on_the_next_request(
    anonymous: httpx.AsyncClient,
    api_url: str,
    control_plane: AsyncEngine,
    second_root: dict[str, str],
) -> None:
    token = await token_for(api_url, second_root["email"], PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await anonymous.get("/api/tenants", headers=headers)).status_code == 200
    assert await stream_status(api_url, token) == 200

    async with control_plane.begin() as conn:
        await conn.execute(delete(User).where(User.id == uuid.UUID(second_root["id"])))

    revoked = await anonymous.get("/api/tenants", headers=headers)
    assert revoked.status_code == 401
    assert revoked.json() == {
        "detail": "Token revoked: the user or tenant is deleted or deactivated"
    }
    assert await stream_status(api_url, token) == 401
