"""The gateway's HTTP server: uvicorn (h11) on a socket bound with a deep listen backlog.

Theory of operation. :class:`GatewayServer` binds its socket at construction (so its URL is
known at once) with a listen backlog of :data:`LISTEN_BACKLOG` (etcd relies on Go's, the
kernel's ``somaxconn``), and ``serve_forever`` runs uvicorn on it in the calling thread until
``close``; uvicorn then lets open requests finish for at most ``GRACEFUL_SHUTDOWN_SECONDS``
while watch streams end. Signals are left to the caller (``serve etcd`` handles SIGINT and
SIGTERM in its main thread). HTTP the parser refuses gets etcd's answers: a malformed request
head gets Go's plain ``400 Bad Request``, a malformed body of a v3 request (a bad chunk size)
grpc-gateway's JSON error (code 3, or 2 on a stream), then the connection closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import grpc
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from runner.etcd.backend import Backend
from runner.etcd.gateway import (
    BODY_READ_TIMEOUT_SECONDS,
    STREAM_ENDPOINTS,
    GatewayApp,
    normalize_path,
)
from runner.etcd.grpc_registry import TRANSPORT_LIMIT_BYTES
from runner.etcd.grpc_services import add_services
from runner.etcd.mux import Tunnel, sniff
from runner.etcd.service import AUTH_TOKEN_TTL_SECONDS, EtcdService

LISTEN_BACKLOG: Final = 1024
GRACEFUL_SHUTDOWN_SECONDS: Final = 2
WORKER_THREADS: Final = 64
GRPC_OPTIONS: Final = (
    ("grpc.max_receive_message_length", TRANSPORT_LIMIT_BYTES),
    ("grpc.max_send_message_length", 2**31 - 1),
)
"""Answers of any size, as etcd; requests over etcd's limit (``--max-request-bytes`` plus gRPC's
overhead) are refused by :mod:`runner.etcd.grpc_registry`, or by grpcio beyond its own limit."""
"""Threads for blocking backend calls (each waits for its request to commit)."""


class EtcdH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering unparseable HTTP as etcd's Go server does, and
    handing connections that open with the HTTP/2 preface to the gRPC server
    (:mod:`runner.etcd.mux`)."""

    grpc_socket: str | None = None
    """The gRPC server's Unix socket (set on the subclass a server makes)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # As Go's servers (etcd's) do: without it, a response written in two parts waits
            # for the client's delayed ACK, about 40 ms per request.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self.held = b""
        self.sniffed = self.grpc_socket is None
        self.tunnel: Tunnel | None = None

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.to_upstream(data)
            return
        if not self.sniffed:
            self.held += data
            is_grpc = sniff(self.held)
            if is_grpc is None:
                return
            self.sniffed = True
            data, self.held = self.held, b""
            if is_grpc and self.grpc_socket is not None:
                self.tunnel = Tunnel(self.transport, self.grpc_socket, data)
                return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.tunnel is not None:
            self.tunnel.close()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        if self.tunnel is not None:
            self.tunnel.client_blocked(True)
            return
        super().pause_writing()

    def resume_writing(self) -> None:
        if self.tunnel is not None:
            self.tunnel.client_blocked(False)
            return
        super().resume_writing()

    def send_400_response(self, msg: str) -> None:
        del msg
        cycle = getattr(self, "cycle", None)
        path = "" if cycle is None else normalize_path(str(cycle.scope.get("path", "")))
        if cycle is None or cycle.response_started or not path.startswith("/v3/"):
            body = b"400 Bad Request"
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
            status, reason = 400, b"Bad Request"
        else:
            code, status = (2, 500) if path in STREAM_ENDPOINTS else (3, 400)
            reason = b"Internal Server Error" if status == 500 else b"Bad Request"
            message = "invalid byte in chunk length"
            body = json.dumps(
                {"error": message, "message": message, "code": code}, separators=(",", ":")
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        if cycle is not None:  # the application must not answer as well
            cycle.response_started = cycle.response_complete = True
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            headers.append((b"content-length", str(len(body)).encode()))
            output = self.conn.send(
                h11.Response(status_code=status, headers=headers, reason=reason)
            )
            output += self.conn.send(h11.Data(data=body)) or b""
            output += self.conn.send(h11.EndOfMessage()) or b""
            self.transport.write(output)
        self.transport.close()


def bind(address: tuple[str, int]) -> socket.socket:
    """A listening TCP socket on ``address`` (port 0: a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class GatewayServer:
    """The gateway for one backend on one socket."""

    def __init__(
        self,
        address: tuple[str, int],
        backend: Backend,
        progress_notify_interval_seconds: float = 0.5,
        *,
        strict_fields: bool = False,
        body_read_timeout_seconds: float = BODY_READ_TIMEOUT_SECONDS,
        grpc: bool = True,
        auth_token_ttl_seconds: float = AUTH_TOKEN_TTL_SECONDS,
    ) -> None:
        self.backend = backend
        self.socket = bind(address)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.service = EtcdService(
            backend,
            progress_notify_interval_seconds,
            auth_token_ttl_seconds=auth_token_ttl_seconds,
        )
        self.grpc_directory = tempfile.mkdtemp(prefix="kubeoracle-etcd-") if grpc else None
        protocol = type(
            "ServedH11Protocol",
            (EtcdH11Protocol,),
            {"grpc_socket": None if self.grpc_directory is None else self._grpc_socket()},
        )
        config = uvicorn.Config(
            GatewayApp(
                self.service,
                strict_fields=strict_fields,
                body_read_timeout_seconds=body_read_timeout_seconds,
            ),
            http=protocol,
            lifespan="off",
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            backlog=LISTEN_BACKLOG,
        )
        self.uvicorn = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        self.stopped = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`close` (blocks the calling thread)."""
        try:
            asyncio.run(self._serve())
        finally:
            self.stopped.set()

    def _grpc_socket(self) -> str:
        assert self.grpc_directory is not None
        return os.path.join(self.grpc_directory, "grpc.sock")

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, "etcd-request"))
        grpc_server = None
        if self.grpc_directory is not None:
            grpc_server = grpc.aio.server(options=GRPC_OPTIONS)
            add_services(grpc_server, self.service, self.url)
            grpc_server.add_insecure_port(f"unix:{self._grpc_socket()}")
            await grpc_server.start()
        self.started.set()
        try:
            await self.uvicorn.serve(sockets=[self.socket])
        finally:
            if grpc_server is not None:
                await grpc_server.stop(GRACEFUL_SHUTDOWN_SECONDS)

    def close(self) -> None:
        """Stop serving, end streams, release the port, stop the backend."""
        loop = self.loop
        if loop is not None and self.started.is_set() and not self.stopped.is_set():
            loop.call_soon_threadsafe(self.service.closing.set)
        self.uvicorn.should_exit = True
        if self.started.is_set():
            self.stopped.wait(GRACEFUL_SHUTDOWN_SECONDS + 3)
        self.backend.close()
        self.socket.close()
        if self.grpc_directory is not None:
            shutil.rmtree(self.grpc_directory, ignore_errors=True)


def start_in_thread(server: GatewayServer) -> threading.Thread:
    """Run ``server`` in a daemon thread; returns once it accepts connections."""
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="etcd-gateway")
    thread.start()
    server.started.wait(5)
    return thread
