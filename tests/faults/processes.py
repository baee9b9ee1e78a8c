"""Real component processes for fault injection: `python -m workflows.worker`, `python -m api`
and the Temporal dev server, started as an operator would, so that SIGKILL is a real one."""

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from core.settings import Settings
from devstack.__main__ import DEV_SERVER_TUNING, SEARCH_ATTRIBUTES, temporal_binary
from tests.helpers import sealing_env


class Component:
    """A child process whose output is kept (and echoed, for pytest's captured output)."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.output: list[str] = []
        self.process = subprocess.Popen(
            list(argv),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())
            print(f"[{self.name}] {line.rstrip()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait_for_output(self, text: str, within: float = 30.0) -> str:
        async with asyncio.timeout(within):
            while True:
                found = [line for line in self.output if text in line]
                if found:
                    return found[0]
                if self.process.poll() is not None:
                    raise AssertionError(f"{self.name} exited before printing {text!r}")
                await asyncio.sleep(0.05)

    async def wait(self, within: float = 60.0) -> int:
        code: int = await asyncio.to_thread(self.process.wait, within)
        return code

    async def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, whatever the process was doing just vanishes."""
        self.process.kill()
        await self.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(45)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._pump.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def component_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment an operator would give a worker or an API process on these servers."""
    assert settings.database_url and settings.jwt_secret and settings.root_password
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "TENANTS_DATABASE": settings.tenants_database,
        "TENANT_STORAGE_PREFIX": settings.tenant_storage_prefix,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "ROOT_EMAIL": settings.root_email,
        "ROOT_PASSWORD": settings.root_password.get_secret_value(),
        "SMTP_PORT": str(settings.smtp_port),
        "PYTHONUNBUFFERED": "1",
        **sealing_env(settings),
    }
    return env | extra


@contextmanager
def worker_process(settings: Settings, name: str = "worker") -> Iterator[Component]:
    worker = Component(name, [sys.executable, "-m", "workflows.worker"], component_env(settings))
    try:
        yield worker
    finally:
        worker.stop()


@contextmanager
def api_process(settings: Settings, port: int, name: str = "api") -> Iterator[Component]:
    env = component_env(settings, API_HOST="127.0.0.1", API_PORT=str(port))
    api = Component(name, [sys.executable, "-m", "api"], env)
    try:
        yield api
    finally:
        api.stop()


def temporal_server_argv(state_file: Path, port: int, ui_port: int) -> list[str]:
    """The dev server as `make dev` runs it: its state in a SQLite file that survives it."""
    argv = [temporal_binary(), "server", "start-dev", "--db-filename", str(state_file)]
    argv += ["--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port)]
    argv += ["--log-level", "error"]
    for attribute in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", attribute]
    for value in DEV_SERVER_TUNING:
        argv += ["--dynamic-config-value", value]
    return argv


def listening_port() -> int:
    """A free port below the ephemeral range: the dev server opens many outgoing connections
    while it starts, and one of them can take a just-freed ephemeral port before it binds it."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
