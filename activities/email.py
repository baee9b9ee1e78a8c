"""E-mail activities (SMTP with aiosmtplib)."""

from email.message import EmailMessage

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import EMAIL_REJECTED
from activities.models import WelcomeEmail
from activities.progress import AttemptReporter, reports_failed_attempts
from core.mail import send_email
from core.settings import Settings


class EmailActivities:
    def __init__(self, settings: Settings, reporter: AttemptReporter) -> None:
        self.settings = settings
        self.reporter = reporter

    @activity.defn(name="send_welcome_email")
    @reports_failed_attempts
    async def send_welcome_email(self, email: WelcomeEmail) -> str:
        """Welcome the admin of a signed-up tenant. At least once: a retry after a lost reply
        may send it again, with the same Message-ID so mail clients can fold the copies."""
        message = welcome_message(self.settings, email)
        try:
            await send_email(self.settings, message)
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise ApplicationError(
                f"the mail server refused {email.to}: {err}",
                type=EMAIL_REJECTED,
                non_retryable=True,
            ) from err
        return str(message["Message-ID"])


def welcome_message(settings: Settings, email: WelcomeEmail) -> EmailMessage:
    info = activity.info()
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = email.to
    message["Subject"] = f"Welcome to Tenantflow: {email.tenant_name} is ready"
    # Keyed on the workflow, not the attempt: every retry sends the same message.
    message["Message-ID"] = f"<welcome.{info.workflow_id}@tenantflow>"
    message.set_content(
        f'Hello,\n\nYour tenant "{email.tenant_name}" ({email.tenant_id}) is ready.\n'
        f"Sign in at {settings.public_url}/ with this e-mail address, the password you chose, "
        f'and tenant "{email.tenant_id}".\n\n-- Tenantflow\n'
    )
    return message
