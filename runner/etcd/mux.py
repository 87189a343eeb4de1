"""One port for the JSON gateway and gRPC, as etcd serves both on its client port.

Theory of operation. etcd tells the two apart by the first bytes of a connection (cmux): a
gRPC client speaks HTTP/2 with prior knowledge, so its connection opens with the HTTP/2 client
preface ``PRI * HTTP/2.0``; a gateway client speaks HTTP/1.1. The gateway's protocol object
(``runner.etcd.server.EtcdH11Protocol``) holds back a connection's first bytes until
:func:`sniff` decides: the preface (the connection is then a :class:`Tunnel`, byte for byte, to
the in-process gRPC server listening on a private Unix socket) or anything else (the bytes go to
the HTTP/1.1 parser as if nothing had happened). A tunnel pauses reading on one side while the
other side's transport is over its write buffer limit, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
from typing import Final

HTTP2_PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class _Upstream(asyncio.Protocol):
    """The gRPC server's side of a tunnel: its bytes go back to the client."""

    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        del exc
        self.client.close()

    def pause_writing(self) -> None:
        self.client.pause_reading()

    def resume_writing(self) -> None:
        self.client.resume_reading()


class Tunnel:
    """A client connection handed to the gRPC server's Unix socket."""

    def __init__(self, client: asyncio.Transport, socket_path: str, first: bytes) -> None:
        self.client = client
        self.pending = [first]
        self.upstream: _Upstream | None = None
        self.closed = False
        self.task = asyncio.get_running_loop().create_task(self._connect(socket_path))

    async def _connect(self, socket_path: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_unix_connection(
                lambda: _Upstream(self.client), socket_path
            )
        except OSError:
            self.client.close()
            return
        if self.closed:
            assert upstream.transport is not None
            upstream.transport.close()
            return
        self.upstream = upstream
        assert upstream.transport is not None
        for data in self.pending:
            upstream.transport.write(data)
        self.pending = []

    def to_upstream(self, data: bytes) -> None:
        upstream = self.upstream
        if upstream is None or upstream.transport is None:
            self.pending.append(data)
            return
        upstream.transport.write(data)

    def client_blocked(self, blocked: bool) -> None:
        """The client's transport is over (True) or back under its write buffer limit."""
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None:
            if blocked:
                upstream.transport.pause_reading()
            else:
                upstream.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None:
            upstream.transport.close()


def sniff(held: bytes) -> bool | None:
    """Whether a connection that opened with ``held`` is HTTP/2 (gRPC); None: undecided yet."""
    if len(held) < len(HTTP2_PREFACE) and HTTP2_PREFACE.startswith(held):
        return None
    return held.startswith(HTTP2_PREFACE)
