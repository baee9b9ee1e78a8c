"""The worker refuses to start in a namespace without the search attributes its workflows set
(else a provisioning run's task would fail, and be retried forever, once its tenant is Active)."""

import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from core.settings import Settings
from workflows.models import SEARCH_ATTRIBUTES
from workflows.worker import missing_search_attributes, run

pytestmark = pytest.mark.integration


async def test_the_test_servers_namespace_has_them_all_and_a_missing_one_is_named(
    temporal_client: Client,
) -> None:
    assert await missing_search_attributes(temporal_client) == []
    absent = SearchAttributeKey.for_keyword(f"TenantflowAbsent{uuid.uuid4().hex[:6]}")
    required = (*SEARCH_ATTRIBUTES, absent)
    assert await missing_search_attributes(temporal_client, required) == [absent]
    # Registered with another type: as good as missing.
    as_text = SearchAttributeKey.for_text(SEARCH_ATTRIBUTES[0].name)
    assert await missing_search_attributes(temporal_client, [as_text]) == [as_text]


async def test_a_worker_in_a_namespace_without_them_exits_naming_them_and_the_fix(
    temporal_client: Client, settings: Settings
) -> None:
    namespace = f"tf-bare-{uuid.uuid4().hex[:8]}"
    await temporal_client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86_400)
        )
    )
    bare = settings.model_copy(update={"temporal_namespace": namespace})
    with pytest.raises(SystemExit) as exited:
        await run(bare)
    message = str(exited.value.code)
    assert f"namespace '{namespace}' lacks the search attributes" in message
    for key in SEARCH_ATTRIBUTES:
        assert (
            f"temporal operator search-attribute create --namespace {namespace} "
            f"--name {key.name} --type Keyword"
        ) in message
