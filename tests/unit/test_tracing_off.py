import os
import subprocess
import sys

import pytest

CHECK = """
import sys
import asyncpg
from core import tracing
assert tracing.setup("tenantflow-test") == []
loaded = [m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter",
                                                  "opentelemetry.instrumentation"))]
assert not loaded, loaded
assert not hasattr(asyncpg.connection.Connection.execute, "__wrapped__")
"""


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_without_an_endpoint_tracing_loads_and_wraps_nothing(env: dict[str, str]) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    subprocess.run([sys.executable, "-c", CHECK], env=clean | env, check=True)
