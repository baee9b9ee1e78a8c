"""`make dev` (python -m devstack) restarts a worker killed with SIGKILL, keeps provisioning, and
Ctrl-C stops every process it started."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from core.status import TenantStatus
from devstack.__main__ import DEV_DEFAULTS
from tests.conftest import token_for
from tests.faults.conftest import FULL
from tests.faults.processes import Component, listening_port
from tests.helpers import tenant_body, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.faults

# The dev stack picks its own servers: none of the suite's may leak into it.
NOT_INHERITED = ("DATABASE_URL", "TEMPORAL_ADDRESS", "SMTP_HOST", "TEMPORAL_TASK_QUEUE")


def dev_stack_env(data: Path) -> dict[str, str]:
    """`make dev`'s environment with ports of its own (none of a running `make dev`'s)."""
    return {k: v for k, v in os.environ.items() if k not in NOT_INHERITED} | {
        "DATA_DIR": str(data),
        "TEMPORAL_PORT": str(listening_port()),
        "TEMPORAL_UI_PORT": str(listening_port()),
        "TEMPORAL_METRICS_PORT": str(listening_port()),
        "WORKER_METRICS_PORT": str(listening_port()),
        "API_PORT": str(listening_port()),
        "SMTP_PORT": str(listening_port()),
        "PYTHONUNBUFFERED": "1",
    }


def dev_stack(data: Path, env: dict[str, str] | None = None) -> tuple[Component, str]:
    env = env or dev_stack_env(data)
    stack = Component("devstack", [sys.executable, "-m", "devstack"], env)
    return stack, f"http://127.0.0.1:{env['API_PORT']}"


def component(stack: Component, module: str) -> psutil.Process:
    children = psutil.Process(stack.pid).children(recursive=True)
    return next(p for p in children if module in " ".join(p.cmdline()))


def processes_of(stack: Component, data: Path) -> list[psutil.Process]:
    """Everything the stack started: its children and the PostgreSQL server in its data dir."""
    found = psutil.Process(stack.pid).children(recursive=True)
    for process in psutil.process_iter(["cmdline"]):
        if str(data) in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


async def until_healthy(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client, asyncio.timeout(60):
        while True:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(0.2)


async def test_a_killed_worker_is_restarted_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    stack, url = dev_stack(tmp_path / "data")
    try:
        await stack.wait_for_output("[devstack]  App", within=120)
        await until_healthy(url)

        os.kill(component(stack, "workflows.worker").pid, signal.SIGKILL)
        await stack.wait_for_output("worker exited (signal 9); restarting in 1 s (restart 1)")
        await stack.wait_for_output("restarting worker (restart 1)")

        token = await token_for(url, DEV_DEFAULTS["ROOT_EMAIL"], DEV_DEFAULTS["ROOT_PASSWORD"])
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api:
            tenant_id = unique_tenant_id("dev")
            assert (await api.post("/api/tenants", json=tenant_body(tenant_id))).status_code == 202
            tenant = await wait_for_status(
                api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED}, within=60
            )
        assert tenant["status"] == "Active", tenant["provisioningError"]

        started = processes_of(stack, tmp_path / "data")
        assert len(started) >= 5  # temporal, smtp, worker, api, postgres (and its helpers)
        stack.process.send_signal(signal.SIGINT)
        assert await stack.wait() == 0
        _, alive = psutil.wait_procs(started, timeout=30)
        assert alive == []
    finally:
        stack.stop()


def postmaster(data: Path) -> psutil.Process:
    return psutil.Process(int((data / "postgres" / "postmaster.pid").read_text().split()[0]))


@pytest.mark.parametrize("holder", ["temporal", "postgres"] if FULL else ["temporal"])
async def test_a_dead_temporal_or_postgres_stops_the_stack_and_says_why(
    tmp_path: Path, holder: str
) -> None:
    data = tmp_path / "data"
    stack, url = dev_stack(data)
    try:
        await stack.wait_for_output("[devstack]  App", within=120)
        await until_healthy(url)
        started = processes_of(stack, data)
        if holder == "temporal":
            component(stack, "start-dev").kill()
            await stack.wait_for_output("[temporal]  exited (signal 9); it is not restarted")
        else:
            postmaster(data).kill()
            await stack.wait_for_output("the embedded PostgreSQL is gone")
        await stack.wait_for_output("stopping the stack")
        assert await stack.wait() == 1
        _, alive = psutil.wait_procs(started, timeout=30)
        assert alive == []
    finally:
        stack.stop()
