"""The edge: oversized bodies, control characters, echoed input and the documented answers."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from core.settings import Settings
from core.status import TenantStatus
from tests.api_process import api_process, peak_memory_bytes
from tests.helpers import PASSWORD, tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.integration

TEN_MB = 10 * 1024 * 1024
CHUNK = 64 * 1024


async def test_oversized_body_is_413_before_authentication(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post(
        "/api/tenants", content=b"x" * TEN_MB, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "Request body too large (limit 65536 bytes)"}


@pytest.fixture(scope="module")
def api_process_url(settings: Settings) -> Iterator[tuple[str, int]]:
    with api_process(settings) as (url, pid):
        yield url, pid


async def test_streamed_oversized_body_is_413_and_never_held_in_memory(
    api_process_url: tuple[str, int],
) -> None:
    """A chunked 200 MB body with no token, to the real `python -m api`: 413, and the process's
    peak memory does not grow by anything like the body (it used to read it whole first)."""
    url, pid = api_process_url
    total = 200 * 1024 * 1024
    before = peak_memory_bytes(pid)

    async def body() -> AsyncIterator[bytes]:
        chunk = b"x" * CHUNK
        for _ in range(total // CHUNK):
            yield chunk

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post(
            "/api/tenants", content=body(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413, response.text
    grown = peak_memory_bytes(pid) - before
    assert grown < 32 * 1024 * 1024, f"peak memory grew by {grown >> 20} MiB"


async def test_a_large_invalid_input_is_not_echoed(anonymous: httpx.AsyncClient) -> None:
    body = {"id": unique_tenant_id(), "name": "n" * 60_000, "adminEmail": "a@b.example.com"}
    response = await anonymous.post("/api/signup", json=body | {"password": PASSWORD})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "name"]]
    assert len(response.content) < 1000


@pytest.mark.parametrize(
    "bad", ["\x00", "\r\nBcc: x@evil.example.com", "\x1b[2J", "\x85", "\u2028"]
)
@pytest.mark.parametrize("field", ["id", "name", "adminEmail"])
@pytest.mark.parametrize("path", ["/api/tenants", "/api/signup"])
async def test_control_characters_in_a_created_tenant_are_422_naming_the_field(
    api: httpx.AsyncClient, path: str, field: str, bad: str
) -> None:
    body = tenant_body(unique_tenant_id())
    if path == "/api/signup":
        del body["hasIsolatedDatabase"]
    body[field] = f"ab{bad}cd" if field != "adminEmail" else f"a{bad}b@example.com"
    response = await api.post(path, json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert "control characters" in error["msg"]


async def test_control_characters_in_a_new_name_are_422_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    before = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    for bad in ["Acme\x00", "Acme\r\nCorp"]:
        response = await api.put(f"/api/tenants/{tenant_id}", json={"name": bad, "isActive": True})
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "name"]]
    assert (await api.get(f"/api/tenants/{tenant_id}")).json()["status"] == before["status"]


@pytest.mark.parametrize("field", ["username", "tenant"])
@pytest.mark.parametrize("bad", ["\x00", "\n", "\x7f"])
async def test_control_characters_in_sign_in_fields_are_422(
    anonymous: httpx.AsyncClient, field: str, bad: str
) -> None:
    form = {"username": "root@example.com", "password": "whatever-1", "tenant": "root"}
    form[field] = f"x{bad}y"
    response = await anonymous.post("/api/auth/token", data=form)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]


async def test_a_nul_in_a_password_is_just_a_wrong_password(anonymous: httpx.AsyncClient) -> None:
    form = {"username": "root@example.com", "password": "rootpass123\x00", "tenant": "root"}
    response = await anonymous.post("/api/auth/token", data=form)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "url", ["/api/tenants/ab%00cd", "/api/tenants/ab%0Acd/progress", "/api/tenants?q=a%00b"]
)
async def test_control_characters_in_paths_and_queries_are_422(
    api: httpx.AsyncClient, url: str
) -> None:
    response = await api.get(url)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] in (["path"], ["query", "q"])


async def test_openapi_lists_the_error_answers_each_route_gives(
    anonymous: httpx.AsyncClient,
) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]

    def codes(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert {"401", "403", "409", "413", "422", "503"} <= codes("/api/tenants", "post")
    assert {"401", "403", "503"} <= codes("/api/tenants", "get")
    assert {"401", "403", "404", "422", "503"} <= codes("/api/tenants/{tenant_id}", "get")
    for method in ["put", "delete"]:
        assert {"400", "401", "403", "404", "409", "503"} <= codes(
            "/api/tenants/{tenant_id}", method
        )
    assert {"401", "403", "404", "503"} <= codes("/api/tenants/{tenant_id}/events", "get")
    assert {"401", "503"} <= codes("/api/notifications", "get")
    assert {"401", "413", "422", "429", "503"} <= codes("/api/auth/token", "post")
    assert {"404", "409", "413", "422", "429", "503"} <= codes("/api/signup", "post")
    retry_after = paths["/api/signup"]["post"]["responses"]["429"]["headers"]
    assert "Retry-After" in retry_after
