"""SIGKILL of the Temporal dev server mid-provisioning, restarted on the same state file and
port: the worker and the API reconnect and every run completes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.main import create_app
from core.settings import Settings
from core.status import TenantStatus
from tests.faults.conftest import sized
from tests.faults.holds import start_held
from tests.faults.processes import (
    Component,
    listening_port,
    temporal_server_argv,
    worker_process,
)
from tests.faults.storage import expected_footprint, tenant_footprint
from tests.helpers import serve_in_thread, unique_tenant_id, wait_for_status

pytestmark = pytest.mark.faults

FINAL = {TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.CANCELLED}


class TemporalServer:
    """The dev server binary, started (and restarted) on one port and one SQLite file."""

    def __init__(self, state_file: Path) -> None:
        self.argv = temporal_server_argv(state_file, listening_port(), listening_port())
        self.address = f"127.0.0.1:{self.argv[self.argv.index('--port') + 1]}"
        self.process: Component | None = None

    async def start(self) -> None:
        self.process = Component("temporal", self.argv, {})
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(RuntimeError):
                    await Client.connect(self.address)
                    return
                await asyncio.sleep(0.2)

    async def kill(self) -> None:
        assert self.process is not None
        await self.process.kill()
        self.process.stop()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture
async def temporal_server(tmp_path: Path) -> AsyncIterator[TemporalServer]:
    server = TemporalServer(tmp_path / "temporal.db")
    await server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def api_on(settings: Settings, token: str) -> Iterator[httpx.AsyncClient]:
    with serve_in_thread(create_app(settings)) as url:
        headers = {"Authorization": f"Bearer {token}"}
        yield httpx.AsyncClient(base_url=url, headers=headers, timeout=60)


async def test_temporal_killed_mid_provisioning_every_run_completes(
    temporal_server: TemporalServer, own_settings: Settings, root_token: str
) -> None:
    own = own_settings.model_copy(update={"temporal_address": temporal_server.address})
    tenants = [(unique_tenant_id("tkill"), n % 2 == 1) for n in range(sized(2, 20))]
    with api_on(own, root_token) as api, worker_process(own) as worker:
        await worker.wait_for_output("worker polling")
        async with api, contextlib.AsyncExitStack() as held:
            await asyncio.gather(
                *(
                    start_held(held, api, own, t, "migrate_tenant_database", isolated=i)
                    for t, i in tenants
                )
            )
            await temporal_server.kill()
            await temporal_server.start()  # same port, same state file
            await held.aclose()
            finals = [await wait_for_status(api, t, FINAL, within=120) for t, _ in tenants]

    assert [t["status"] for t in finals] == ["Active"] * len(tenants), finals
    for tenant_id, isolated in tenants:
        assert await tenant_footprint(own, tenant_id) == expected_footprint(isolated)
