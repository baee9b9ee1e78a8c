"""Traces: one trace from the POST through the workflow and each activity to PostgreSQL, as an
OTLP collector receives them from a real API process and a real worker process."""

import uuid

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from core.settings import Settings
from core.status import TenantStatus
from tests.conftest import ROOT_EMAIL, ROOT_PASSWORD, token_for
from tests.helpers import tenant_body, unique_tenant_id, wait_for_status
from tests.observability import Span, otlp_receiver, process_stack
from workflows.models import provision_workflow_id

pytestmark = pytest.mark.integration


async def activity_types(client: Client, workflow_id: str) -> set[str]:
    """The activities the run scheduled, once it has finished."""
    handle = client.get_workflow_handle(workflow_id)
    await handle.result()
    types = set()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            types.add(event.activity_task_scheduled_event_attributes.activity_type.name)
    return types


async def test_one_trace_spans_the_post_the_workflow_each_activity_and_postgresql(
    settings: Settings, temporal_client: Client
) -> None:
    own = settings.model_copy(update={"temporal_task_queue": f"traces-{uuid.uuid4().hex[:8]}"})
    with (
        otlp_receiver() as receiver,
        process_stack(
            own, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_BSP_SCHEDULE_DELAY="50"
        ) as stack,
    ):
        await stack.worker.wait_for_output("worker polling", within=90)
        await stack.api.wait_for_output("Uvicorn running", within=90)
        token = await token_for(stack.url, ROOT_EMAIL, ROOT_PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        tenant_id = unique_tenant_id("trace")
        async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=30) as api:
            response = await api.post("/api/tenants", json=tenant_body(tenant_id, isolated=True))
            assert response.status_code == 202, response.text
            await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE}, within=60)
        steps = await activity_types(temporal_client, provision_workflow_id(tenant_id))
        assert {"create_tenant_database", "migrate_tenant_database"} <= steps

        def complete(received: list[Span]) -> list[Span] | None:
            posts = [
                span
                for span in received
                if span.kind == "SPAN_KIND_SERVER" and span.name == "POST /api/tenants"
            ]
            if not posts:
                return None
            spans = [span for span in received if span.trace_id == posts[0].trace_id]
            names = {span.name for span in spans}
            wanted = {"RunWorkflow:ProvisionTenant"} | {f"RunActivity:{t}" for t in steps}
            postgres = [s for s in spans if s.attributes.get("db.system") == "postgresql"]
            return spans if wanted <= names and postgres else None

        spans = await receiver.wait_for(complete)

    by_name = {span.name: span for span in spans}
    assert by_name["POST /api/tenants"].service == "tenantflow-api"
    assert by_name["StartWorkflow:ProvisionTenant"].service == "tenantflow-api"
    assert by_name["RunWorkflow:ProvisionTenant"].service == "tenantflow-worker"
    for step in steps:
        assert by_name[f"RunActivity:{step}"].service == "tenantflow-worker"
    # The request's and the worker's statements alike, without their parameters.
    statements = [s for s in spans if s.attributes.get("db.system") == "postgresql"]
    assert {s.service for s in statements} == {"tenantflow-api", "tenantflow-worker"}
    assert not any("db.statement.parameters" in s.attributes for s in statements)
