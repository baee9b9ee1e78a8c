"""Checks at the edge, before routing, authentication or parsing: pure ASGI middleware.

`BodyLimit` answers 413 to a body over the limit: at once when Content-Length says so, else as
soon as the streamed chunks add up past it, so a huge body is never held in memory (a 300 MB
body used to be read whole before its 401). What the client still sends is not handed to the
app: uvicorn reads it off the socket and drops it, chunk by chunk, so the client gets to read
the 413 (closing on an unread body would reset the connection under it).
`NoControlCharacters` answers 422 to a path or query parameter holding control characters (a
NUL reached PostgreSQL as a 500).
"""

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import reject_control_characters


async def _send_json(send: Send, status: int, body: Any) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    # The app sees a client that went away, and its answer is dropped.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        detail = f"Request body too large (limit {self.max_bytes} bytes)"
        await _send_json(send, 413, {"detail": detail})


class NoControlCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            errors = _control_errors(scope)
            if errors:
                await _send_json(send, 422, {"detail": errors})
                return
        await self.app(scope, receive, send)


def _control_errors(scope: Scope) -> list[dict[str, Any]]:
    checks: list[tuple[list[str], str]] = [(["path"], scope["path"])]
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        checks.append((["query", name], value))
    errors = []
    for loc, value in checks:
        try:
            reject_control_characters(value)
        except ValueError as err:
            errors.append({"type": "value_error", "loc": loc, "msg": f"Value error, {err}"})
    return errors
