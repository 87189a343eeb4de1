"""``/metrics`` and ``/healthz`` over uvicorn: HTTPS on the secure port (10257 by default) and,
when asked, plain HTTP on ``--port`` (the seed's 10252).

Both listeners run in one thread's event loop, one uvicorn server each (TLS is per server).
Anything but ``GET``/``HEAD`` on the two paths answers 404 or 405 with a short text body.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Final

import uvicorn

from runner.etcd.server import bind
from runner.served.metrics import CONTENT_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
SHUTDOWN_SECONDS: Final = 2


class HealthApp:
    """The ASGI app: metrics text from ``metrics()``, health from ``healthy()``."""

    def __init__(self, metrics: Callable[[], bytes], healthy: Callable[[], bool]) -> None:
        self.metrics, self.healthy = metrics, healthy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del receive  # no request bodies are read
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path not in ("/metrics", "/healthz"):
            await _answer(send, 404, b"404 page not found\n")
        elif method not in ("GET", "HEAD"):
            await _answer(send, 405, b"method not allowed\n")
        elif path == "/metrics":
            await _answer(send, 200, self.metrics(), CONTENT_TYPE)
        elif self.healthy():
            await _answer(send, 200, b"ok")
        else:
            await _answer(send, 500, b"[-]leaderElection failed\nhealthz check failed\n")


async def _answer(send: Send, status: int, body: bytes, content_type: str = "") -> None:
    headers = [
        (b"content-type", (content_type or "text/plain; charset=utf-8").encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HealthServer:
    """Binds at construction (ports known at once); ``start`` serves in a daemon thread."""

    def __init__(
        self,
        app: HealthApp,
        bind_address: str,
        secure_port: int,
        port: int,
        tls: tuple[Path, Path] | None,
    ) -> None:
        self.app = app
        self.listeners: list[tuple[socket.socket, tuple[Path, Path] | None]] = []
        if secure_port and tls is not None:
            self.listeners.append((bind((bind_address, secure_port)), tls))
        if port:
            self.listeners.append((bind((bind_address, port)), None))
        self.servers: list[uvicorn.Server] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="healthz")
        self.started = threading.Event()

    def urls(self) -> list[str]:
        urls = []
        for sock, tls in self.listeners:
            host, port = sock.getsockname()[:2]
            urls.append(f"{'https' if tls else 'http'}://{host}:{port}")
        return urls

    def start(self) -> None:
        self.thread.start()
        self.started.wait(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        serving = []
        for sock, tls in self.listeners:
            config = uvicorn.Config(
                self.app,
                lifespan="off",
                log_level="critical",
                access_log=False,
                timeout_graceful_shutdown=SHUTDOWN_SECONDS,
                ssl_certfile=str(tls[0]) if tls else None,
                ssl_keyfile=str(tls[1]) if tls else None,
            )
            server = uvicorn.Server(config)
            self.servers.append(server)
            serving.append(server.serve(sockets=[sock]))
        self.started.set()
        await asyncio.gather(*serving)

    def close(self) -> None:
        if self.loop is not None:
            for server in self.servers:
                self.loop.call_soon_threadsafe(setattr, server, "should_exit", True)
        self.thread.join(timeout=SHUTDOWN_SECONDS + 3)
        for sock, _tls in self.listeners:
            sock.close()
