"""Fixtures of the fault-injection suite. FAULTS_SCALE=short (the default, in `make test`) runs
each scenario on a few tenants; FAULTS_SCALE=full (`make faults`) at the size docs/reliability.md
reports."""

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from api.main import create_app
from core.models import RateLimit
from core.settings import Settings
from tests.helpers import serve_in_thread

FULL = os.environ.get("FAULTS_SCALE", "short") == "full"


def sized(short: int, full: int) -> int:
    """How many runs a scenario makes at this scale."""
    return full if FULL else short


@pytest.fixture
def own_settings(settings: Settings) -> Settings:
    """The session's servers, with a task queue no in-process worker serves: only the worker
    processes a test starts (and kills) run its workflows."""
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    return settings.model_copy(update={"temporal_task_queue": queue})


@pytest.fixture
async def own_api(own_settings: Settings, root_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real API (in a thread) starting workflows on `own_settings`' task queue, as root."""
    headers = {"Authorization": f"Bearer {root_token}"}
    with serve_in_thread(create_app(own_settings)) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            yield client


@pytest.fixture
async def fresh_counts(control_plane: AsyncEngine) -> AsyncIterator[None]:
    """Sign-in counts are shared by every API of the session (and 127.0.0.1 is every test's
    address): start with none and leave none behind."""
    async with control_plane.begin() as conn:
        await conn.execute(delete(RateLimit))
    yield
    async with control_plane.begin() as conn:
        await conn.execute(delete(RateLimit))
