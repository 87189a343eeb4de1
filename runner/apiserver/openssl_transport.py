"""TLS for an asyncio server protocol through pyOpenSSL's memory BIOs, so the server can ask
for a client certificate without letting the handshake judge it.

Python's ``ssl`` has no verify callback: a client certificate that does not verify ends the
handshake with an alert. kube-apiserver instead requests a certificate, accepts whatever the
client sends, and leaves the verdict to its x509 authenticator (401 for a bad one). pyOpenSSL
(PyCA's binding of the same OpenSSL) takes a verify callback; this module runs its
``Connection`` on memory BIOs between the socket transport asyncio gives a protocol and an inner
protocol (uvicorn's HTTP/1.1) that sees plaintext through :class:`TlsTransport`.

Theory of operation. :class:`TlsServerProtocol` feeds the socket's bytes to the connection's
incoming BIO and writes whatever OpenSSL puts in the outgoing BIO to the socket (handshake
messages, alerts, records). Until the handshake completes nothing reaches the inner protocol; a
handshake that fails or does not complete within ``HANDSHAKE_TIMEOUT_SECONDS`` closes the
socket. Once it completes, the inner protocol is made (so it can read the peer's certificates
from the finished connection) and gets ``connection_made`` with a :class:`TlsTransport`, then the
decrypted application data. Its writes are encrypted into records; its ``close`` sends
``close_notify`` first. Flow control passes through: the inner protocol's ``pause_reading``
pauses the socket, the socket's ``pause_writing`` reaches the inner protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

from OpenSSL import SSL

HANDSHAKE_TIMEOUT_SECONDS: Final = 10.0
READ_CHUNK: Final = 65536


class TlsTransport(asyncio.Transport):
    """The plaintext side of one TLS connection, as the inner protocol sees it."""

    def __init__(self, outer: TlsServerProtocol, raw: asyncio.Transport) -> None:
        super().__init__()
        self._outer = outer
        self._raw = raw
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._raw.is_closing():
            return
        try:
            self._outer.connection.sendall(bytes(data))
        except SSL.Error:
            self.abort()
            return
        self._outer.flush()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(SSL.Error):
            self._outer.connection.shutdown()
        self._outer.flush()
        self._raw.close()

    def abort(self) -> None:
        self._closing = True
        self._raw.abort()

    def is_closing(self) -> bool:
        return self._closing or self._raw.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sslcontext":
            # What uvicorn asks to tell an https request from an http one.
            return self._outer.connection.get_context()
        if name == "ssl_connection":
            return self._outer.connection
        return self._raw.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._raw.pause_reading()

    def resume_reading(self) -> None:
        self._raw.resume_reading()

    def is_reading(self) -> bool:
        return self._raw.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def can_write_eof(self) -> bool:
        return False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._outer.inner = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        inner = self._outer.inner
        assert inner is not None
        return inner


class TlsServerProtocol(asyncio.Protocol):
    """The socket side of one TLS connection: the handshake, then records both ways.

    ``make_inner`` is called once the handshake completes, with the finished connection."""

    def __init__(
        self, context: SSL.Context, make_inner: Callable[[SSL.Connection], asyncio.Protocol]
    ) -> None:
        self.connection = SSL.Connection(context, None)
        self.connection.set_accept_state()
        self.make_inner = make_inner
        self.inner: asyncio.Protocol | None = None
        self.raw: asyncio.Transport | None = None
        self.plain: TlsTransport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(HANDSHAKE_TIMEOUT_SECONDS, self._handshake_timed_out)

    def _handshake_timed_out(self) -> None:
        if self.inner is None and self.raw is not None:
            self.raw.abort()

    def flush(self) -> None:
        """Write what OpenSSL has for the peer to the socket."""
        assert self.raw is not None
        while True:
            try:
                data = self.connection.bio_read(READ_CHUNK)
            except SSL.WantReadError:
                return
            if not data:
                return
            self.raw.write(data)

    def data_received(self, data: bytes) -> None:
        assert self.raw is not None
        if self.raw.is_closing():
            return
        self.connection.bio_write(data)
        if self.inner is None and not self._handshake():
            return
        self._deliver()

    def _handshake(self) -> bool:
        """Advance the handshake; True once it has completed and the inner protocol runs."""
        assert self.raw is not None
        try:
            self.connection.do_handshake()
        except SSL.WantReadError:
            self.flush()
            return False
        except SSL.Error:
            self.flush()  # the alert, if OpenSSL made one
            self.raw.close()
            return False
        self.flush()
        if self.timer is not None:
            self.timer.cancel()
        self.plain = TlsTransport(self, self.raw)
        self.inner = self.make_inner(self.connection)
        self.inner.connection_made(self.plain)
        return True

    def _deliver(self) -> None:
        """Hand the decrypted application data to the inner protocol."""
        assert self.raw is not None
        assert self.plain is not None
        while self.inner is not None and not self.plain.is_closing():
            try:
                chunk = self.connection.recv(READ_CHUNK)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:  # the peer's close_notify
                if not self.inner.eof_received():
                    self.plain.close()
                break
            except SSL.Error:
                self.plain.abort()
                break
            self.inner.data_received(chunk)
        if not self.raw.is_closing():
            self.flush()

    def eof_received(self) -> bool | None:
        if self.inner is not None:
            return self.inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()
