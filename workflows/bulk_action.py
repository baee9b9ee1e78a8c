"""BulkAction: one action (retry, cancel, delete, deactivate, activate) on many tenants.

Each tenant goes through the lifecycle's rules on its own (activities/bulk.py moves its row or
says why it is skipped), then its own workflow runs as a child under its usual id, so the tenant's
page, history and SSE show it as if started by hand. At most `concurrency` tenants are worked on
at once: a bulk retry of a thousand Failed tenants provisions them a few at a time instead of
all together. Children are abandoned, never cancelled, with the bulk: each tenant's run finishes
on its own. The outcome of every tenant is kept: done, skipped with the reason, or failed with
the error; the `progress` query shows it while the bulk runs, the result once it has ended.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.bulk import BulkActivities, BulkItem, BulkStart
    from activities.progress import describe_error
    from core.actions import Action, Work
    from workflows import policies
    from workflows.deprovision_tenant import DeprovisionTenant
    from workflows.models import (
        PROGRESS_QUERY,
        DeprovisionTenantInput,
        ProvisionTenantInput,
        UpdateTenantInput,
        cancel_reason,
        deprovision_workflow_id,
        provision_workflow_id,
        search_attributes,
        update_workflow_id,
    )
    from workflows.provision_tenant import ProvisionTenant
    from workflows.tracking import options
    from workflows.update_tenant import UpdateTenant


def bulk_workflow_id(bulk_id: str) -> str:
    return f"bulk-action-{bulk_id}"


class Outcome(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class BulkActionInput:
    bulk_id: str
    action: Action
    tenant_ids: list[str]
    initiated_by: str
    concurrency: int = 10


@dataclass(frozen=True)
class TenantOutcome:
    tenant_id: str
    outcome: Outcome
    # The reason a tenant was skipped, or the error it failed with.
    detail: str | None = None
    workflow_id: str | None = None
    finished_at: datetime | None = None


@dataclass
class BulkProgress:
    bulk_id: str
    action: Action
    total: int
    running: list[str] = field(default_factory=list)
    outcomes: list[TenantOutcome] = field(default_factory=list)
    finished: bool = False
    cancelled: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Bumped on every change (the SSE event id).
    version: int = 0


@workflow.defn(name="BulkAction")
class BulkActionWorkflow:
    @workflow.init
    def __init__(self, input: BulkActionInput) -> None:
        self.state = BulkProgress(input.bulk_id, input.action, len(input.tenant_ids))

    @workflow.run
    async def run(self, input: BulkActionInput) -> BulkProgress:
        state = self.state
        state.started_at = workflow.now()
        slots = asyncio.Semaphore(max(1, input.concurrency))

        async def one(index: int, tenant_id: str) -> None:
            async with slots:
                self._changed(running=tenant_id)
                # Shielded: a cancelled bulk lets the tenants it has begun finish their step
                # (a row moved for a child that never starts would be left in flight).
                await asyncio.shield(self._apply_and_record(input, index, tenant_id))

        try:
            await asyncio.gather(*(one(i, t) for i, t in enumerate(input.tenant_ids)))
        except asyncio.CancelledError:
            # Cancelled (Web UI, CLI): no tenant is begun any more; those under way finish.
            state.cancelled = True
            await workflow.wait_condition(lambda: not state.running)
            seen = {o.tenant_id for o in state.outcomes}
            for tenant_id in input.tenant_ids:
                if tenant_id not in seen:
                    reason = "the bulk action was cancelled first"
                    state.outcomes.append(self._outcome(tenant_id, Outcome.SKIPPED, reason))
        state.finished = True
        state.finished_at = workflow.now()
        self._changed()
        return state

    async def _apply_and_record(self, input: BulkActionInput, index: int, tenant_id: str) -> None:
        outcome = await self._apply(input, index, tenant_id)
        self.state.running.remove(tenant_id)
        self.state.outcomes.append(outcome)
        self._changed()

    def _changed(self, running: str | None = None) -> None:
        if running is not None:
            self.state.running.append(running)
        self.state.version += 1

    async def _apply(self, input: BulkActionInput, index: int, tenant_id: str) -> TenantOutcome:
        operation_id = str(workflow.uuid4())
        item = BulkItem(
            action=input.action,
            tenant_id=tenant_id,
            initiated_by=input.initiated_by,
            provision_workflow_id=provision_workflow_id(tenant_id),
            update_workflow_id=update_workflow_id(tenant_id, operation_id),
            deprovision_workflow_id=deprovision_workflow_id(tenant_id),
            cancel_reason=cancel_reason(input.initiated_by),
        )
        try:
            start: BulkStart = await workflow.execute_activity_method(
                BulkActivities.begin_bulk_item, item, **options(policies.BULK_ITEM)
            )
        except ActivityError as err:
            return self._outcome(tenant_id, Outcome.FAILED, describe_error(err.cause or err))
        if start.skipped is not None:
            return self._outcome(tenant_id, Outcome.SKIPPED, start.skipped)
        if start.work is Work.CANCEL:
            return self._outcome(tenant_id, Outcome.DONE, "cancel requested", start.workflow_id)
        try:
            handle = await self._start_child(input, start, operation_id)
        except WorkflowAlreadyStartedError:
            # Another run under the tenant's id is under way (and owns the row): leave it be.
            error = f"{start.workflow_id} is already running"
            return self._outcome(tenant_id, Outcome.FAILED, error, start.workflow_id)
        try:
            await handle
        except ChildWorkflowError as err:
            detail = describe_error(err.cause or err)
            return self._outcome(tenant_id, Outcome.FAILED, detail, start.workflow_id)
        return self._outcome(tenant_id, Outcome.DONE, None, start.workflow_id)

    async def _start_child(
        self, input: BulkActionInput, start: BulkStart, operation_id: str
    ) -> workflow.ChildWorkflowHandle[Any, Any]:
        assert start.status is not None
        common: dict[str, Any] = {
            "id": start.workflow_id,
            "id_reuse_policy": policies.BULK_CHILD_REUSE,
            "parent_close_policy": ParentClosePolicy.ABANDON,
            "cancellation_type": ChildWorkflowCancellationType.ABANDON,
            "search_attributes": search_attributes(start.tenant_id, start.status),
        }
        # Notifications: none per tenant (a bulk of a thousand would send a thousand); the
        # bulk's own page shows every outcome.
        if start.work is Work.PROVISION:
            arg = ProvisionTenantInput(
                start.tenant_id,
                start.name,
                start.admin_email,
                start.has_isolated_database,
                None,
                operation_id,
            )
            return await workflow.start_child_workflow(ProvisionTenant.run, arg, **common)
        if start.work is Work.UPDATE:
            update = UpdateTenantInput(
                start.tenant_id, start.name, start.is_active, None, operation_id
            )
            return await workflow.start_child_workflow(UpdateTenant.run, update, **common)
        delete = DeprovisionTenantInput(start.tenant_id, start.name, None, operation_id)
        return await workflow.start_child_workflow(DeprovisionTenant.run, delete, **common)

    def _outcome(
        self,
        tenant_id: str,
        outcome: Outcome,
        detail: str | None,
        workflow_id: str | None = None,
    ) -> TenantOutcome:
        return TenantOutcome(tenant_id, outcome, detail, workflow_id, workflow.now())

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> BulkProgress:
        return self.state
