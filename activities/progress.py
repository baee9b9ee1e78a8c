"""Report failed attempts to the workflow, so its progress query shows retries as they happen.

Temporal retries an activity on the server; the workflow only learns the final outcome. A failed
attempt signals the workflow (`ATTEMPT_FAILED_SIGNAL`) before it raises, which also puts an event
in history that wakes the API's SSE readers. Reporting is best effort: it never changes the
activity's own outcome.
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.models import AttemptFailure
from activities.translate import at_boundary, describe_detail

ATTEMPT_FAILED_SIGNAL = "activity_attempt_failed"

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class AttemptReporter:
    def __init__(self, client: Client | None) -> None:
        self._client = client

    async def report(self, err: Exception) -> None:
        info = activity.info()
        failure = AttemptFailure(
            activity=info.activity_type,
            attempt=info.attempt,
            error=describe_error(err),
            will_retry=_will_retry(err, info),
            error_detail=describe_detail(err),
        )
        await self._send(info, failure)

    async def report_earlier_attempt(self) -> None:
        """At the start of attempt N > 1, report how attempt N-1 ended. Its worker normally
        did; one that died (noticed by the heartbeat timeout) could not, and the snapshot would
        show attempt 1 with no error. A report the workflow already has is ignored there."""
        info = activity.info()
        # A local activity's attempts all run on this worker, which reports each failure.
        if self._client is None or info.attempt <= 1 or info.is_local:
            return
        try:
            error = await self._last_failure(info)
        except Exception:
            log.warning("could not read the last failure of %s", info.activity_type, exc_info=True)
            error = None
        failure = AttemptFailure(
            activity=info.activity_type,
            attempt=info.attempt - 1,
            error=error or f"attempt {info.attempt - 1} did not finish",
            will_retry=True,
        )
        await self._send(info, failure)

    async def _last_failure(self, info: activity.Info) -> str | None:
        assert self._client is not None and info.workflow_id is not None
        handle = self._client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
        description = await handle.describe(rpc_timeout=timedelta(seconds=2))
        for pending in description.raw_description.pending_activities:
            if pending.activity_id != info.activity_id or not pending.HasField("last_failure"):
                continue
            failure = pending.last_failure
            if failure.HasField("timeout_failure_info"):
                return (
                    f"The worker running attempt {info.attempt - 1} stopped responding "
                    f"({failure.message})"
                )
            return failure.message or None
        return None

    async def _send(self, info: activity.Info, failure: AttemptFailure) -> None:
        if self._client is None:
            return
        try:
            assert info.workflow_id is not None, "only workflow activities report attempts"
            handle = self._client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
            await handle.signal(ATTEMPT_FAILED_SIGNAL, failure)
        except Exception:
            log.warning("could not report failed attempt of %s", info.activity_type, exc_info=True)


class HasReporter(Protocol):
    reporter: AttemptReporter


S = TypeVar("S", bound=HasReporter)


def reports_failed_attempts(
    fn: Callable[Concatenate[S, P], Awaitable[T]],
) -> Callable[Concatenate[S, P], Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        await self.reporter.report_earlier_attempt()
        try:
            return await fn(self, *args, **kwargs)
        except Exception as err:
            # A driver error no raise site translated: still a sentence, never driver text.
            translated = at_boundary(activity.info().activity_type, err)
            await self.reporter.report(translated or err)
            if translated is not None:
                raise translated from err
            raise

    return wrapper  # type: ignore[return-value]


def describe_error(err: BaseException) -> str:
    """What people read about `err`: an ApplicationError's sentence (activities translate driver
    errors into one, activities/translate.py); its technical detail is `describe_detail`."""
    if isinstance(err, ApplicationError):
        return err.message
    return f"{type(err).__name__}: {err}"


def _will_retry(err: Exception, info: activity.Info) -> bool:
    if isinstance(err, ApplicationError) and err.non_retryable:
        return False
    policy = info.retry_policy
    if policy is None:
        return True
    if isinstance(err, ApplicationError) and err.type in (policy.non_retryable_error_types or ()):
        return False
    return policy.maximum_attempts == 0 or info.attempt < policy.maximum_attempts
