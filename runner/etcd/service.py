"""etcd's v3 service over a reference backend, independent of the transport that carries it.

Theory of operation. The HTTP/JSON gateway (``runner.etcd.gateway``), and any other transport,
decode requests into :mod:`models.etcd` records and hand them here; this module applies etcd's
request limits (``models.etcd_wire``), routes each request to the backend without ever blocking
the event loop (a blocking backend call runs in a worker thread), and runs watch streams as
asyncio tasks: a stream applies its requests (create, cancel, progress) in arrival order, then
follows the backend's applied state, delivering events and progress notifications until the
stream is closed or the service stops. A request the backend cannot take never reaches it.
Proposals and watch streams are counted for ``/metrics`` (``runner.etcd.metrics``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from impl.etcd.watch import (
    WatchStream,
    deliver,
    on_cancel,
    on_create,
    on_progress_request,
    progress_notifications,
)
from models.etcd import (
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseLeasesRequest,
    LeaseTimeToLiveRequest,
    RangeRequest,
    ResponseHeader,
    WatchCreateRequest,
    WatchResponse,
)
from models.etcd_decode import WatchCancel, WatchProgress, WatchStreamRequest
from models.etcd_json import to_gateway
from models.etcd_wire import check_size
from runner.etcd.backend import Backend
from runner.etcd.metrics import EtcdMetrics, nominal_db_size

ETCD_VERSION: Final = "3.4.23"
ETCD_CLUSTER_VERSION: Final = "3.4.0"
WATCH_POLL_SECONDS: Final = 0.02
MAX_STREAM_POLLS: Final = 10**9

WatchSend = Callable[[WatchResponse], Awaitable[None]]


class EtcdService:
    """The v3 API of one reference etcd (the gateway's member)."""

    def __init__(self, backend: Backend, progress_notify_interval_seconds: float = 0.5) -> None:
        self.backend = backend
        self.progress_notify_interval_seconds = progress_notify_interval_seconds
        self.closing = asyncio.Event()
        self.sessions: set[_WatchSession] = set()
        self.metrics = EtcdMetrics(backend, self.watchers)

    def watchers(self) -> int:
        """The watchers of every open watch stream."""
        return sum(len(session.stream.watchers) for session in list(self.sessions))

    async def unary(self, request: EtcdRequest) -> EtcdResponse | EtcdError:
        """Answer one unary request (limits first, then the backend)."""
        error = check_size(request)
        if error is not None:
            return error
        if isinstance(request, RangeRequest) and request.serializable:
            return self.backend.read(request)
        if isinstance(request, RangeRequest | LeaseTimeToLiveRequest | LeaseLeasesRequest):
            return await asyncio.to_thread(self.backend.propose, request)
        with self.metrics.proposing():
            response = await asyncio.to_thread(self.backend.propose, request)
        self.metrics.proposed(response)
        return response

    async def keepalive(self, request: LeaseKeepAliveRequest) -> LeaseKeepAliveResponse:
        """Renew a lease (an unknown lease answers TTL 0, as etcd does)."""
        response = await self.unary(request)
        if isinstance(response, EtcdError):
            return LeaseKeepAliveResponse(header=ResponseHeader(), ID=request.ID, TTL=0)
        assert isinstance(response, LeaseKeepAliveResponse)
        return response

    def header(self, revision: int) -> ResponseHeader:
        return self.backend.header(revision)

    def encode(self, response: EtcdResponse | WatchResponse) -> dict[str, Any]:
        """A response as the gateway's JSON, with this member's header at its revision."""
        encoded = to_gateway(response)
        encoded["header"] = to_gateway(self.header(response.header.revision))
        return encoded

    def status(self) -> tuple[int, dict[str, Any]]:
        """``/v3/maintenance/status``: the revision for its header, and its fields (the
        backend's Raft figures, a nominal database size)."""
        state = self.backend.state()
        size = str(nominal_db_size(state))
        fields = {"version": ETCD_VERSION, "dbSize": size, "dbSizeInUse": size}
        return state.revision, {**fields, **self.backend.status()}

    def healthy(self) -> bool:
        """etcd's ``/health``: true while a leader is known."""
        return self.backend.status().get("leader", "0") != "0"

    async def watch(
        self,
        incoming: asyncio.Queue[WatchStreamRequest | None],
        send: WatchSend,
        stop: asyncio.Event,
    ) -> None:
        """Run one watch stream until ``incoming`` yields None (the client closed its side) and
        no watcher is left, ``stop`` is set (the client went away), or the service stops."""
        session = _WatchSession(self, send)
        self.sessions.add(session)
        try:
            await session.run(incoming, stop)
        finally:
            self.sessions.discard(session)


class _WatchSession:
    def __init__(self, service: EtcdService, send: WatchSend) -> None:
        self.service = service
        self.send = send
        self.stream = WatchStream()
        self.body_open = True

    async def _emit(self, responses: tuple[WatchResponse, ...]) -> None:
        for response in responses:
            await self.send(response)

    async def apply(self, request: WatchStreamRequest) -> None:
        state = self.service.backend.state()
        if isinstance(request, WatchCreateRequest):
            self.stream, responses = on_create(state, self.stream, request)
        elif isinstance(request, WatchCancel):
            self.stream, responses = on_cancel(state, self.stream, request.watch_id)
        elif isinstance(request, WatchProgress):
            self.stream, responses = on_progress_request(state, self.stream)
        else:
            return
        await self._emit(responses)

    async def drain(self, incoming: asyncio.Queue[WatchStreamRequest | None]) -> None:
        while not incoming.empty():
            request = incoming.get_nowait()
            if request is None:
                self.body_open = False
                return
            await self.apply(request)

    async def run(
        self, incoming: asyncio.Queue[WatchStreamRequest | None], stop: asyncio.Event
    ) -> None:
        interval = self.service.progress_notify_interval_seconds
        next_progress = time.monotonic() + interval
        for _ in range(MAX_STREAM_POLLS):
            await self.drain(incoming)
            state = self.service.backend.state()
            self.stream, responses = deliver(state, self.stream)
            await self._emit(responses)
            if time.monotonic() >= next_progress:
                await self._emit(progress_notifications(state, self.stream))
                next_progress = time.monotonic() + interval
            finished = not self.body_open and not self.stream.watchers
            if finished or stop.is_set() or self.service.closing.is_set():
                return
            await asyncio.sleep(WATCH_POLL_SECONDS)
