"""The API server process: uvicorn on a bound socket, the driver on its event loop, and the
periodic work kube-apiserver does (time for bookmarks and watch timeouts, store compaction).

Theory of operation. ``ApiHttpServer`` binds its socket at construction (its URL is known at
once) and ``serve_forever`` runs uvicorn and the driver in the calling thread's event loop until
``close``. Every second a ``Tick`` tells the machine the time. Every ``COMPACTION_SECONDS`` the
in-process store is compacted to the revision it had one interval earlier, as kube-apiserver's
compactor asks etcd to every five minutes (``--etcd-compaction-interval``). Closing ends every
watch stream, lets open requests finish for at most ``GRACEFUL_SHUTDOWN_SECONDS``, and releases
the port. With ``etcd_servers`` the store is a real etcd (``RemoteStore``), created on the
event loop, and the start-up creates wait for its first list. With ``secure`` a second uvicorn
on the same loop and driver serves TLS (``--secure-port``); its requests carry credentials and
are authenticated and authorized by the machine. WebSocket upgrades (``kubectl exec``) are
served by uvicorn's ``websockets`` protocol on both ports. Requests and store calls are measured
for ``/metrics`` (:mod:`runner.apiserver.metrics`). With ``metric_resolution_seconds`` the app
also serves ``metrics.k8s.io`` and its scrape loop runs on the same event loop
(:mod:`runner.apiserver.metrics_api`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Final, Protocol

import uvicorn

from impl.apiserver.context import Config
from models.apiserver.messages import RequestReceived, Tick
from runner.apiserver.bootstrap import (
    bootstrap_requests,
    endpoint_requests,
    metrics_reader_requests,
    policy_requests,
)
from runner.apiserver.driver import Driver, Sink, Store
from runner.apiserver.entropy import EntropySource, SystemEntropy
from runner.apiserver.http import ApiServerApp, StreamSink
from runner.apiserver.local_store import LocalStore
from runner.apiserver.metrics import ApiServerMetrics, TimedStore
from runner.apiserver.mutants import SkippingSink, StaleListStore, forget_resource_versions
from runner.apiserver.remote_store import RemoteStore
from runner.apiserver.tls import SecureFiles, protocol_factory, server_context
from runner.etcd.server import LISTEN_BACKLOG, bind

GRACEFUL_SHUTDOWN_SECONDS: Final = 2
TICK_SECONDS: Final = 1.0
COMPACTION_SECONDS: Final = 300.0
READY_TIMEOUT_SECONDS: Final = 10.0
"""How long start-up waits for the store's first list before creating the system objects."""
BOOTSTRAP_REQUEST_BASE: Final = 1 << 62
"""Request IDs of the start-up hooks' creates, far from the HTTP requests' own."""


class SecurePortError(OSError):
    """The secure port could not be bound."""


class CompactingStore(Store, Protocol):
    """A store the server compacts periodically."""

    @property
    def revision(self) -> int: ...

    def compact(self, revision: int) -> None: ...


class ApiHttpServer:
    """One API server on its insecure (HTTP) socket, its secure (HTTPS) one, or both, on the
    in-process reference etcd or, given ``etcd_servers``, on a real etcd cluster."""

    def __init__(
        self,
        address: tuple[str, int] | None,
        config: Config,
        etcd_servers: list[str] | None = None,
        entropy: EntropySource | None = None,
        mutant: str = "",
        secure: tuple[tuple[str, int], SecureFiles] | None = None,
        metric_resolution_seconds: float = 0.0,
    ) -> None:
        self.config = config
        self.metric_resolution_seconds = metric_resolution_seconds
        """Serve ``metrics.k8s.io``, scraping the kubelets this often (0: not served)."""
        self.secure_files = secure[1] if secure is not None else None
        try:
            self.secure_socket = bind(secure[0]) if secure is not None else None
        except OSError as error:
            raise SecurePortError(str(error)) from error
        if self.secure_socket is not None:
            # As on the insecure port: TLS records of an answer's head and body must not wait
            # for the client's delayed ACK.
            self.secure_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.secure_address: tuple[str, int] | None = (
            self.secure_socket.getsockname()[:2] if self.secure_socket is not None else None
        )
        self.secure_context = server_context(secure[1]) if secure is not None else None
        self.etcd_servers = etcd_servers or []
        self.mutant = mutant
        self.store: CompactingStore = StaleListStore() if mutant == "stale-list" else LocalStore()
        self.entropy = entropy if entropy is not None else SystemEntropy()
        self.socket = bind(address) if address is not None else None
        if self.socket is not None:
            # Accepted connections inherit it: an answer's head and body, written separately,
            # must not wait for the client's delayed ACK (40 ms per request otherwise).
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.insecure_address: tuple[str, int] | None = (
            self.socket.getsockname()[:2] if self.socket is not None else None
        )
        self.sink = StreamSink()
        self.driver: Driver | None = None
        self.metrics = ApiServerMetrics(lambda: self.driver.state if self.driver else None)
        self.app: ApiServerApp | None = None
        self.uvicorn: uvicorn.Server | None = None
        self.secure_uvicorn: uvicorn.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        self.stopped = threading.Event()

    @property
    def server_address(self) -> tuple[str, int]:
        """The insecure port's address (there must be one)."""
        assert self.insecure_address is not None, "this server has no insecure port"
        return self.insecure_address

    @property
    def url(self) -> str:
        """The insecure port's URL (there must be one)."""
        host, port = self.server_address
        return f"http://{host}:{port}"

    @property
    def secure_url(self) -> str:
        assert self.secure_address is not None
        host, port = self.secure_address
        return f"https://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`close` (blocks the calling thread)."""
        try:
            asyncio.run(self._serve())
        finally:
            self.stopped.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.etcd_servers:
            self.store = RemoteStore(self.etcd_servers, self.loop)
        sink: Sink = SkippingSink(self.sink) if self.mutant == "skip-watch-event" else self.sink
        self.driver = Driver(self.config, TimedStore(self.store, self.metrics), sink)
        for _ in range(int(READY_TIMEOUT_SECONDS / 0.01)):
            if self.driver.ready:
                break
            await asyncio.sleep(0.01)
        if self.secure_address is not None:
            host, port = self.secure_address
            requests = bootstrap_requests(self.config, port) + endpoint_requests(host, port)
        else:
            requests = bootstrap_requests(self.config)
        if "RBAC" in self.config.auth.modes and self.secure_socket is not None:
            requests += policy_requests()
            if self.metric_resolution_seconds > 0:
                requests += metrics_reader_requests()
        for index, request in enumerate(requests):
            self.driver.feed(
                RequestReceived(
                    request_id=BOOTSTRAP_REQUEST_BASE + index,
                    request=request,
                    entropy=self.entropy.draw(),
                )
            )
        self.app = ApiServerApp(self.driver, self.sink, self.entropy, self.metrics)
        if self.mutant == "ignore-resource-version":
            self.app.request_filter = forget_resource_versions
        config = uvicorn.Config(
            self.app,
            ws="websockets-sansio",
            lifespan="off",
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            backlog=LISTEN_BACKLOG,
        )
        serving = []
        if self.socket is not None:
            self.uvicorn = uvicorn.Server(config)
            serving.append(self.uvicorn.serve(sockets=[self.socket]))
        if self.secure_socket is not None and self.secure_context is not None:
            secure_config = uvicorn.Config(
                self.app,
                # TLS is the protocol's (pyOpenSSL), so uvicorn serves the socket as plain TCP.
                http=protocol_factory(self.secure_context),  # type: ignore[arg-type]
                ws="websockets-sansio",
                lifespan="off",
                log_level="critical",
                access_log=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
                backlog=LISTEN_BACKLOG,
            )
            self.secure_uvicorn = uvicorn.Server(secure_config)
            serving.append(self.secure_uvicorn.serve(sockets=[self.secure_socket]))
        periodic = [asyncio.ensure_future(self._periodic())]
        if self.metric_resolution_seconds > 0:
            metrics_api = self.app.serve_metrics(self.metric_resolution_seconds)
            periodic.append(asyncio.ensure_future(metrics_api.run()))
        self.started.set()
        try:
            await asyncio.gather(*serving)
        finally:
            for task in periodic:
                task.cancel()

    async def _periodic(self) -> None:
        loop = asyncio.get_running_loop()
        next_compaction = loop.time() + COMPACTION_SECONDS
        compact_to = self.store.revision
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self.driver is None:
                continue
            self.driver.feed(Tick(now_seconds=self.entropy.now_seconds()))
            if loop.time() >= next_compaction:
                self.store.compact(compact_to)
                compact_to = self.store.revision
                next_compaction = loop.time() + COMPACTION_SECONDS

    def _shut_down(self) -> None:
        self.sink.end_all()
        for server in (self.uvicorn, self.secure_uvicorn):
            if server is not None:
                server.should_exit = True

    def close(self) -> None:
        """Stop serving, end streams, release the port."""
        loop = self.loop
        if loop is not None and self.started.is_set() and not self.stopped.is_set():
            loop.call_soon_threadsafe(self._shut_down)
            self.stopped.wait(GRACEFUL_SHUTDOWN_SECONDS + 3)
        self.store.close()
        for bound in (self.socket, self.secure_socket):
            if bound is not None:
                bound.close()


def start_in_thread(server: ApiHttpServer) -> threading.Thread:
    """Run ``server`` in a daemon thread; returns once it accepts connections."""
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="apiserver")
    thread.start()
    server.started.wait(10)
    return thread
