"""Where the time from POST to Active goes, read off each run's Temporal history.

For one tenant: the client's POST began at `began` and it saw Active on `/events` at `seen`
(wall clock, same machine as the servers). The history's event times split that span into:

- `api_and_start`: POST began → WorkflowExecutionStarted (the API's work and the start RPC);
- `activity_running`: some activity running (ActivityTaskStarted → Completed/Failed);
- `activity_dispatch`: an activity scheduled, not yet started, none running;
- `workflow_task_running`: a workflow task on the worker (local activities run here);
- `workflow_task_dispatch`: a workflow task scheduled, not yet started;
- `delivery`: the rest (the last task's completion → the Active snapshot on the stream).

Overlaps (the admin user and the storage run at once) are counted once, in that order of
priority, so the parts add up to the whole.
"""

from collections.abc import Iterable
from statistics import median
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

E = EventType
PARTS = (
    "api_and_start",
    "activity_running",
    "activity_dispatch",
    "workflow_task_running",
    "workflow_task_dispatch",
    "delivery",
)
_PAIRS = {
    # start event -> (end events, part); matched by the scheduled/started event id.
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity_dispatch",
    E.EVENT_TYPE_ACTIVITY_TASK_STARTED: "activity_running",
    E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: "workflow_task_dispatch",
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED: "workflow_task_running",
}


def _at(event: Any) -> float:
    return float(event.event_time.ToNanoseconds()) / 1e9


def _intervals(events: list[Any]) -> dict[str, list[tuple[float, float]]]:
    opened: dict[int, tuple[str, float]] = {}
    spans: dict[str, list[tuple[float, float]]] = {part: [] for part in PARTS}
    for event in events:
        kind = event.event_type
        if kind in _PAIRS:
            opened[event.event_id] = (_PAIRS[kind], _at(event))
        attrs = None
        for field in (
            "activity_task_started_event_attributes",
            "activity_task_completed_event_attributes",
            "activity_task_failed_event_attributes",
            "activity_task_timed_out_event_attributes",
            "activity_task_canceled_event_attributes",
            "workflow_task_started_event_attributes",
            "workflow_task_completed_event_attributes",
            "workflow_task_failed_event_attributes",
            "workflow_task_timed_out_event_attributes",
        ):
            if event.HasField(field):
                attrs = getattr(event, field)
                break
        if attrs is None:
            continue
        for key in ("scheduled_event_id", "started_event_id"):
            began = opened.pop(getattr(attrs, key, 0), None)
            if began is not None:
                spans[began[0]].append((began[1], _at(event)))
    return spans


def _covered(
    spans: Iterable[tuple[float, float]], lo: float, hi: float
) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted((max(s, lo), min(e, hi)) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _minus(spans: list[tuple[float, float]], taken: list[tuple[float, float]]) -> float:
    """Length of `spans` not already in `taken` (both merged, sorted)."""
    total = 0.0
    for start, end in spans:
        length = end - start
        for t_start, t_end in taken:
            length -= max(0.0, min(end, t_end) - max(start, t_start))
        total += max(0.0, length)
    return total


async def one_run(client: Client, workflow_id: str, began: float, seen: float) -> dict[str, float]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = list(history.events)
    started = _at(events[0])
    spans = _intervals(events)
    parts = {"api_and_start": max(0.0, started - began)}
    taken: list[tuple[float, float]] = []
    for part in PARTS[1:-1]:
        covered = _covered(spans[part], started, seen)
        parts[part] = _minus(covered, taken)
        taken = _covered([*taken, *covered], started, seen)
    parts["delivery"] = max(0.0, (seen - began) - sum(parts.values()))
    return {part: round(value * 1000, 1) for part, value in parts.items()}


async def breakdown(client: Client, runs: list[tuple[str, float, float]]) -> dict[str, float]:
    """Median milliseconds per part over runs of (workflow id, began, seen)."""
    rows = [await one_run(client, workflow_id, began, seen) for workflow_id, began, seen in runs]
    return {part: round(median(row[part] for row in rows), 1) for part in PARTS} if rows else {}
