"""Links follow the configuration `make dev` derives from its ports: the Web UI in /api/config
and the sign-in link of the welcome e-mail (over the real SMTP server)."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.main import create_app
from core.settings import Settings
from core.status import TenantStatus
from devstack.__main__ import derived_urls
from devstack.smtp_sink import Collector
from tests.helpers import PASSWORD, serve_in_thread, unique_tenant_id, wait_for_status
from workflows.worker import build_worker

pytestmark = pytest.mark.integration

DERIVED = ("temporal_ui_url", "public_url")


async def test_config_and_welcome_email_use_the_urls_derived_from_the_ports(
    settings: Settings,
    temporal_client: Client,
    control_plane: AsyncEngine,
    smtp_server: Collector,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As `make dev` with API_PORT=9100 TEMPORAL_UI_PORT=9233 starts the API and the worker:
    # the URLs reach them as environment variables.
    for key, value in derived_urls({"API_PORT": "9100"}, "9233").items():
        monkeypatch.setenv(key, value)
    given = {name: getattr(settings, name) for name in Settings.model_fields if name not in DERIVED}
    configured = Settings(**given | {"temporal_task_queue": f"urls-{uuid.uuid4().hex[:8]}"})

    async with build_worker(temporal_client, control_plane, configured):
        with serve_in_thread(create_app(configured)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as anonymous:
                config = (await anonymous.get("/api/config")).json()
                assert config["temporalUiUrl"] == "http://127.0.0.1:9233"

                tenant_id = unique_tenant_id("urls")
                to = f"founder@{tenant_id}.example.com"
                body = {"id": tenant_id, "name": "Urls", "adminEmail": to, "password": PASSWORD}
                assert (await anonymous.post("/api/signup", json=body)).status_code == 202
                tenant = await wait_for_status(
                    api, tenant_id, {TenantStatus.ACTIVE, TenantStatus.FAILED}
                )
                assert tenant["status"] == "Active", tenant["provisioningError"]
                async with asyncio.timeout(30):
                    while True:
                        mail = [m for m in smtp_server.messages if m["To"] == to]
                        if mail:
                            break
                        await asyncio.sleep(0.05)
    body_part = mail[0].get_body(("plain",))
    assert body_part is not None
    text = body_part.get_content()
    assert "Sign in at http://127.0.0.1:9100/ " in text
    assert ":8000" not in text
