"""No secrets in any log line: a whole run of an API process and a worker process, logging at
DEBUG in either format, provisions a tenant, signs in, streams with a token in the URL and sends
password-bearing requests; then all their output is searched for every secret in play."""

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import User
from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, token_for
from tests.helpers import tenant_body, unique_tenant_id, wait_for_status
from tests.observability import process_stack

pytestmark = pytest.mark.integration


def with_password(settings: Settings) -> tuple[Settings, str]:
    """The settings with a DATABASE_URL carrying a password, and that password. The test
    server's own when its URL has one; otherwise the server trusts local connections (the
    embedded one does) and any password will do: it is never asked for, but it is in the DSN
    every component is given, which is what must not be logged."""
    assert settings.database_url
    url = make_url(settings.database_url)
    password = url.password or f"dsn-pw-{uuid.uuid4().hex[:12]}"
    dsn = url.set(password=str(password)).render_as_string(hide_password=False)
    queue = f"secrets-{uuid.uuid4().hex[:8]}"
    return settings.model_copy(update={"database_url": dsn, "temporal_task_queue": queue}), str(
        password
    )


async def read_first_line(client: httpx.AsyncClient, path: str, token: str) -> None:
    """Open a stream with the token in the URL, as EventSource does, and close it."""
    async with client.stream("GET", path, params={"access_token": token}) as response:
        assert response.status_code in (200, 204), path
        async for _ in response.aiter_lines():
            break


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_secret_reaches_the_logs(
    settings: Settings, control_plane: AsyncEngine, log_format: str
) -> None:
    own, dsn_password = with_password(settings)
    assert own.jwt_secret and own.password_sealing_key and own.database_url
    admin_password = f"Adm1n-{uuid.uuid4().hex[:12]}"
    wrong_password = f"Wr0ng-{uuid.uuid4().hex[:12]}"
    tenant_id = unique_tenant_id("secrets")
    with process_stack(own, LOG_FORMAT=log_format, LOG_LEVEL="DEBUG") as stack:
        await stack.worker.wait_for_output("worker polling", within=90)
        await stack.api.wait_for_output("Uvicorn running", within=90)
        root_token = await token_for(stack.url, ROOT_EMAIL, ROOT_PASSWORD)
        headers = {"Authorization": f"Bearer {root_token}"}
        async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=30) as api:
            body = tenant_body(tenant_id, password=admin_password)
            response = await api.post("/api/tenants", json=body)
            assert response.status_code == 202, response.text
            # Refused input that carries a password: the 422 must not log what it was given.
            refused = await api.post("/api/tenants", json=body | {"id": "No Such Id!"})
            assert refused.status_code == 422
            await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE}, within=60)
            admin_token = await token_for(
                stack.url, body["adminEmail"], admin_password, tenant=tenant_id
            )
            wrong = await api.post(
                "/api/auth/token",
                data={
                    "username": body["adminEmail"],
                    "password": wrong_password,
                    "tenant": tenant_id,
                },
            )
            assert wrong.status_code == 401, wrong.text
            await read_first_line(api, f"/api/tenants/{tenant_id}/events", admin_token)
            await read_first_line(api, "/api/notifications", root_token)
    async with control_plane.connect() as conn:
        password_hash = await conn.scalar(
            select(User.password_hash).where(User.tenant_id == tenant_id)
        )
    assert password_hash and password_hash.startswith("$argon2")

    output = stack.output()
    secrets = {
        "the root password": ROOT_PASSWORD,
        "the tenant admin's password": admin_password,
        "a wrong password": wrong_password,
        "the admin's password hash": password_hash,
        "an Argon2 hash": "$argon2",
        "the root's JWT": root_token,
        "the admin's JWT": admin_token,
        "JWT_SECRET": own.jwt_secret.get_secret_value(),
        "PASSWORD_SEALING_KEY": own.password_sealing_key.get_secret_value(),
        "the DSN's password": f":{dsn_password}@",
    }
    leaks = {what: line for line in output for what, secret in secrets.items() if secret in line}
    assert not leaks, leaks

    # The run did log, at DEBUG, in the format asked for (else the search above proves little).
    debug = '"level": "DEBUG"' if log_format == "json" else "DEBUG "
    assert any(debug in line for line in stack.worker.output)
    assert any(debug in line for line in stack.api.output)
    assert any("access_token=[redacted]" in line for line in stack.api.output)
    if log_format == "json":
        entries = [parsed for line in output if (parsed := as_json(line)) is not None]
        assert any(e.get("logger") == "uvicorn.access" for e in entries)
        # The worker's lines within the tenant's activities name the tenant, run and step.
        steps = {
            e["activity"]
            for e in entries
            if e.get("tenant_id") == tenant_id and e.get("run_id") and "activity" in e
        }
        assert {"create_tenant_database", "migrate_tenant_database"} <= steps


def as_json(line: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
