"""Our metrics from inside workflows, through the SDK's workflow metric meter.

They leave on the worker's Prometheus endpoint beside the SDK's own (workflows/worker.py; none
when WORKER_METRICS_PORT is unset). The meter is replay-safe: nothing is recorded while a
worker replays history, so a run counts once however often it is replayed, and recording is
no command, so these calls change no workflow's history and need no `workflow.patched()`.
Labels are bounded: step names, error type names and outcomes, never tenant ids.

Runs inside workflows: imported through `imports_passed_through`.
"""

from datetime import timedelta

from temporalio import workflow

PROVISIONING_DURATION = "tenantflow_provisioning_duration_seconds"
STEP_FAILURES = "tenantflow_step_failures"
COMPENSATIONS = "tenantflow_compensations"
TENANT_MIGRATIONS = "tenantflow_fleet_tenant_migrations"

# Bucket bounds the worker's Prometheus exporter uses for our histogram (seconds).
HISTOGRAM_BUCKETS = {
    PROVISIONING_DURATION: [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0],
}


def provisioned(isolated: bool, took: timedelta) -> None:
    """A provisioning run reached Active `took` after its start."""
    workflow.metric_meter().create_histogram_float(
        PROVISIONING_DURATION,
        "From a provisioning run's start to Active, by placement (shared schema or isolated "
        "database).",
        "s",
    ).record(took.total_seconds(), {"placement": "isolated" if isolated else "shared"})


def step_failed(workflow_type: str, step: str, error_type: str) -> None:
    """A step failed for good (its retries spent, or an error that cannot succeed on retry)."""
    workflow.metric_meter().create_counter(
        STEP_FAILURES, "Steps that failed for good, by workflow type, step and error type."
    ).add(1, {"workflow_type": workflow_type, "step": step, "error_type": error_type})


def compensated(workflow_type: str, outcome: str) -> None:
    """A cancelled run undid what it had made: `outcome` is `cleaned` or `failed`."""
    workflow.metric_meter().create_counter(
        COMPENSATIONS, "Compensations after a cancel, by workflow type and outcome."
    ).add(1, {"workflow_type": workflow_type, "outcome": outcome})


def tenant_migrated(outcome: str) -> None:
    """A fleet rollout finished one tenant: `outcome` such as succeeded, failed, skipped."""
    workflow.metric_meter().create_counter(
        TENANT_MIGRATIONS, "Tenants a fleet schema rollout finished, by outcome."
    ).add(1, {"outcome": outcome})
