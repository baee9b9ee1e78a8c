"""A local SMTP server that accepts every message and prints it (`make dev` runs it on
SMTP_PORT, default 1025), so a developer sees the welcome e-mails. Never for production."""

import asyncio
import email
import email.policy
import os
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Collector:
    """aiosmtpd handler keeping every message (tests read `messages`)."""

    def __init__(self, echo: bool = False) -> None:
        self.messages: list[EmailMessage] = []
        self.echo = echo
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        if self.echo:
            body = message.get_body(("plain",))
            print(f"mail to {message['To']}: {message['Subject']}", flush=True)
            for line in (body.get_content() if body else "").splitlines():
                print(f"  | {line}", flush=True)
        return "250 Message accepted for delivery"


def start(port: int, collector: Collector) -> Controller:
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    collector.port = port
    return controller


async def main() -> None:
    port = int(os.environ.get("SMTP_PORT", "1025"))
    controller = start(port, Collector(echo=True))
    print(f"SMTP sink on 127.0.0.1:{port}: mail is printed here, never delivered", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
