"""The worker: `python -m workflows.worker` (DATABASE_URL, TEMPORAL_* from the environment)."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.bulk import BulkActivities
from activities.control_plane import ControlPlaneActivities
from activities.email import EmailActivities
from activities.progress import AttemptReporter
from activities.rollouts import RolloutActivities
from activities.schema_migrations import SchemaMigrationActivities
from activities.tenant_storage import TenantStorageActivities
from core import logs, tracing
from core.database import create_engine
from core.settings import Settings, get_settings
from core.temporal import connect
from workflows.bulk_action import BulkActionWorkflow
from workflows.deprovision_tenant import DeprovisionTenant
from workflows.migrate_fleet import MigrateFleet
from workflows.migrate_tenant import MigrateTenant
from workflows.models import SEARCH_ATTRIBUTES
from workflows.provision_tenant import ProvisionTenant
from workflows.telemetry import HISTOGRAM_BUCKETS
from workflows.update_tenant import UpdateTenant

WORKFLOWS: Sequence[type] = (
    ProvisionTenant,
    UpdateTenant,
    DeprovisionTenant,
    BulkActionWorkflow,
    MigrateFleet,
    MigrateTenant,
)

log = logging.getLogger("tenantflow.worker")

# On a normal stop (SIGTERM/SIGINT: a deploy, `make dev` restarting it) running activities get
# this long to finish before they are cancelled. The SDK's default, 0, cancels them at once: a
# migration half-way through is abandoned, reported failed and retried by another worker after
# its backoff. A step normally takes well under a second, so 30 s is a wide margin; it matches
# Kubernetes' default grace period, and `make dev` waits longer than this before SIGKILL. A step
# stuck for longer is cancelled and retried elsewhere, which is safe: every step is idempotent.
GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def activities_for(client: Client, engine: AsyncEngine, settings: Settings) -> list[Any]:
    reporter = AttemptReporter(client)
    control_plane = ControlPlaneActivities(engine, reporter, settings.sealing_key())
    storage = TenantStorageActivities(engine, reporter, settings.spare_schemas)
    email = EmailActivities(settings, reporter)
    bulk = BulkActivities(engine, client)
    rollouts = RolloutActivities(engine)
    migrations = SchemaMigrationActivities(engine, reporter, storage)
    return [
        control_plane.set_tenant_status,
        control_plane.create_admin_user,
        control_plane.record_notification,
        control_plane.delete_tenant_users,
        control_plane.apply_tenant_update,
        storage.create_tenant_database,
        storage.migrate_tenant_database,
        storage.drop_tenant_database,
        email.send_welcome_email,
        bulk.begin_bulk_item,
        rollouts.list_rollout_tenants,
        rollouts.finish_rollout,
        migrations.begin_tenant_migration,
        migrations.migrate_tenant_schema,
        migrations.finish_tenant_migration,
    ]


class ServingWorker:
    """The Workers of one process (interactive work, fleet work), and what their activities own
    (their engines' pools), closed when they stop."""

    def __init__(self, workers: Sequence[Worker], activities: Sequence[Any]) -> None:
        self.workers = workers
        self.activities = activities

    @property
    def worker(self) -> Worker:
        """The interactive one (TEMPORAL_TASK_QUEUE)."""
        return self.workers[0]

    async def __aenter__(self) -> Worker:
        async with contextlib.AsyncExitStack() as stack:
            for worker in self.workers:
                await stack.enter_async_context(worker)
            self._stack = stack.pop_all()
        return self.worker

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self._stack.__aexit__(*exc_info)
        finally:
            await close_activities(self.activities)


async def close_activities(activities: Sequence[Any]) -> None:
    """Close the objects behind bound activity methods that hold resources (`close()`)."""
    owners = {id(owner): owner for a in activities if (owner := getattr(a, "__self__", None))}
    for owner in owners.values():
        close = getattr(owner, "close", None)
        if close is not None:
            await close()


def build_worker(
    client: Client,
    engine: AsyncEngine,
    settings: Settings,
    task_queue: str | None = None,
    activities: list[Any] | None = None,
) -> ServingWorker:
    """`task_queue`: serve this queue (and its `-fleet` one) instead of the settings' queues."""
    if activities is None:
        activities = activities_for(client, engine, settings)
    queue = task_queue or settings.temporal_task_queue
    fleet_queue = f"{task_queue}-fleet" if task_queue else settings.fleet_queue
    common: dict[str, Any] = {
        "workflows": list(WORKFLOWS),
        "activities": activities,
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
    }
    if not settings.workflow_sandbox:
        # The sandbox re-imports each run's workflow module and crosses into it for every
        # payload: a third of the worker's CPU per tenant (docs/benchmarks.md). The test suite
        # runs every workflow in it, and replays recorded histories in it.
        common["workflow_runner"] = UnsandboxedWorkflowRunner()
    workers = [Worker(client, task_queue=queue, **common)]
    if fleet_queue != queue:
        # Fleet work (rollouts) on its own queue with few slots: a 500-tenant rollout takes a
        # bounded share of this process, and new tenants' steps never queue behind it.
        fleet = Worker(
            client,
            task_queue=fleet_queue,
            max_concurrent_activities=settings.fleet_max_activities,
            max_concurrent_workflow_tasks=settings.fleet_max_workflow_tasks,
            max_task_queue_activities_per_second=settings.fleet_activities_per_second or None,
            **common,
        )
        workers.append(fleet)
    return ServingWorker(workers, activities)


async def missing_search_attributes(
    client: Client, required: Sequence[SearchAttributeKey[Any]] = SEARCH_ATTRIBUTES
) -> list[SearchAttributeKey[Any]]:
    """The search attributes the workflows set that the client's namespace lacks (or holds with
    another type). Without them a run's task fails, and is retried forever, at its first upsert
    (a provisioning run after its tenant is Active)."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    registered = dict(response.custom_attributes)
    return [key for key in required if registered.get(key.name) != int(key.indexed_value_type)]


def search_attributes_refusal(namespace: str, missing: Sequence[SearchAttributeKey[Any]]) -> str:
    """What the worker says when it refuses to start: the names, and the commands that fix it."""
    commands = "\n".join(
        f"  temporal operator search-attribute create --namespace {namespace} "
        f"--name {key.name} --type {key.indexed_value_type.name.title().replace('_', '')}"
        for key in missing
    )
    names = ", ".join(key.name for key in missing)
    return (
        f"The Temporal namespace {namespace!r} lacks the search attributes {names}, which "
        f"Tenantflow's workflows set; register them, then start the worker again:\n{commands}"
    )


async def check_search_attributes(client: Client) -> None:
    """Refuse to start (SystemExit with the fix) when a search attribute is missing."""
    try:
        missing = await missing_search_attributes(client)
    except RPCError as err:
        if err.status not in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
            raise
        # A namespace that does not let workers list them (a hosted service's role): go on.
        log.warning("could not check the namespace's search attributes: %s", err.message)
        return
    if missing:
        raise SystemExit(search_attributes_refusal(client.namespace, missing))


def metrics_runtime(host: str, port: int) -> Runtime:
    """A Temporal runtime serving Prometheus metrics on host:port (`/metrics`): the SDK's own
    (task latencies, slots, polls) and ours from workflows/telemetry.py. Durations in the SDK's
    default milliseconds, names as Temporal's dashboards expect them."""
    prometheus = PrometheusConfig(
        bind_address=f"{host}:{port}", histogram_bucket_overrides=HISTOGRAM_BUCKETS
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def run(settings: Settings) -> None:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")
    runtime = None
    if settings.worker_metrics_port is not None:
        runtime = metrics_runtime(settings.worker_metrics_host, settings.worker_metrics_port)
        log.info(
            "worker metrics on http://%s:%s/metrics",
            settings.worker_metrics_host,
            settings.worker_metrics_port,
        )
    # With tracing on, the client's interceptor traces the worker's workflows and activities.
    tracing_interceptors = tracing.setup("tenantflow-worker")
    client = await connect(settings, runtime=runtime, interceptors=tracing_interceptors)
    await check_search_attributes(client)
    engine = create_engine(settings.database_url)
    worker = build_worker(client, engine, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker polling task queue %r on %s",
        settings.temporal_task_queue,
        settings.temporal_address,
    )
    async with worker:
        await stop.wait()
        log.info("shutting down: finishing running activities")
    await engine.dispose()


def main() -> None:
    logs.configure()
    asyncio.run(run(get_settings()))


if __name__ == "__main__":
    main()
