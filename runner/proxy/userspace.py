"""The userspace mode: a real TCP and UDP proxy on asyncio streams.

Each route of the machine's ``UserspaceTable`` gets a listening socket (on ``listen_host``, an
ephemeral port unless the route's own address is local); a new TCP connection or a UDP
client's first datagram picks a backend with ``impl.proxy.userspace.choose`` (round robin,
ClientIP affinity with the route's timeout) and bytes are copied both ways until either side
closes. A route whose Service has no usable endpoint closes connections at once (reject) or
holds them silent (drop), as the rules modes do. ``replace`` swaps the table on a resync:
listeners of unchanged routes stay, others open or close.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import cast

from impl.proxy.userspace import Rotation, choose, route_key
from models.proxy.events import UserspaceRoute

COPY_CHUNK = 65536
UDP_SESSION_SECONDS = 30.0


class UserspaceProxy:
    """Listeners for the routes of a userspace table (see the module docstring)."""

    def __init__(
        self, listen_host: str = "127.0.0.1", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.listen_host = listen_host
        self.clock = clock
        self.rotation = Rotation()
        self.routes: dict[str, UserspaceRoute] = {}
        self.servers: dict[str, asyncio.AbstractServer | asyncio.DatagramTransport] = {}
        self.ports: dict[str, int] = {}

    async def replace(self, routes: tuple[UserspaceRoute, ...]) -> None:
        wanted = {route_key(route): route for route in routes}
        for key in sorted(set(self.servers) - set(wanted)):
            self.servers.pop(key).close()
            self.ports.pop(key, None)
        self.routes = wanted
        for key, route in sorted(wanted.items()):
            if key not in self.servers:
                await self._listen(key, route)

    async def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()

    def port_of(self, route: UserspaceRoute) -> int:
        """Where the proxy listens for ``route``."""
        return self.ports[route_key(route)]

    def _pick(self, key: str, client: str) -> str:
        backend, self.rotation = choose(self.routes[key], self.rotation, client, self.clock())
        return backend

    async def _listen(self, key: str, route: UserspaceRoute) -> None:
        loop = asyncio.get_running_loop()
        if route.protocol == "UDP":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpFrontend(self, key), local_addr=(self.listen_host, 0)
            )
            self.servers[key] = transport
            self.ports[key] = transport.get_extra_info("sockname")[1]
            return

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._tcp(key, reader, writer)

        server = await asyncio.start_server(accept, self.listen_host, 0)
        self.servers[key] = server
        self.ports[key] = server.sockets[0].getsockname()[1]

    async def _tcp(
        self, key: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        route = self.routes.get(key)
        try:
            if route is None or route.verdict == "reject" or not route.backends:
                if route is not None and route.verdict == "drop":
                    await reader.read()
                return
            client = writer.get_extra_info("peername")[0]
            host, _, port = self._pick(key, client).rpartition(":")
            backend_reader, backend_writer = await asyncio.open_connection(host, int(port))
            await asyncio.gather(
                _copy(reader, backend_writer), _copy(backend_reader, writer), return_exceptions=True
            )
        except OSError:
            pass
        finally:
            writer.close()


async def _copy(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(COPY_CHUNK):
            target.write(data)
            await target.drain()
    finally:
        with contextlib.suppress(OSError):
            if target.can_write_eof():
                target.write_eof()


class _UdpFrontend(asyncio.DatagramProtocol):
    """One UDP route: a backend session per client address."""

    def __init__(self, proxy: UserspaceProxy, key: str) -> None:
        self.proxy = proxy
        self.key = key
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], asyncio.DatagramTransport] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport is not a DatagramTransport subclass in 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        route = self.proxy.routes.get(self.key)
        if route is None or not route.backends or route.verdict != "forward":
            return
        session = self.sessions.get(addr)
        if session is not None:
            session.sendto(data)
            return
        host, _, port = self.proxy._pick(self.key, addr[0]).rpartition(":")
        asyncio.get_running_loop().create_task(self._open(addr, (host, int(port)), data))

    async def _open(self, client: tuple[str, int], backend: tuple[str, int], data: bytes) -> None:
        loop = asyncio.get_running_loop()
        frontend = self.transport

        class _Reply(asyncio.DatagramProtocol):
            def datagram_received(self, reply: bytes, _: tuple[str, int]) -> None:
                if frontend is not None:
                    frontend.sendto(reply, client)

        transport, _ = await loop.create_datagram_endpoint(_Reply, remote_addr=backend)
        self.sessions[client] = transport
        transport.sendto(data)
        loop.call_later(UDP_SESSION_SECONDS, self._expire, client)

    def _expire(self, client: tuple[str, int]) -> None:
        session = self.sessions.pop(client, None)
        if session is not None:
            session.close()
