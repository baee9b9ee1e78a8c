"""Sending one e-mail with the SMTP_* settings: the worker's welcome e-mail and the API's
notification e-mails go out the same way."""

from email.message import EmailMessage

import aiosmtplib

from core.settings import Settings

SMTP_TIMEOUT_SECONDS = 20.0


async def send_email(settings: Settings, message: EmailMessage) -> None:
    """Raises aiosmtplib's errors (SMTPRecipientsRefused: the server will never take it)."""
    password = settings.smtp_password
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=password.get_secret_value() if password else None,
        start_tls=settings.smtp_starttls,
        timeout=SMTP_TIMEOUT_SECONDS,
    )
