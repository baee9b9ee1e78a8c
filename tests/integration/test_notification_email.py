"""The e-mail fallback, through the real SMTP server of the suite: a notification no stream took in
time is e-mailed once (whatever number of API processes sweep), a delivered one never, and not
to a user who opted out."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.main import create_app
from api.notification_mail import NotificationMailer, message_id
from core.database import create_engine
from core.settings import Settings
from devstack.smtp_sink import Collector
from tests.api_process import api_process
from tests.helpers import (
    Account,
    listen,
    serve_in_thread,
    tenant_admin_account,
    unique_tenant_id,
    until_value,
    until_value_sync,
)

pytestmark = pytest.mark.integration

# Short for the tests; 600 s by default.
DELAY_SECONDS = 1.0


def mails(sink: Collector, notification_id: int) -> list[EmailMessage]:
    return [m for m in sink.messages if m["Message-ID"] == message_id(notification_id)]


@pytest.fixture
async def admin(api: httpx.AsyncClient, api_url: str, control_plane: AsyncEngine) -> Account:
    """The admin of a fresh tenant, signed in (no stream open yet)."""
    return await tenant_admin_account(api, api_url, control_plane, "mail")


@pytest.fixture
async def mailer_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine of its own, as another API process would have."""
    assert settings.database_url
    engine = create_engine(settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def mailer(engine: AsyncEngine, settings: Settings) -> NotificationMailer:
    """A sweep that finds everything undelivered due (no waiting in these tests)."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    return NotificationMailer(sessions, settings, after=timedelta(0))


async def drain(engine: AsyncEngine, settings: Settings) -> None:
    """Sweep until nothing is due: a sweep sends at most a batch, oldest first, and the session's
    database holds every earlier test's undelivered notifications (root's above all)."""
    sweeper = mailer(engine, settings)
    while await sweeper.send_due():
        pass


async def insert_notification(engine: AsyncEngine, user_id: str, about: str) -> int:
    async with engine.begin() as conn:
        row_id = await conn.scalar(
            text(
                "INSERT INTO notifications (key, user_id, type, message, tenant_id, tenant_name) "
                "VALUES (:key, :user, 'TenantUpdated', :message, :about, :about) RETURNING id"
            ),
            {"key": f"test:{about}", "user": user_id, "about": about, "message": f"{about} ok"},
        )
    return int(row_id)


async def emailed(engine: AsyncEngine, notification_id: int) -> bool:
    async with engine.connect() as conn:
        return bool(
            await conn.scalar(
                text("SELECT emailed_at IS NOT NULL FROM notifications WHERE id = :id"),
                {"id": notification_id},
            )
        )


@pytest.fixture
def short_delay(settings: Settings, smtp_server: Collector) -> Settings:
    return settings.model_copy(update={"notification_email_after_seconds": DELAY_SECONDS})


@pytest.fixture
def two_api_processes(
    short_delay: Settings, smtp_server: Collector
) -> Iterator[NotificationMailer]:
    """`python -m api` and an API in a thread, both sweeping with the short delay; yields the
    second's mailer (its sweeps can be counted)."""
    env = {
        "SMTP_PORT": str(smtp_server.port),
        "NOTIFICATION_EMAIL_AFTER_SECONDS": str(DELAY_SECONDS),
    }
    app = create_app(short_delay)
    with api_process(short_delay, **env), serve_in_thread(app):
        yield app.state.notification_mailer


async def test_an_undelivered_notification_is_emailed_once_with_a_stable_message_id(
    admin: Account,
    control_plane: AsyncEngine,
    mailer_engine: AsyncEngine,
    settings: Settings,
    smtp_server: Collector,
    two_api_processes: NotificationMailer,
) -> None:
    # The admin is told their tenant is ready (written just after it became Active).
    created = text("SELECT id FROM notifications WHERE user_id = :u AND type = 'TenantCreated'")
    async with control_plane.connect() as conn:
        notification_id = await until_value(lambda: conn.scalar(created, {"u": admin.user_id}))

    [mail] = await until_value_sync(lambda: mails(smtp_server, notification_id))
    assert mail["To"] == admin.email
    assert mail["Subject"] == f"Tenantflow: Tenant 'Tenant {admin.tenant_id}' is ready"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body(("plain",))
    assert body is not None and settings.public_url in body.get_content()

    # Both processes sweep again after it went out, and so does a third sweeper: no second copy.
    seen = two_api_processes.sweeps
    await until_value_sync(lambda: two_api_processes.sweeps >= seen + 2)
    await mailer(mailer_engine, settings).send_due()
    assert len(mails(smtp_server, notification_id)) == 1
    assert await emailed(control_plane, notification_id)


async def test_concurrent_sweeps_send_each_notification_once(
    admin: Account, control_plane: AsyncEngine, settings: Settings, smtp_server: Collector
) -> None:
    ids = [
        await insert_notification(control_plane, admin.user_id, unique_tenant_id("n"))
        for _ in range(12)
    ]
    engines = [create_engine(settings.database_url or "") for _ in range(3)]
    try:
        await asyncio.gather(*(drain(engine, settings) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert [len(mails(smtp_server, i)) for i in ids] == [1] * len(ids)
    assert all([await emailed(control_plane, i) for i in ids])


async def test_a_notification_a_stream_took_is_not_emailed(
    admin: Account,
    api_url: str,
    control_plane: AsyncEngine,
    settings: Settings,
    smtp_server: Collector,
) -> None:
    seen_about, missed_about = unique_tenant_id("seen"), unique_tenant_id("missed")
    tab = await listen(api_url, admin.token)
    try:
        seen = await insert_notification(control_plane, admin.user_id, seen_about)
        async with control_plane.begin() as conn:  # wake the stream, as the activity does
            await conn.execute(
                text("SELECT pg_notify('tenantflow_notifications', :u)"), {"u": admin.user_id}
            )
        await tab.wait_for(seen_about)
    finally:
        await tab.close()
    delivered = text("SELECT delivered_at IS NOT NULL FROM notifications WHERE id = :id")
    async with control_plane.connect() as conn:
        await until_value(lambda: conn.scalar(delivered, {"id": seen}))
    missed = await insert_notification(control_plane, admin.user_id, missed_about)

    await drain(control_plane, settings)

    assert len(mails(smtp_server, missed)) == 1, "the sweep ran and sent what was due"
    assert mails(smtp_server, seen) == []
    assert not await emailed(control_plane, seen)


async def test_a_user_who_opted_out_gets_no_email(
    admin: Account,
    api_url: str,
    control_plane: AsyncEngine,
    settings: Settings,
    smtp_server: Collector,
    api: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": f"Bearer {admin.token}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as client:
        assert (await client.get("/api/me/preferences")).json() == {"notifyByEmail": True}
        response = await client.put("/api/me/preferences", json={"notifyByEmail": False})
        assert response.status_code == 200
        assert response.json() == {"notifyByEmail": False}
        assert (await client.get("/api/me/preferences")).json() == {"notifyByEmail": False}
    # The control is another fresh admin, with no stream open: root may have one (a browser
    # test's page, a run's stream), and a notification a stream takes is never e-mailed.
    other = await tenant_admin_account(api, api_url, control_plane, "mail")
    opted_out = await insert_notification(control_plane, admin.user_id, unique_tenant_id("out"))
    control = await insert_notification(control_plane, other.user_id, unique_tenant_id("in"))

    await drain(control_plane, settings)

    assert len(mails(smtp_server, control)) == 1, "the sweep ran and sent what was due"
    assert mails(smtp_server, opted_out) == []
    assert not await emailed(control_plane, opted_out)


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "notifyByEmail"), ({"notifyByEmail": "yes"}, "notifyByEmail")],
)
async def test_preferences_refuse_a_bad_body_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await api.put("/api/me/preferences", json=body)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])


async def test_preferences_need_a_signed_in_user(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.put("/api/me/preferences", json={"notifyByEmail": False})
    assert response.status_code == 401
