"""`make dev` refuses to start twice (naming the port and who holds it) and stops quietly:
no dev-server warnings, no ASGI error for an open event stream, and a last "stopped" line."""

import signal
from pathlib import Path

import httpx
import pytest

from devstack.__main__ import DEV_DEFAULTS
from tests.conftest import token_for
from tests.faults.test_devstack import dev_stack, dev_stack_env, until_healthy

pytestmark = pytest.mark.faults


async def test_a_second_make_dev_is_refused_and_ctrl_c_stops_quietly(tmp_path: Path) -> None:
    env = dev_stack_env(tmp_path / "data")
    stack, url = dev_stack(tmp_path / "data", env)
    try:
        await stack.wait_for_output("[devstack]  App", within=120)
        await until_healthy(url)

        second, _ = dev_stack(tmp_path / "data", env)
        try:
            assert await second.wait() == 1
        finally:
            second.stop()
        api_port = env["API_PORT"]
        assert any(
            f"already running on port {api_port} (API_PORT)" in line and "python -m api" in line
            for line in second.output
        ), second.output
        assert not any("App " in line for line in second.output)  # no banner, nothing started

        token = await token_for(url, DEV_DEFAULTS["ROOT_EMAIL"], DEV_DEFAULTS["ROOT_PASSWORD"])
        async with (
            httpx.AsyncClient(base_url=url, timeout=60) as client,
            client.stream("GET", "/api/notifications", params={"access_token": token}) as sse,
        ):
            assert sse.status_code == 200
            await stack.wait_for_output("GET /api/notifications")
            stopping = len(stack.output)
            stack.process.send_signal(signal.SIGINT)
            async for _ in sse.aiter_bytes():  # ends cleanly, not with a broken body
                pass
        assert await stack.wait() == 0
    finally:
        stack.stop()

    after = stack.output[stopping:]
    assert after[-1].endswith("[devstack]  stopped"), after[-5:]
    assert not [line for line in after if "level=WARN" in line], after
    assert not [line for line in after if "ASGI callable" in line or "Traceback" in line], after
