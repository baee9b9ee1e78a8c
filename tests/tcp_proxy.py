"""A TCP proxy for PostgreSQL that can make one connection half-open: both sockets stay
connected, but nothing passes any more (a dropped link, a NAT that forgot the flow, a server
host that died without a FIN). Neither end learns of it until it sends something and waits."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import URL


@dataclass
class Link:
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    # Saw a LISTEN: the connection the notification hub holds.
    listener: bool = False
    cut: bool = False


class HalfOpenProxy:
    def __init__(self, url: URL) -> None:
        """Proxy to the server of `url` (TCP, or a Unix socket given as `?host=/dir`)."""
        socket_dir = url.query.get("host")
        if isinstance(socket_dir, str) and socket_dir.startswith("/"):
            self._unix: str | None = f"{socket_dir}/.s.PGSQL.{url.port or 5432}"
        else:
            self._unix = None
        self._tcp = (url.host or "127.0.0.1", url.port or 5432)
        self.links: list[Link] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def cut_listener(self) -> None:
        """Make the LISTEN connection half-open (it must exist)."""
        (link,) = [link for link in self.links if link.listener and not link.cut]
        link.cut = True

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._unix is not None:
            server_r, server_w = await asyncio.open_unix_connection(self._unix)
        else:
            server_r, server_w = await asyncio.open_connection(*self._tcp)
        link = Link([client_w, server_w])
        self.links.append(link)
        pumps = [
            asyncio.create_task(self._pump(link, client_r, server_w, upstream=True)),
            asyncio.create_task(self._pump(link, server_r, client_w, upstream=False)),
        ]
        self._tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(
        self,
        link: Link,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        try:
            while data := await source.read(65536):
                if upstream and b"LISTEN " in data:
                    link.listener = True
                if link.cut:
                    continue  # swallowed: the sender sees a connection that never answers
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            if not link.cut:
                sink.close()

    @contextlib.asynccontextmanager
    async def running(self, url: URL) -> AsyncIterator[URL]:
        """Serve on a free local port until the block exits; yield `url` through the proxy."""
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield url.difference_update_query(["host"]).set(host="127.0.0.1", port=port)
        finally:
            server.close()
            for link in self.links:
                for writer in link.writers:
                    writer.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
