"""MigrateFleet: roll one tenant schema revision out to many tenants, safely and live.

The tenants are listed a keyset page at a time (an activity), so the fleet's size never lands in
one payload. Each tenant that needs work is migrated by its own MigrateTenant child (its own
transaction, its own outcome): first the canaries, alone; then at most `concurrency` at once.
More failures than `max_failures` (or a failed canary) pause the rollout; operators pause,
resume, cancel and retry the failed tenants with Updates, whose validators refuse what does not
apply (the API's 409). Cancelling stops new tenants and cancels the running children, which
commit or roll back their own transaction: every tenant is left at one revision or the other.

Every ~EVENTS_PER_RUN history events the run drains its children and continues as new with its
counts, cursor and failures, so a rollout of 10,000 tenants stays far from Temporal's history
limits. The last step stores the final snapshot on the rollout's control-plane row.
"""

import asyncio
import dataclasses
from enum import Enum, auto

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
    is_cancelled_exception,
)
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.progress import describe_error
    from activities.rollouts import Candidate, RolloutActivities, RolloutEnd, RolloutPage
    from workflows import policies
    from workflows.fleet_book import FleetBook, skip_reason
    from workflows.fleet_models import (
        MAX_CONCURRENCY,
        FleetCarry,
        FleetProgress,
        FleetStatus,
        MigrateFleetInput,
    )
    from workflows.migrate_tenant import MigrateTenant, migrate_tenant_workflow_id
    from workflows.models import (
        PROGRESS_QUERY,
        MigrateTenantInput,
        MigrateTenantResult,
        tenant_search_attributes,
    )
    from workflows.tracking import options


class _Next(Enum):
    WAIT = auto()
    START = auto()
    LIST = auto()
    CONTINUE = auto()
    FINISH = auto()
    CANCEL = auto()


@workflow.defn(name="MigrateFleet")
class MigrateFleet:
    @workflow.init
    def __init__(self, input: MigrateFleetInput) -> None:
        self.input = input
        carry = input.carry or FleetCarry(
            FleetProgress(
                input.rollout_id,
                input.target_revision,
                total=input.total,
                started_at=workflow.now(),
                concurrency=self._concurrency,
            ),
            canaries_left=max(0, input.canary),
        )
        self.book = FleetBook(input, carry)
        self.carry, self.state, self.queue = carry, carry.progress, self.book.queue
        # One task per tenant in flight (its child's start, then its outcome).
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.canaries_running = 0
        # Whether this run has listed a page or taken a tenant from the queue: a run continues
        # as new only after that, so no `events_per_run` (however small) can loop forever.
        self.progressed = False

    @property
    def _concurrency(self) -> int:
        return min(MAX_CONCURRENCY, max(1, self.input.concurrency))

    @workflow.run
    async def run(self, input: MigrateFleetInput) -> FleetProgress:
        self.state.runs = 1 if input.carry is None else self.state.runs
        self.state.recount()
        try:
            while True:
                await workflow.wait_condition(lambda: self._next() is not _Next.WAIT)
                step = self._next()
                if step is _Next.START:
                    self._start_one()
                elif step is _Next.LIST:
                    await self._list_page()
                elif step is _Next.CONTINUE:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    self._continue_as_new()
                else:
                    break
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancelled_exception(err):
                raise
            # Cancelled from the Web UI or CLI: the same as the cancel Update.
            self.book.cancel()
        if self.book.cancelling:
            await self._cancel_children()
        return await self._finish()

    def _next(self) -> _Next:
        state, carry = self.state, self.carry
        if self.book.cancelling:
            return _Next.CANCEL
        if state.status is not FleetStatus.RUNNING:
            return _Next.WAIT
        if self.queue or not carry.listed_all:
            if self._history_full():
                return _Next.WAIT if self.tasks else _Next.CONTINUE
            if not self.queue:
                return _Next.LIST
            return _Next.START if self._slot_free() else _Next.WAIT
        return _Next.WAIT if self.tasks else _Next.FINISH

    def _slot_free(self) -> bool:
        if len(self.tasks) >= self._concurrency:
            return False
        # Canaries go first and alone: nothing else starts until they have all finished.
        return self.carry.canaries_left > 0 or self.canaries_running == 0

    def _history_full(self) -> bool:
        info = workflow.info()
        full = info.get_current_history_length() >= self.input.events_per_run
        return self.progressed and (full or info.is_continue_as_new_suggested())

    async def _list_page(self) -> None:
        carry, input = self.carry, self.input
        chunk, last = self.book.next_slice()
        self.progressed = True
        if input.tenant_ids is not None:
            # The operator's list, a slice at a time; ids not found are skipped.
            page = RolloutPage(None, len(chunk), tenant_ids=chunk)
        else:
            page = RolloutPage(carry.after, input.batch_size)
        try:
            found: list[Candidate] = await workflow.execute_activity_method(
                RolloutActivities.list_rollout_tenants, page, **options(policies.FLEET_STEP)
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            # The control plane is away for longer than the policy's retries: resume lists again.
            self.book.pause(f"could not list the tenants: {describe_error(err.cause or err)}")
            return
        if input.tenant_ids is not None:
            seen = {c.tenant_id for c in found}
            for tenant_id in chunk:
                if tenant_id not in seen:
                    self.book.skip(tenant_id, "no such tenant")
            carry.listed_all = last
            carry.after = chunk[-1] if chunk else carry.after
        else:
            carry.listed_all = len(found) < input.batch_size
            carry.after = found[-1].tenant_id if found else carry.after
        self.queue.extend(found)
        self.state.recount()

    def _start_one(self) -> None:
        candidate = self.queue.popleft()
        self.progressed = True
        reason = skip_reason(candidate, self.state.target_revision)
        if reason is not None:
            self.book.skip(candidate.tenant_id, reason)
            return
        canary = self.carry.canaries_left > 0
        if canary:
            self.carry.canaries_left -= 1
            self.canaries_running += 1
        self.state.running.append(candidate.tenant_id)
        self.state.recount()
        self.tasks[candidate.tenant_id] = asyncio.create_task(self._migrate(candidate, canary))

    async def _migrate(self, candidate: Candidate, canary: bool) -> None:
        tenant_id = candidate.tenant_id
        outcome: MigrateTenantResult | None = None
        error: str | None = None
        try:
            handle = await workflow.start_child_workflow(
                MigrateTenant.run,
                MigrateTenantInput(tenant_id, self.state.target_revision, self.input.rollout_id),
                id=migrate_tenant_workflow_id(tenant_id, self.input.rollout_id),
                # A retried tenant runs again under the same id (its first run has closed).
                id_reuse_policy=policies.MIGRATE_TENANT_CHILD_REUSE,
                # The rollout terminated from outside: its children are asked to stop too.
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                search_attributes=tenant_search_attributes(tenant_id, candidate.schema_revision),
            )
            outcome = await handle
        except WorkflowAlreadyStartedError:
            error = "its migration in this rollout is already running"
        except ChildWorkflowError as err:
            if not is_cancelled_exception(err):
                error = describe_error(err.cause or err)
        except asyncio.CancelledError:
            pass  # cancelled before its child ran: left as it was
        finally:
            self.tasks.pop(tenant_id, None)
            self.state.running.remove(tenant_id)
            if canary:
                self.canaries_running -= 1
        if outcome is not None:
            error = (outcome.error or "failed") if outcome.outcome == "failed" else None
            if outcome.outcome == "skipped":
                self.book.skip(tenant_id, outcome.error or "nothing to do")
            elif outcome.outcome == "migrated":
                self.book.succeed()
        if error is not None:
            self.book.fail(tenant_id, error, canary)
        self.state.recount()

    async def _cancel_children(self) -> None:
        # Each child commits or rolls back its tenant's transaction; none is cut half-way.
        for task in list(self.tasks.values()):
            task.cancel()
        await workflow.wait_condition(lambda: not self.state.running)

    def _continue_as_new(self) -> None:
        self.carry.queue = list(self.queue)
        self.state.runs += 1
        workflow.continue_as_new(dataclasses.replace(self.input, carry=self.carry))

    async def _finish(self) -> FleetProgress:
        state = self.state
        state.finished_at = workflow.now()
        self.book.end()
        summary = dataclasses.asdict(state)
        try:
            await workflow.execute_activity_method(
                RolloutActivities.finish_rollout,
                RolloutEnd(state.rollout_id, state.status.value, summary),
                **options(policies.FLEET_STEP),
            )
        except ActivityError:
            # The API settles the row from this run's result when it next needs to.
            workflow.logger.exception("could not store the rollout's end on its row")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    # Operators: Updates, so that what does not apply is refused with a reason (the API's 409).

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> FleetProgress:
        return self.state

    @workflow.update(name="pause")
    def pause(self) -> FleetProgress:
        self.book.pause("paused by an operator")
        return self.state

    @pause.validator
    def _may_pause(self) -> None:
        self.book.require({FleetStatus.RUNNING}, "paused")

    @workflow.update(name="resume")
    def resume(self) -> FleetProgress:
        self.book.resume()
        return self.state

    @resume.validator
    def _may_resume(self) -> None:
        self.book.require({FleetStatus.PAUSED}, "resumed")

    @workflow.update(name="cancel")
    def cancel(self) -> FleetProgress:
        self.book.cancel()
        return self.state

    @cancel.validator
    def _may_cancel(self) -> None:
        self.book.require({FleetStatus.RUNNING, FleetStatus.PAUSED}, "cancelled")

    @workflow.update(name="retry")
    def retry(self) -> FleetProgress:
        """The failed tenants go first in the queue again; the rollout runs on."""
        self.book.retry_failed()
        return self.state

    @retry.validator
    def _may_retry(self) -> None:
        self.book.require({FleetStatus.RUNNING, FleetStatus.PAUSED}, "retried")
        self.book.require_failures()
