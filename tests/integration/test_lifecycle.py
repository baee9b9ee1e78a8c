"""The database refuses what the state machine forbids: `lifecycle.record` moves a row only
along a legal transition, whoever calls it."""

import asyncio
import itertools

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core import lifecycle
from core.models import Tenant
from core.status import TenantStatus as S
from tests.helpers import tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.integration

ILLEGAL = [(a, b) for a, b in itertools.product(S, S) if not lifecycle.can_move(a, b)]


async def test_every_illegal_transition_is_refused_and_leaves_the_row(
    control_plane: AsyncEngine,
) -> None:
    tenant_id = unique_tenant_id("sm")
    async with control_plane.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tenants (id, name, status, is_active, has_isolated_database) "
                "VALUES (:id, 'State machine', 'Pending', true, false)"
            ),
            {"id": tenant_id},
        )
    assert len(ILLEGAL) > 30
    for source, target in ILLEGAL:
        async with control_plane.begin() as conn:
            await conn.execute(
                text("UPDATE tenants SET status = :s WHERE id = :id"),
                {"s": source, "id": tenant_id},
            )
        with pytest.raises(lifecycle.IllegalTransition):
            async with control_plane.begin() as conn:
                await lifecycle.record(conn, tenant_id, target)
        async with control_plane.connect() as conn:
            status = await conn.scalar(select(Tenant.status).where(Tenant.id == tenant_id))
        assert status == source, f"{source} -> {target} moved the row"


async def test_a_legal_transition_moves_the_row_and_a_missing_tenant_is_reported(
    control_plane: AsyncEngine,
) -> None:
    tenant_id = unique_tenant_id("sm")
    async with control_plane.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tenants (id, name, status, is_active, has_isolated_database) "
                "VALUES (:id, 'State machine', 'Provisioning', true, false)"
            ),
            {"id": tenant_id},
        )
        await lifecycle.record(conn, tenant_id, S.FAILED, error="boom")
        row = (
            await conn.execute(
                select(Tenant.status, Tenant.provisioning_error).where(Tenant.id == tenant_id)
            )
        ).one()
    assert tuple(row) == ("Failed", "boom")
    with pytest.raises(lifecycle.TenantMissing):
        async with control_plane.begin() as conn:
            await lifecycle.record(conn, "no-such-tenant", S.ACTIVE)


async def test_every_operation_on_a_deleted_tenant_gives_the_same_answer(
    api: httpx.AsyncClient,
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {S.ACTIVE})
    assert (await api.delete(f"/api/tenants/{tenant_id}")).status_code == 202
    await wait_for_status(api, tenant_id, {S.DELETED})

    answers = {
        "retried": await api.post(f"/api/tenants/{tenant_id}/retry"),
        "deleted": await api.delete(f"/api/tenants/{tenant_id}"),
        "cancelled": await api.post(f"/api/tenants/{tenant_id}/cancel"),
        "edited": await api.put(f"/api/tenants/{tenant_id}", json={"name": "X", "isActive": True}),
    }
    for done, response in answers.items():
        assert response.status_code == 409, response.text
        assert response.json()["detail"] == (
            f"Tenant '{tenant_id}' is Deleted: a deleted tenant cannot be {done}"
        )


async def test_only_the_run_the_row_points_at_may_write_it(control_plane: AsyncEngine) -> None:
    tenant_id = unique_tenant_id("sm")
    async with control_plane.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO tenants (id, name, status, is_active, has_isolated_database, "
                "workflow_id) VALUES (:id, 'Owner', 'Updating', true, false, :w)"
            ),
            {"id": tenant_id, "w": f"update-tenant-{tenant_id}-00000002"},
        )
    # A run of an earlier operation (say, a provisioning an operator reset) finds the row taken.
    with pytest.raises(lifecycle.NotTheOwner):
        async with control_plane.begin() as conn:
            await lifecycle.record(
                conn, tenant_id, S.FAILED, workflow_id=f"provision-tenant-{tenant_id}"
            )
    async with control_plane.begin() as conn:
        await lifecycle.record(
            conn, tenant_id, S.ACTIVE, workflow_id=f"update-tenant-{tenant_id}-00000002"
        )
        status = await conn.scalar(select(Tenant.status).where(Tenant.id == tenant_id))
    assert status == "Active"


async def test_a_deleted_tenants_id_is_provisioned_again_and_its_history_kept(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    tenant_id = unique_tenant_id("again")
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    await wait_for_status(api, tenant_id, {S.ACTIVE})
    assert (await api.delete(f"/api/tenants/{tenant_id}")).status_code == 202
    await wait_for_status(api, tenant_id, {S.DELETED})

    body = tenant_body(tenant_id, name="Second life", isolated=True, password="another-pass-42")
    response = await api.post("/api/tenants", json=body)
    assert response.status_code == 202, response.text
    tenant = await wait_for_status(api, tenant_id, {S.ACTIVE})
    assert (tenant["name"], tenant["hasIsolatedDatabase"]) == ("Second life", True)
    assert tenant["provisioningError"] is None
    # Taken again: a second create is refused as before.
    assert (await api.post("/api/tenants", json=body)).status_code == 409

    form = {"username": body["adminEmail"], "password": "another-pass-42", "tenant": tenant_id}
    assert (await anonymous.post("/api/auth/token", data=form)).status_code == 200
    async with asyncio.timeout(30):
        while True:
            runs = (await api.get(f"/api/tenants/{tenant_id}/runs")).json()
            if len(runs) == 3 and all(r["status"] == "Completed" for r in runs):
                break
            await asyncio.sleep(0.1)
    assert [r["workflowType"] for r in runs] == [
        "ProvisionTenant",
        "DeprovisionTenant",
        "ProvisionTenant",
    ]
