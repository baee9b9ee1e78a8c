"""Helpers of the rollout tests (tests/integration/test_migrations.py, the runbook's test):
tenants on a given revision, a rollout started and followed through the API, and each tenant's
`alembic_version` read from PostgreSQL itself."""

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import text

from core.database import create_oneshot_engine, with_database
from core.naming import quote_ident
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import tenant_body, unique_tenant_id, until_value, wait_for_status

FINAL = {"Completed", "Failed", "Cancelled"}


async def active_tenants(
    api: httpx.AsyncClient, count: int, *, isolated: int = 0, prefix: str = "mig"
) -> list[str]:
    """`count` new Active tenants (the first `isolated` of them with their own database)."""
    ids = [unique_tenant_id(prefix) for _ in range(count)]
    for i, tenant_id in enumerate(ids):
        body = tenant_body(tenant_id, isolated=i < isolated)
        response = await api.post("/api/tenants", json=body)
        assert response.status_code == 202, response.text
    for tenant_id in ids:
        await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    return ids


async def start(api: httpx.AsyncClient, target: str, tenant_ids: list[str], **body: Any) -> str:
    response = await api.post(
        "/api/migrations", json={"targetRevision": target, "tenantIds": tenant_ids, **body}
    )
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    assert accepted["workflowId"] == f"migrate-fleet-{accepted['id']}"
    return str(accepted["id"])


async def until(
    api: httpx.AsyncClient,
    rollout_id: str,
    done: Callable[[dict[str, Any]], bool],
    within: float = 60.0,
) -> dict[str, Any]:
    """Poll the rollout until `done(state)` (tests only; clients use the stream)."""

    async def reached() -> dict[str, Any]:
        response = await api.get(f"/api/migrations/{rollout_id}")
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state if done(state) else {}  # {}: not yet

    return await until_value(reached, within)


async def ended(api: httpx.AsyncClient, rollout_id: str, within: float = 90.0) -> dict[str, Any]:
    return await until(api, rollout_id, lambda s: s["status"] in FINAL, within)


async def rolled_out(
    api: httpx.AsyncClient, target: str, tenant_ids: list[str], **body: Any
) -> dict[str, Any]:
    """A rollout to `target` of these tenants, run to its end."""
    return await ended(api, await start(api, target, tenant_ids, **body))


async def stored_revisions(
    api: httpx.AsyncClient, settings: Settings, tenant_ids: list[str]
) -> dict[str, str | None]:
    """Each tenant's `alembic_version`, read in its database or schema."""
    found = {}
    for tenant_id in tenant_ids:
        tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
        found[tenant_id] = await _version(settings, tenant["database"], tenant["schema"])
    return found


async def _version(settings: Settings, database: str, schema: str) -> str | None:
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, database))
    try:
        async with engine.connect() as conn:
            value = await conn.scalar(
                text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version")
            )
            return None if value is None else str(value)
    finally:
        await engine.dispose()


async def in_tenant_schema(
    api: httpx.AsyncClient, settings: Settings, tenant_id: str, sql: str
) -> None:
    """Run `sql` in the tenant's schema, as someone with access to its storage would."""
    tenant = (await api.get(f"/api/tenants/{tenant_id}")).json()
    assert settings.database_url
    engine = create_oneshot_engine(with_database(settings.database_url, tenant["database"]))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL search_path TO {quote_ident(tenant['schema'])}"))
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def end_open_rollouts(api: httpx.AsyncClient) -> None:
    """Cancel a rollout a failed test left open (one at a time: the next test needs none)."""
    for state in (await api.get("/api/migrations")).json():
        if state["status"] not in FINAL:
            await api.post(f"/api/migrations/{state['id']}/cancel")
            await ended(api, state["id"])
