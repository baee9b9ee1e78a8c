"""Prometheus metrics: the API's /metrics and the worker's own endpoint, after provisionings."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.main import create_app
from core.settings import Settings
from core.status import TenantStatus
from tests.helpers import (
    free_port,
    listen,
    occupy_database_name,
    serve_in_thread,
    step_held,
    tenant_body,
    unique_tenant_id,
    wait_for_status,
    wait_for_step,
)
from tests.integration.test_events import read_events
from workflows.worker import build_worker, metrics_runtime

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample as (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the samples named `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def scrape(client: httpx.AsyncClient, url: str = "/metrics") -> Samples:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_api_metrics_count_requests_by_route_template_streams_and_notifications(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, api_url: str, root_token: str
) -> None:
    before = await scrape(anonymous)
    tenant_id = unique_tenant_id("metrics")
    listener = await listen(api_url, root_token)
    try:
        assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
        events = await read_events(api, f"/api/tenants/{tenant_id}/events")
        assert events, "the progress stream sent nothing"
        await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
        await listener.wait_for(tenant_id, "TenantCreated")
        # Mid-stream, the notification stream is one open stream (and the progress one closed).
        during = await scrape(anonymous)
    finally:
        await listener.close()

    route = "/api/tenants/{tenant_id}"
    assert value(during, "tenantflow_http_requests_total", route=route, status="200") > value(
        before, "tenantflow_http_requests_total", route=route, status="200"
    )
    assert value(
        during, "tenantflow_http_requests_total", method="POST", route="/api/tenants", status="202"
    ) >= 1 + value(before, "tenantflow_http_requests_total", route="/api/tenants", status="202")
    assert value(during, "tenantflow_http_request_duration_seconds_count", route=route) > 0
    assert value(during, "tenantflow_sse_streams_open", stream="notifications") >= 1
    assert value(during, "tenantflow_sse_streams_open", stream="progress") == value(
        before, "tenantflow_sse_streams_open", stream="progress"
    )
    progress_stream = "/api/tenants/{tenant_id}/events"
    assert value(during, "tenantflow_http_requests_total", route=progress_stream) >= 1
    assert ("tenantflow_progress_readers", frozenset()) in during
    assert ("tenantflow_progress_subscribers", frozenset()) in during
    assert value(during, "tenantflow_notification_listener_up") == 1
    assert value(during, "tenantflow_notification_delivery_lag_seconds_count") >= 1 + value(
        before, "tenantflow_notification_delivery_lag_seconds_count"
    )
    # The root token's sign-in was counted as allowed.
    assert value(during, "tenantflow_sign_in_attempts_total", outcome="allowed") >= 1
    # Labels never carry a path's values: no tenant id anywhere.
    labels = {v for (_, ls) in during for _, v in ls}
    assert not any(tenant_id in label for label in labels), labels

    # The closed stream leaves the gauge once the server has noticed the client went away.
    open_before = value(before, "tenantflow_sse_streams_open", stream="notifications")
    async with asyncio.timeout(30):
        while True:
            after = await scrape(anonymous)
            if value(after, "tenantflow_sse_streams_open", stream="notifications") == open_before:
                break
            await asyncio.sleep(0.1)


async def test_an_unmatched_path_is_one_label_whatever_the_path(
    anonymous: httpx.AsyncClient,
) -> None:
    before = await scrape(anonymous)
    for _ in range(3):
        assert (await anonymous.get(f"/api/nothing-here/{uuid.uuid4().hex}")).status_code == 404
    after = await scrape(anonymous)
    unmatched = ("tenantflow_http_requests_total", "unmatched")
    assert value(after, unmatched[0], route=unmatched[1], status="404") >= 3 + value(
        before, unmatched[0], route=unmatched[1], status="404"
    )
    assert not any("nothing-here" in v for (_, ls) in after for _, v in ls)


async def test_metrics_token_is_required_when_set(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-me-0123")})
    with serve_in_thread(create_app(guarded)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            missing = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123"})
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "tenantflow_http_requests_total" in right.text


async def test_sign_ins_are_counted_allowed_or_throttled_by_the_limit_hit(
    settings: Settings,
) -> None:
    # A client address of its own (through a trusted proxy): no other test's attempts count.
    limited = settings.model_copy(
        update={"login_limit_per_account": 1, "trusted_proxies": ("127.0.0.1",)}
    )
    headers = {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}
    form = {"username": f"{uuid.uuid4().hex[:8]}@example.com", "password": "wrong-password"}
    with serve_in_thread(create_app(limited)) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            first = await client.post("/api/auth/token", data=form)
            second = await client.post("/api/auth/token", data=form)
            samples = await scrape(client)
    assert (first.status_code, second.status_code) == (401, 429)
    attempts = "tenantflow_sign_in_attempts_total"
    assert value(samples, attempts, outcome="allowed") == 1
    assert value(samples, attempts, outcome="throttled", limit="account") == 1
    assert value(samples, attempts, outcome="throttled", limit="address") == 0


@asynccontextmanager
async def metered_worker(
    temporal_client: Client, control_plane: AsyncEngine, settings: Settings
) -> AsyncIterator[tuple[str, str]]:
    """A worker whose client has a Prometheus runtime (as `WORKER_METRICS_PORT` gives
    `python -m workflows.worker`), on a queue of its own, and an API starting work on it;
    yields (metrics URL, API URL)."""
    port = free_port()
    runtime = metrics_runtime("127.0.0.1", port)
    config = temporal_client.service_client.config
    client = await Client.connect(
        config.target_host, namespace=temporal_client.namespace, runtime=runtime
    )
    queue = f"metered-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(update={"temporal_task_queue": queue})
    async with build_worker(client, control_plane, own, queue):
        with serve_in_thread(create_app(own)) as api_url:
            yield f"http://127.0.0.1:{port}/metrics", api_url


async def wait_for_sample(
    client: httpx.AsyncClient, url: str, name: str, at_least: float, **labels: str
) -> Samples:
    """Scrape until the sample reaches `at_least` (the exporter may lag a recording a little)."""
    samples: Samples = {}
    try:
        async with asyncio.timeout(30):
            while True:
                samples = parse((await client.get(url)).text)
                if value(samples, name, **labels) >= at_least:
                    return samples
                await asyncio.sleep(0.1)
    except TimeoutError:
        ours = {key: v for key, v in samples.items() if key[0].startswith("tenantflow")}
        raise AssertionError(f"{name} {labels} never reached {at_least}: {ours}") from None


async def test_worker_endpoint_serves_sdk_metrics_and_ours(
    temporal_client: Client, control_plane: AsyncEngine, settings: Settings, root_token: str
) -> None:
    headers = {"Authorization": f"Bearer {root_token}"}
    async with (
        metered_worker(temporal_client, control_plane, settings) as (metrics_url, api_url),
        httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as api,
        httpx.AsyncClient(timeout=30) as scraper,
    ):
        shared, isolated, cancelled, failing = (unique_tenant_id("wm") for _ in range(4))
        await occupy_database_name(settings, failing)  # its database step fails for good
        for tenant_id, placement in ((shared, False), (isolated, True), (failing, True)):
            body = tenant_body(tenant_id, isolated=placement)
            assert (await api.post("/api/tenants", json=body)).status_code == 202
        async with step_held(settings, cancelled, "migrate_tenant_database"):
            assert (await api.post("/api/tenants", json=tenant_body(cancelled))).status_code == 202
            await wait_for_step(api, cancelled, "migrate_tenant_database", "running")
            assert (await api.post(f"/api/tenants/{cancelled}/cancel")).status_code == 202
        await wait_for_status(api, cancelled, {TenantStatus.CANCELLED})
        for tenant_id in (shared, isolated):
            await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})

        duration = "tenantflow_provisioning_duration_seconds_count"
        await wait_for_sample(scraper, metrics_url, duration, 1, placement="isolated")
        await wait_for_sample(scraper, metrics_url, duration, 1, placement="shared")
        await wait_for_sample(
            scraper, metrics_url, "tenantflow_compensations_total", 1, outcome="cleaned"
        )
        samples = await wait_for_sample(
            scraper, metrics_url, "tenantflow_step_failures_total", 1, step="create_tenant_database"
        )

    # Exactly these runs: this worker's runtime counted nothing else.
    assert value(samples, duration, placement="isolated") == 1
    assert value(samples, duration, placement="shared") == 1
    assert value(samples, "tenantflow_provisioning_duration_seconds_bucket", le="+Inf") == 2
    assert value(samples, "tenantflow_compensations_total", workflow_type="ProvisionTenant") == 1
    failures = [
        dict(labels)
        for (name, labels), count in samples.items()
        if name == "tenantflow_step_failures_total" and count
    ]
    assert [(f["workflow_type"], f["step"]) for f in failures] == [
        ("ProvisionTenant", "create_tenant_database")
    ]
    assert failures[0]["error_type"] not in ("", "ApplicationError")
    # The SDK's own: task latencies, slots and polls.
    names = {name for name, _ in samples}
    for sdk in (
        "temporal_workflow_task_execution_latency_count",
        "temporal_activity_execution_latency_count",
        "temporal_worker_task_slots_available",
        "temporal_num_pollers",
    ):
        assert sdk in names, sorted(n for n in names if n.startswith("temporal_"))
