"""`python -m api` in a process of its own: the real entry point, with its uvicorn options."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from core.settings import Settings
from tests.helpers import free_port, sealing_env


@contextmanager
def api_process(settings: Settings, **env: str) -> Iterator[tuple[str, int]]:
    """Yield the base URL and pid of a healthy `python -m api` serving `settings`."""
    assert settings.database_url and settings.jwt_secret
    port = free_port()
    environment = os.environ | {
        "DATABASE_URL": settings.database_url,
        "TENANTS_DATABASE": settings.tenants_database,
        "TENANT_STORAGE_PREFIX": settings.tenant_storage_prefix,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "API_PORT": str(port),
        **sealing_env(settings),
        **env,
    }
    process = subprocess.Popen([sys.executable, "-m", "api"], env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the API process died"
            time.sleep(0.1)
        else:
            raise AssertionError("the API process never became healthy")
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def peak_memory_bytes(pid: int) -> int:
    """The process's peak resident set (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
