"""PostgreSQL unreachable: every route answers 503 with Retry-After, never 500."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import make_url, text

from api.main import create_app
from core.database import create_oneshot_engine, with_database
from core.naming import quote_ident
from core.settings import Settings
from core.setup import prepare_control_plane
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, token_for
from tests.helpers import free_port, serve_in_thread, tenant_body, unique_tenant_id

pytestmark = pytest.mark.integration


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json() == {
        "detail": "The database or Temporal cannot be reached; try again shortly"
    }


async def assert_every_route_unavailable(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        assert_unavailable(await client.get("/api/tenants/acme"))
        assert_unavailable(await client.get("/api/tenants"))
        assert_unavailable(await client.post("/api/tenants", json=tenant_body(unique_tenant_id())))
        assert_unavailable(await client.put("/api/tenants/acme", json={"name": "A"}))
        assert_unavailable(await client.get("/api/notifications"))
        assert_unavailable(
            await client.post(
                "/api/auth/token", data={"username": ROOT_EMAIL, "password": ROOT_PASSWORD}
            )
        )
        signup = tenant_body(unique_tenant_id())
        del signup["hasIsolatedDatabase"]
        assert_unavailable(await client.post("/api/signup", json=signup))
        assert (await client.get("/health")).status_code == 503


@pytest.fixture
def nowhere(settings: Settings) -> Iterator[str]:
    """An API whose DATABASE_URL names a port where nothing listens."""
    assert settings.database_url
    url = make_url(settings.database_url).set(host="127.0.0.1", port=free_port(), query={})
    with serve_in_thread(
        create_app(settings.model_copy(update={"database_url": url.render_as_string(False)}))
    ) as base:
        yield base


async def test_no_database_server_is_503_everywhere(nowhere: str, root_token: str) -> None:
    await assert_every_route_unavailable(nowhere, root_token)


@pytest.fixture
async def refusing(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """An API on a control-plane database of its own, which then refuses connections
    (`ALLOW_CONNECTIONS false`, and its sessions ended) as a database being restored does."""
    assert settings.database_url
    name = f"{make_url(settings.database_url).database}_outage"
    own = settings.model_copy(
        update={"database_url": with_database(settings.database_url, name).render_as_string(False)}
    )
    await prepare_control_plane(own)
    server = create_oneshot_engine(
        with_database(settings.database_url, "postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with serve_in_thread(create_app(own)) as url:
            token = await token_for(url, ROOT_EMAIL, ROOT_PASSWORD)
            async with server.connect() as conn:
                await conn.execute(
                    text(f"ALTER DATABASE {quote_ident(name)} ALLOW_CONNECTIONS false")
                )
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
            yield url, token
    finally:
        async with server.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)"))
        await server.dispose()


async def test_a_database_refusing_connections_is_503_everywhere(
    refusing: tuple[str, str],
) -> None:
    url, token = refusing
    await assert_every_route_unavailable(url, token)
