"""OpenTelemetry traces, configured only by the standard `OTEL_*` variables.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; then
spans leave over OTLP HTTP/protobuf, batched (`OTEL_BSP_*`), named by `OTEL_SERVICE_NAME`
(default tenantflow-api / tenantflow-worker). When off nothing is imported or installed: no
interceptor, no instrumentation, no cost on the request path.

What is traced once on: the API's requests (FastAPI makes the server spans itself once a tracer
provider is set), Temporal client calls, workflows and activities (the SDK's TracingInterceptor,
which carries the context through the server in headers), and every PostgreSQL statement
(the asyncpg instrumentation: SQLAlchemy, Alembic and the listeners all go through asyncpg).
Statements are recorded without their parameters.
"""

import logging
import os

from temporalio.client import Interceptor

log = logging.getLogger(__name__)

_interceptors: list[Interceptor] | None = None


def enabled() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def setup(default_service_name: str) -> list[Interceptor]:
    """Install the process's tracer provider once; the Temporal interceptors to connect with.

    Returns [] when tracing is off. The interceptor goes on the client: the API's traces the
    start of a workflow from the request, and a worker built on a client inherits it for its
    workflows and activities.
    """
    global _interceptors
    if _interceptors is not None:
        return _interceptors
    if not enabled():
        _interceptors = []
        return _interceptors
    # Imported only when on: the SDK, the exporter and the instrumentation cost nothing when off.
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from temporalio.contrib.opentelemetry import TracingInterceptor

    name = os.environ.get("OTEL_SERVICE_NAME") or default_service_name
    # The exporter reads the endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*, the batch
    # processor its delays from OTEL_BSP_*, the provider its sampler from OTEL_TRACES_SAMPLER.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    _interceptors = [TracingInterceptor(trace.get_tracer("tenantflow", tracer_provider=provider))]
    log.info("tracing on: OTLP spans of %s sent to the OTEL_EXPORTER_OTLP_ENDPOINT", name)
    return _interceptors
