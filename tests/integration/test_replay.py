"""Replay workflow histories against the current code, to catch non-determinism.

`tests/histories/*.json` are histories recorded from earlier versions of the workflows (every
workflow type; provisioning also cancelled, and cancelled while a step retries): a change that
would break runs already in flight fails here. Before a deliberate, `workflow.patched()`-guarded
change, record the old version's histories with `tests/histories/record_histories.py` (see
there); `*-fast.json` are from the version with the fast provisioning path, `*-lean.json` from
the one that records a single patch (ProvisionTenant's LEAN) for all of them.
"""

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from core.status import TenantStatus
from tests.helpers import tenant_body, unique_tenant_id, wait_for_status
from workflows.worker import WORKFLOWS

pytestmark = pytest.mark.integration

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, RECORDED[name])
    await Replayer(workflows=list(WORKFLOWS)).replay_workflow(history)


async def test_a_fresh_run_replays(api: httpx.AsyncClient, temporal_client: Client) -> None:
    tenant_id = unique_tenant_id()
    assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
    tenant = await wait_for_status(api, tenant_id, {TenantStatus.ACTIVE})
    handle = temporal_client.get_workflow_handle(tenant["workflowId"])
    await handle.result()
    history = await handle.fetch_history()
    await Replayer(workflows=list(WORKFLOWS)).replay_workflow(history)
    # The lean run: one patch marker for all the fixes it takes, no local activity (the status
    # writes ride on its steps), three search-attribute upserts (the patch's, Provisioning,
    # Active with the schema revision).
    events = list(history.events)
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert markers == ["core_patch"]
    upserts = [
        e for e in events if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert len(upserts) == 3
    if os.environ.get("TENANTFLOW_RECORD_HISTORY"):
        target = HISTORIES / f"provision-tenant-{len(RECORDED) + 1}.json"
        await asyncio.to_thread(target.write_text, history.to_json())
