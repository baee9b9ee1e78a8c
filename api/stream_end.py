"""Event streams end cleanly when the server shuts down.

sse-starlette stops an open `EventSourceResponse` on server shutdown by cancelling it, so the
response never sends its last (empty) body message: uvicorn then logs "ASGI callable returned
without completing response" for every open stream, and the client sees a broken chunked body
instead of the end of the stream. This middleware completes such a response; the browser's
EventSource reconnects to the next server as it does after any end of stream.
"""

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVENT_STREAM = b"text/event-stream"


class CompleteStreamsOnShutdown:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streaming = complete = False

        async def watched(message: Message) -> None:
            nonlocal streaming, complete
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                streaming = headers.get(b"content-type", b"").startswith(EVENT_STREAM)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                complete = True
            await send(message)

        await self.app(scope, receive, watched)
        if streaming and not complete:
            # The client may be gone as well: then there is nobody to tell.
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
