"""The admin password is sealed in the request and hashed on the worker (issue 9, hashing).

`POST /api/tenants` and `POST /api/signup` do no Argon2 work: they seal the password onto the
tenant row (AES-GCM, PASSWORD_SEALING_KEY), and create_admin_user unseals it, hashes it on the
worker's hashing threads and clears it from the row in the transaction that creates the user.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pwdlib import PasswordHash
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import errors
from activities.control_plane import ControlPlaneActivities
from activities.models import TenantRef
from activities.progress import AttemptReporter
from api.main import create_app
from core.models import Tenant, User
from core.passwords import hash_password, hashes_made, verify_password
from core.sealing import decode_key, new_key, seal, unseal
from core.settings import Settings
from core.status import ROOT_TENANT_ID, TenantStatus
from tests.conftest import token_for
from tests.helpers import (
    PASSWORD,
    serve_in_thread,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)
from workflows import policies
from workflows.worker import build_worker

pytestmark = pytest.mark.integration

S = TenantStatus
FINAL = {S.ACTIVE, S.FAILED, S.CANCELLED}
NEW_PARAMETERS = "$argon2id$v=19$m=19456,t=2,p=1$"


@contextmanager
def api_without_worker(settings: Settings) -> Iterator[tuple[Settings, str]]:
    """An API whose workflows go to a task queue no worker polls (until a test starts one):
    whatever Argon2 work happens while it answers is the request's own."""
    own = settings.model_copy(update={"temporal_task_queue": f"sealed-{uuid.uuid4().hex[:8]}"})
    with serve_in_thread(create_app(own)) as url:
        yield own, url


async def stored_password(engine: AsyncEngine, tenant_id: str) -> tuple[bytes | None, str | None]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(Tenant.admin_password_sealed, Tenant.admin_password_hash).where(
                    Tenant.id == tenant_id
                )
            )
        ).one()
    return row.admin_password_sealed, row.admin_password_hash


async def admin_hashes(engine: AsyncEngine, tenant_id: str) -> list[str]:
    async with engine.connect() as conn:
        return list(
            await conn.scalars(select(User.password_hash).where(User.tenant_id == tenant_id))
        )


async def create(url: str, token: str | None, route: str, tenant_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        if route == "signup":
            body: dict[str, Any] = tenant_body(tenant_id)
            del body["hasIsolatedDatabase"]
            return await client.post("/api/signup", json=body)
        return await client.post("/api/tenants", json=tenant_body(tenant_id))


@pytest.mark.parametrize("route", ["tenants", "signup"])
async def test_a_create_seals_the_password_and_the_worker_hashes_and_clears_it(
    api: httpx.AsyncClient,
    api_url: str,
    root_token: str,
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
    route: str,
) -> None:
    tenant_id = unique_tenant_id()
    key = settings.sealing_key()
    assert key is not None
    with api_without_worker(settings) as (own, url):
        before = hashes_made()
        response = await create(url, None if route == "signup" else root_token, route, tenant_id)
        assert response.status_code == 202, response.text
        assert hashes_made() == before, "Argon2 ran in the request"

        sealed, password_hash = await stored_password(control_plane, tenant_id)
        assert password_hash is None
        assert sealed is not None and PASSWORD.encode() not in sealed
        assert unseal(key, tenant_id, sealed) == PASSWORD
        assert (await api.get(f"/api/tenants/{tenant_id}")).json()["status"] == "Pending"

    # The API is gone: what it accepted is on the row and in Temporal, and a worker finishes it.
    async with build_worker(temporal_client, control_plane, own):
        tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Active", tenant["provisioningError"]
    assert await stored_password(control_plane, tenant_id) == (None, None)
    (admin_hash,) = await admin_hashes(control_plane, tenant_id)
    assert admin_hash.startswith(NEW_PARAMETERS)
    admin = tenant_body(tenant_id)["adminEmail"]
    assert await token_for(api_url, admin, PASSWORD, tenant=tenant_id)


async def test_without_a_sealing_key_the_api_hashes_as_before(
    api: httpx.AsyncClient,
    api_url: str,
    root_token: str,
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
) -> None:
    unkeyed = settings.model_copy(update={"password_sealing_key": None})
    tenant_id = unique_tenant_id()
    with api_without_worker(unkeyed) as (own, url):
        before = hashes_made()
        response = await create(url, root_token, "tenants", tenant_id)
        assert response.status_code == 202, response.text
        assert hashes_made() == before + 1
        sealed, password_hash = await stored_password(control_plane, tenant_id)
        assert sealed is None
        assert password_hash is not None and password_hash.startswith(NEW_PARAMETERS)

    async with build_worker(temporal_client, control_plane, own):
        tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Active", tenant["provisioningError"]
    assert await stored_password(control_plane, tenant_id) == (None, None)
    assert await admin_hashes(control_plane, tenant_id) == [password_hash]
    admin = tenant_body(tenant_id)["adminEmail"]
    assert await token_for(api_url, admin, PASSWORD, tenant=tenant_id)


async def test_a_cancelled_tenant_keeps_its_admin_password_for_a_retry(
    api: httpx.AsyncClient, api_url: str, settings: Settings, control_plane: AsyncEngine
) -> None:
    """Compensation removes the admin user that create_admin_user made (and cleared the row
    for): the retry must still be able to create it."""
    tenant_id = unique_tenant_id()
    async with step_held(settings, tenant_id, "create_tenant_database"):
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        await wait_for_step(api, tenant_id, "create_admin_user", "completed")
        assert (await api.post(f"/api/tenants/{tenant_id}/cancel")).status_code == 202
    tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Cancelled", tenant["provisioningError"]
    assert await admin_hashes(control_plane, tenant_id) == []

    assert (await api.post(f"/api/tenants/{tenant_id}/retry")).status_code == 202
    tenant = await wait_for_status(api, tenant_id, FINAL)
    assert tenant["status"] == "Active", tenant["provisioningError"]
    assert await stored_password(control_plane, tenant_id) == (None, None)
    admin = tenant_body(tenant_id)["adminEmail"]
    assert await token_for(api_url, admin, PASSWORD, tenant=tenant_id)


async def test_a_user_with_a_hash_of_the_old_parameters_still_signs_in(
    api_url: str, control_plane: AsyncEngine
) -> None:
    old_hash = PasswordHash.recommended().hash(PASSWORD)  # m=64 MiB, t=3, p=4: before the change
    assert "$m=65536,t=3,p=4$" in old_hash
    assert verify_password(PASSWORD, old_hash)
    assert not verify_password("wrong-pass-1", old_hash)
    email = f"old-{uuid.uuid4().hex[:8]}@example.com"
    async with control_plane.begin() as conn:
        await conn.execute(
            insert(User).values(
                id=uuid.uuid4(),
                tenant_id=ROOT_TENANT_ID,
                email=email,
                password_hash=old_hash,
                roles=["root"],
            )
        )
    assert await token_for(api_url, email, PASSWORD)


async def test_the_root_user_is_hashed_with_the_new_parameters(
    settings: Settings, control_plane: AsyncEngine
) -> None:
    async with control_plane.connect() as conn:
        root_hash = await conn.scalar(
            select(User.password_hash).where(
                User.tenant_id == ROOT_TENANT_ID, User.email == settings.root_email
            )
        )
    assert root_hash is not None and root_hash.startswith(NEW_PARAMETERS)


# create_admin_user on its own (ActivityEnvironment, the real PostgreSQL).


async def pending_tenant(engine: AsyncEngine, settings: Settings, **password: Any) -> str:
    tenant_id = unique_tenant_id("sealed")
    async with engine.begin() as conn:
        await conn.execute(
            insert(Tenant).values(
                id=tenant_id,
                name="Sealed",
                status=S.PENDING,
                is_active=True,
                has_isolated_database=False,
                database_name=settings.tenants_database,
                schema_name=tenant_id.replace("-", "_"),
                admin_email=f"admin@{tenant_id}.example.com",
                **password,
            )
        )
    return tenant_id


@pytest.fixture
async def control(
    control_plane: AsyncEngine, settings: Settings
) -> AsyncIterator[ControlPlaneActivities]:
    activities = ControlPlaneActivities(
        control_plane, AttemptReporter(None), settings.sealing_key()
    )
    try:
        yield activities
    finally:
        await activities.close()


async def sealed_tenant(engine: AsyncEngine, settings: Settings) -> str:
    key = settings.sealing_key()
    assert key is not None
    tenant_id = await pending_tenant(engine, settings)
    async with engine.begin() as conn:
        await conn.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(admin_password_sealed=seal(key, tenant_id, PASSWORD))
        )
    return tenant_id


async def test_create_admin_user_twice_makes_one_user_and_leaves_the_row_cleared(
    control: ControlPlaneActivities, settings: Settings, control_plane: AsyncEngine
) -> None:
    env, ref = ActivityEnvironment(), TenantRef(await sealed_tenant(control_plane, settings))
    first = await env.run(control.create_admin_user, ref)
    second = await env.run(control.create_admin_user, ref)

    assert (first.created, second.created) == (True, False)
    assert second.user_id == first.user_id
    assert await stored_password(control_plane, ref.tenant_id) == (None, None)
    (admin_hash,) = await admin_hashes(control_plane, ref.tenant_id)
    assert admin_hash.startswith(NEW_PARAMETERS) and verify_password(PASSWORD, admin_hash)


async def test_create_admin_user_twice_at_once_makes_one_user(
    control: ControlPlaneActivities, settings: Settings, control_plane: AsyncEngine
) -> None:
    env, ref = ActivityEnvironment(), TenantRef(await sealed_tenant(control_plane, settings))
    both = await asyncio.gather(
        env.run(control.create_admin_user, ref), env.run(control.create_admin_user, ref)
    )
    assert sorted(u.created for u in both) == [False, True]
    assert len({u.user_id for u in both}) == 1
    assert await stored_password(control_plane, ref.tenant_id) == (None, None)
    async with control_plane.connect() as conn:
        users = await conn.scalar(
            select(func.count()).select_from(User).where(User.tenant_id == ref.tenant_id)
        )
    assert users == 1


async def test_a_stored_hash_is_used_as_it_is_and_cleared(
    control: ControlPlaneActivities, settings: Settings, control_plane: AsyncEngine
) -> None:
    """Rows the API wrote without a sealing key (or before this change) carry a hash."""
    password_hash = hash_password(PASSWORD)
    tenant_id = await pending_tenant(control_plane, settings, admin_password_hash=password_hash)
    before = hashes_made()
    await ActivityEnvironment().run(control.create_admin_user, TenantRef(tenant_id))
    assert hashes_made() == before
    assert await admin_hashes(control_plane, tenant_id) == [password_hash]
    assert await stored_password(control_plane, tenant_id) == (None, None)


@pytest.mark.parametrize("worker_key", ["another key", "no key"])
async def test_a_key_that_cannot_unseal_fails_for_good_and_keeps_the_password(
    settings: Settings, control_plane: AsyncEngine, worker_key: str
) -> None:
    tenant_id = await sealed_tenant(control_plane, settings)
    other = decode_key(new_key())
    control = ControlPlaneActivities(
        control_plane, AttemptReporter(None), other if worker_key == "another key" else None
    )
    try:
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(control.create_admin_user, TenantRef(tenant_id))
    finally:
        await control.close()

    assert raised.value.type == errors.CANNOT_UNSEAL_PASSWORD
    assert raised.value.non_retryable
    assert "PASSWORD_SEALING_KEY" in raised.value.message
    retry_policy = policies.CREATE_ADMIN_USER.retry_policy
    assert errors.CANNOT_UNSEAL_PASSWORD in (retry_policy.non_retryable_error_types or [])
    # Nothing lost: with the right key, a retry of the tenant still creates its admin.
    sealed, _ = await stored_password(control_plane, tenant_id)
    assert sealed is not None
    assert await admin_hashes(control_plane, tenant_id) == []


async def test_a_password_sealed_for_another_tenant_does_not_unseal(
    control: ControlPlaneActivities, settings: Settings, control_plane: AsyncEngine
) -> None:
    key = settings.sealing_key()
    assert key is not None
    tenant_id = await pending_tenant(
        control_plane, settings, admin_password_sealed=seal(key, "someone-else", PASSWORD)
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(control.create_admin_user, TenantRef(tenant_id))
    assert raised.value.type == errors.CANNOT_UNSEAL_PASSWORD


async def test_no_password_and_no_user_is_misconfigured(
    control: ControlPlaneActivities, settings: Settings, control_plane: AsyncEngine
) -> None:
    tenant_id = await pending_tenant(control_plane, settings)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(control.create_admin_user, TenantRef(tenant_id))
    assert raised.value.type == errors.TENANT_MISCONFIGURED
    assert raised.value.non_retryable
