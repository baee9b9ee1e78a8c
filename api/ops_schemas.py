"""Bodies of the operations view's endpoint (GET /api/ops/summary); sources in api/ops.py."""

from datetime import datetime

from pydantic import Field

from api.schemas import CamelModel


class MinuteFigures(CamelModel):
    minute: datetime = Field(description="The minute's start (UTC)")
    created: int = Field(description="Tenant rows created in that minute")
    activated: int = Field(description="Provisioning runs completed in that minute")
    p50_seconds: float | None = Field(description="Median time to Active of those runs")
    p95_seconds: float | None = Field(description="95th percentile time to Active of those runs")


class FailedStep(CamelModel):
    workflow_type: str
    step: str = Field(description="The step the failed run's final snapshot shows as failed")
    count: int


class TaskQueueFigures(CamelModel):
    name: str
    workers: int = Field(description="Distinct pollers (worker identities) seen lately")
    backlog: int = Field(description="Approximate workflow and activity tasks waiting")
    backlog_age_seconds: float = Field(description="Age of the oldest waiting task")


class OpsSummary(CamelModel):
    generated_at: datetime
    window_minutes: int
    minutes: list[MinuteFigures] = Field(description="The window, oldest minute first")
    created: int = Field(description="Tenant rows created in the window")
    activated: int = Field(description="Provisioning runs completed in the window")
    p50_seconds: float | None
    p95_seconds: float | None
    failures_by_step: list[FailedStep] = Field(description="Failed runs in the window, by step")
    in_flight: int = Field(description="Tenants with an operation under way")
    in_flight_by_status: dict[str, int]
    task_queue: TaskQueueFigures | None = Field(
        description="None when Temporal cannot describe the task queue"
    )
