"""For the traces and logs tests: a real OTLP/HTTP trace receiver (POST /v1/traces, protobuf,
spans kept in memory) and the API and a worker as processes of their own, as an operator starts
them, with their output kept: tracing and logging are configured per process."""

import asyncio
import gzip
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from core.settings import Settings
from tests.faults.processes import Component, component_env
from tests.helpers import free_port


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any] = field(hash=False)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


T = TypeVar("T")


class Receiver:
    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._arrived = threading.Condition()
        self.url = ""

    def spans(self) -> list[Span]:
        with self._arrived:
            return list(self._spans)

    async def wait_for(self, check: Callable[[list[Span]], T | None], within: float = 30.0) -> T:
        """Check the spans received so far, and again after each export, until `check` finds
        what it looks for (not None)."""
        async with asyncio.timeout(within):
            while True:
                spans = self.spans()
                found = check(spans)
                if found is not None:
                    return found
                await asyncio.to_thread(self._wait_past, len(spans))

    def _wait_past(self, count: int) -> None:
        with self._arrived:
            # Bounded: a cancelled wait_for leaves no thread waiting for long.
            self._arrived.wait_for(lambda: len(self._spans) > count, timeout=1.0)

    def add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        Span(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            kind=SpanProto.SpanKind.Name(span.kind),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._arrived:
            self._spans.extend(received)
            self._arrived.notify_all()


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """Yield a receiver listening on 127.0.0.1; its `url` is an OTEL_EXPORTER_OTLP_ENDPOINT."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            receiver.add(request)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per export batch would drown the test's output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Stack:
    url: str
    api: Component
    worker: Component

    def output(self) -> list[str]:
        return self.api.output + self.worker.output


@contextmanager
def process_stack(settings: Settings, **env: str) -> Iterator[Stack]:
    """`python -m api` and `python -m workflows.worker` on `settings` plus `env`; yield once
    both serve. Their output is kept whole (stdout and stderr)."""
    port = free_port()
    environment = component_env(settings, API_HOST="127.0.0.1", API_PORT=str(port), **env)
    with ExitStack() as stack:
        worker = Component("worker", [sys.executable, "-m", "workflows.worker"], environment)
        stack.callback(worker.stop)
        api = Component("api", [sys.executable, "-m", "api"], environment)
        stack.callback(api.stop)
        yield Stack(f"http://127.0.0.1:{port}", api, worker)
