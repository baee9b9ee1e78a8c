"""Update, retry and delete: success paths, rejections, notifications to the initiator."""

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.database import create_oneshot_engine, with_database
from core.naming import quote_ident
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import (
    PASSWORD,
    drop_database,
    listen,
    occupy_database_name,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
)

pytestmark = pytest.mark.integration

SETTLED = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED, TenantStatus.DELETED}


async def active_tenant(api: httpx.AsyncClient, isolated: bool = False) -> dict[str, object]:
    tenant_id = unique_tenant_id()
    body = tenant_body(tenant_id, isolated=isolated)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    return await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})


async def test_update_goes_through_updating_back_to_active_and_notifies(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str, root_token: str
) -> None:
    tenant = await active_tenant(api)
    tenant_id = str(tenant["id"])
    tab = await listen(api_url, root_token)
    try:
        response = await api.put(
            f"/api/tenants/{tenant_id}", json={"name": "Renamed Ltd", "isActive": False}
        )
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "Updating"
        assert response.json()["workflowId"].startswith(f"update-tenant-{tenant_id}-")
        updated = await wait_for_status(api, tenant_id, SETTLED)
        notification = await tab.wait_for(tenant_id, "TenantUpdated")
    finally:
        await tab.close()

    assert (updated["status"], updated["name"], updated["isActive"]) == (
        "Active",
        "Renamed Ltd",
        False,
    )
    assert notification["tenantName"] == "Renamed Ltd"
    # An inactive tenant's users cannot sign in (403 with the reason, to the right password).
    login = await anonymous.post(
        "/api/auth/token",
        data={"username": tenant["adminEmail"], "password": PASSWORD, "tenant": tenant_id},
    )
    assert login.status_code == 403
    events = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    assert events["workflowType"] == "UpdateTenant"
    assert [s["status"] for s in events["steps"]] == ["completed", "completed"]


@pytest.mark.parametrize(
    ("method", "path", "detail"),
    [
        ("PUT", "/api/tenants/root", "Cannot edit root tenant"),
        ("DELETE", "/api/tenants/root", "Cannot delete root tenant"),
        ("POST", "/api/tenants/root/retry", "Cannot retry root tenant"),
        ("POST", "/api/tenants/root/cancel", "Cannot cancel root tenant"),
    ],
)
async def test_root_tenant_cannot_be_changed(
    api: httpx.AsyncClient, method: str, path: str, detail: str
) -> None:
    before = (await api.get("/api/tenants/root")).json()
    response = await api.request(method, path, json={"name": "Hijacked", "isActive": False})
    assert (response.status_code, response.json()) == (400, {"detail": detail})
    assert (await api.get("/api/tenants/root")).json() == before


async def test_update_of_a_tenant_that_is_not_active_is_409(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    await occupy_database_name(settings, tenant_id)
    body = tenant_body(tenant_id, isolated=True)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    failed = await wait_for_status(api, tenant_id, SETTLED)
    assert failed["status"] == "Failed"
    response = await api.put(f"/api/tenants/{tenant_id}", json={"name": "X", "isActive": True})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Tenant '{tenant_id}' is Failed: only a tenant that is Active can be edited"
    )
    assert (await api.get(f"/api/tenants/{tenant_id}")).json() == failed


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "", "isActive": True}, "name"), ({"name": "A", "isActive": "maybe"}, "isActive")],
)
async def test_invalid_update_is_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    tenant = await active_tenant(api)
    response = await api.put(f"/api/tenants/{tenant['id']}", json=body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]
    assert (await api.get(f"/api/tenants/{tenant['id']}")).json()["status"] == "Active"


async def test_retry_after_the_cause_is_fixed_reaches_active(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    tenant_id = unique_tenant_id()
    taken = await occupy_database_name(settings, tenant_id)
    body = tenant_body(tenant_id, isolated=True)
    assert (await api.post("/api/tenants", json=body)).status_code == 202
    assert (await wait_for_status(api, tenant_id, SETTLED))["status"] == "Failed"

    # The operator removes the stranger's database, then retries.
    await drop_database(settings, taken)
    response = await api.post(f"/api/tenants/{tenant_id}/retry")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "Pending"
    tenant = await wait_for_status(api, tenant_id, SETTLED)
    assert tenant["status"] == "Active"
    assert tenant["provisioningError"] is None


async def test_retry_of_an_active_tenant_is_409(api: httpx.AsyncClient) -> None:
    tenant = await active_tenant(api)
    response = await api.post(f"/api/tenants/{tenant['id']}/retry")
    assert response.status_code == 409


@pytest.mark.parametrize("isolated", [False, True], ids=["shared", "isolated"])
async def test_delete_drops_storage_and_users_and_notifies(
    api: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    api_url: str,
    root_token: str,
    settings: Settings,
    control_plane: AsyncEngine,
    isolated: bool,
) -> None:
    tenant = await active_tenant(api, isolated)
    tenant_id = str(tenant["id"])
    tab = await listen(api_url, root_token)
    try:
        response = await api.delete(f"/api/tenants/{tenant_id}")
        assert response.status_code == 202
        assert response.json() == {
            "id": tenant_id,
            "status": "Deleting",
            "workflowId": f"deprovision-tenant-{tenant_id}",
        }
        again = await api.delete(f"/api/tenants/{tenant_id}")
        assert again.status_code in (202, 409)  # under way, or already done
        deleted = await wait_for_status(api, tenant_id, SETTLED)
        notification = await tab.wait_for(tenant_id, "TenantDeleted")
    finally:
        await tab.close()

    assert deleted["status"] == "Deleted"
    assert notification["message"] == f"Tenant '{tenant['name']}' was deleted"
    assert settings.database_url
    if isolated:
        database, sql = "postgres", "SELECT count(*) FROM pg_database WHERE datname = :n"
    else:
        database, sql = (
            settings.tenants_database,
            ("SELECT count(*) FROM pg_namespace WHERE nspname = :n"),
        )
    check = create_oneshot_engine(with_database(settings.database_url, database))
    async with check.connect() as conn:
        name = tenant["database"] if isolated else tenant["schema"]
        assert await conn.scalar(text(sql), {"n": name}) == 0
    await check.dispose()
    async with control_plane.connect() as conn:
        users = await conn.scalar(
            text("SELECT count(*) FROM users WHERE tenant_id = :t"), {"t": tenant_id}
        )
    assert users == 0
    login = await anonymous.post(
        "/api/auth/token",
        data={"username": tenant["adminEmail"], "password": PASSWORD, "tenant": tenant_id},
    )
    assert login.status_code == 401
    final = await api.delete(f"/api/tenants/{tenant_id}")
    assert final.status_code == 409


async def test_database_server_outage_fixed_by_an_operator_completes_without_api_calls(
    api: httpx.AsyncClient, settings: Settings, control_plane: AsyncEngine
) -> None:
    """The shared tenants database goes away (it refuses connections, its sessions ended, as in
    a restore); the step retries (visibly); an operator lets connections in again and the next
    retry completes it."""
    tenants_db = quote_ident(settings.tenants_database)
    async with control_plane.connect() as conn:
        await conn.execute(text(f"ALTER DATABASE {tenants_db} WITH ALLOW_CONNECTIONS false"))
        await conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
            {"d": settings.tenants_database},
        )
        await conn.commit()
    tenant_id = unique_tenant_id()
    try:
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        async with asyncio.timeout(30):
            while True:
                progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
                step = progress["steps"][1]
                if step["status"] == "retrying":
                    break
                await asyncio.sleep(0.1)
        assert step["lastError"] == (
            "PostgreSQL refused to create the tenant's database or schema because the database "
            "is not accepting connections (ALLOW_CONNECTIONS is off)"
        )
        assert "not currently accepting connections" in step["lastErrorDetail"]
    finally:
        async with control_plane.connect() as conn:
            await conn.execute(text(f"ALTER DATABASE {tenants_db} WITH ALLOW_CONNECTIONS true"))
            await conn.commit()
    tenant = await wait_for_status(api, tenant_id, SETTLED, within=60)
    assert tenant["status"] == "Active"
