"""Public sign-up: provisioning without an initiator, a welcome e-mail over real SMTP, limits."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from api.main import create_app
from core.models import RateLimit
from core.settings import Settings
from core.status import TenantStatus
from devstack.smtp_sink import Collector
from tests.helpers import PASSWORD, serve_in_thread, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.integration


def signup_body(tenant_id: str) -> dict[str, object]:
    return {
        "id": tenant_id,
        "name": f"Startup {tenant_id}",
        "adminEmail": f"founder@{tenant_id}.example.com",
        "password": PASSWORD,
    }


async def test_sign_up_provisions_a_shared_tenant_and_welcomes_its_admin(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, smtp_server: Collector
) -> None:
    tenant_id = unique_tenant_id()
    response = await anonymous.post("/api/signup", json=signup_body(tenant_id))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "Pending"

    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED})
    assert tenant["status"] == "Active"
    assert tenant["hasIsolatedDatabase"] is False
    to = f"founder@{tenant_id}.example.com"
    async with asyncio.timeout(30):
        while True:
            mail = [m for m in smtp_server.messages if m["To"] == to]
            if mail:
                break
            await asyncio.sleep(0.05)
    (message,) = mail
    assert message["Subject"] == f"Welcome to Tenantflow: Startup {tenant_id} is ready"
    assert message["Message-ID"] == f"<welcome.provision-tenant-{tenant_id}@tenantflow>"
    body = message.get_body(("plain",))
    assert body is not None
    assert f'tenant "{tenant_id}"' in body.get_content()

    login = await anonymous.post(
        "/api/auth/token", data={"username": to, "password": PASSWORD, "tenant": tenant_id}
    )
    assert login.status_code == 200
    progress = (await api.get(f"/api/tenants/{tenant_id}/progress")).json()
    assert progress["steps"][-1]["name"] == "send_welcome_email"
    assert progress["steps"][-1]["status"] == "completed"


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"hasIsolatedDatabase": True}, "hasIsolatedDatabase"), ({"password": "short"}, "password")],
)
async def test_sign_up_rejects_bad_input(
    anonymous: httpx.AsyncClient, extra: dict[str, object], field: str
) -> None:
    response = await anonymous.post("/api/signup", json=signup_body(unique_tenant_id()) | extra)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]


@pytest.fixture
def limited_api(settings: Settings) -> Iterator[str]:
    limited = settings.model_copy(
        update={"signup_limit_per_ip_per_hour": 2, "signup_limit_per_hour": 1000}
    )
    with serve_in_thread(create_app(limited)) as url:
        yield url


async def test_sign_up_is_rate_limited_per_address(
    limited_api: str, control_plane: AsyncEngine
) -> None:
    async with control_plane.begin() as conn:
        await conn.execute(delete(RateLimit))
    async with httpx.AsyncClient(base_url=limited_api) as client:
        codes = [
            (await client.post("/api/signup", json=signup_body(unique_tenant_id()))).status_code
            for _ in range(3)
        ]
        blocked = await client.post("/api/signup", json=signup_body(unique_tenant_id()))
    assert codes == [202, 202, 429]
    assert blocked.status_code == 429
    # The seconds left of the hour that the first sign-up opened.
    assert 3500 < int(blocked.headers["retry-after"]) <= 3600
    assert blocked.json() == {"detail": "Too many sign-ups from this address; try again later"}


async def test_sign_up_can_be_switched_off(settings: Settings) -> None:
    off = settings.model_copy(update={"signup_enabled": False})
    with serve_in_thread(create_app(off)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post("/api/signup", json=signup_body(unique_tenant_id()))
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "Public sign-up is disabled"},
    )
