"""The API process's Prometheus metrics (GET /metrics), and a count of the Temporal queries it
sends (tests and the benchmark read that).

One registry per app, never the library's global one: tests build several apps in one process,
and each must count its own requests. Labels are bounded: a route's template, never its path
(no tenant ids), and the progress hub's readers as two gauges, not a series per workflow.
"""

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Interceptor, OutboundInterceptor, QueryWorkflowInput

from api.progress_hub import ProgressHub

# SSE streams by the route serving them; another stream is labelled with its route template.
STREAMS = {
    "/api/tenants/{tenant_id}/events": "progress",
    "/api/notifications": "notifications",
    "/api/tenants/bulk/{bulk_id}/events": "bulk",
    "/api/signup/{tenant_id}/events": "signup",
    "/api/migrations/{rollout_id}/events": "rollout",
}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0)


class ApiMetrics:
    """The metrics one API app exports; built with the app, read by its /metrics route."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tenantflow_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tenantflow_http_request_duration_seconds",
            "Time to the response's headers (an SSE stream's: until it starts streaming).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.streams = Gauge(
            "tenantflow_sse_streams_open",
            "Server-sent event streams open now, by stream.",
            ["stream"],
            registry=self.registry,
        )
        self.delivery_lag = Histogram(
            "tenantflow_notification_delivery_lag_seconds",
            "From a notification's creation (database clock) to its first sending on a stream.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "tenantflow_sign_in_attempts",
            "Sign-in attempts by throttling outcome: allowed, or throttled and by which limit.",
            ["outcome", "limit"],
            registry=self.registry,
        )
        self.hubs = _HubCollector()
        self.registry.register(self.hubs)

    def watch(self, progress: ProgressHub, listener_up: Callable[[], bool]) -> None:
        """Export the progress hub's readers and the notification listener's state (both live
        as long as the app's lifespan)."""
        self.hubs.progress = progress
        self.hubs.listener_up = listener_up

    def sent_notification(self, created_at: datetime) -> None:
        self.delivery_lag.observe(max(0.0, time.time() - created_at.timestamp()))

    def sign_in(self, throttled_by: str | None) -> None:
        if throttled_by is None:
            self.sign_ins.labels("allowed", "").inc()
        else:
            self.sign_ins.labels("throttled", throttled_by).inc()


class _HubCollector(Collector):
    def __init__(self) -> None:
        self.progress: ProgressHub | None = None
        self.listener_up: Callable[[], bool] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.progress is not None:
            yield GaugeMetricFamily(
                "tenantflow_progress_readers",
                "Shared progress readers (one per followed workflow run) in this process.",
                value=self.progress.readers,
            )
            yield GaugeMetricFamily(
                "tenantflow_progress_subscribers",
                "Progress streams attached to those readers.",
                value=self.progress.subscribers,
            )
        if self.listener_up is not None:
            yield GaugeMetricFamily(
                "tenantflow_notification_listener_up",
                "1 while the notification LISTEN connection is up (else streams poll).",
                value=1.0 if self.listener_up() else 0.0,
            )


def route_label(scope: Scope) -> str:
    """The matched route's template; a path no route matched is one label, not one each."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return "static"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class HttpMetrics:
    """Pure ASGI middleware: counts and times every HTTP request, and keeps SSE streams open
    on a gauge while they stream. Added last, so it runs first and sees every answer (a 413
    from the body limit too)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"] if scope["method"] in METHODS else "other"
        answered = False
        stream: Any = None

        async def sending(message: Message) -> None:
            nonlocal answered, stream
            if message["type"] == "http.response.start":
                # Counted before the headers leave: a client that has its answer sees it counted.
                answered = True
                route = route_label(scope)
                self.metrics.requests.labels(method, route, str(message["status"])).inc()
                self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
                headers = dict(message.get("headers", ()))
                if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                    stream = self.metrics.streams.labels(STREAMS.get(route, route))
                    stream.inc()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if stream is not None:
                stream.dec()
            if not answered:  # the app failed before answering: the server sends a 500
                self.metrics.requests.labels(method, route_label(scope), "500").inc()


class QueryCounter(Interceptor):
    def __init__(self) -> None:
        self.queries = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _CountingOutbound(next, self)


class _CountingOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, counter: QueryCounter) -> None:
        super().__init__(next)
        self._counter = counter

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self._counter.queries += 1
        return await super().query_workflow(input)
