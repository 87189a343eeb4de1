"""The API server's ASGI application: HTTP requests in, the machine's answers and watch streams
out.

Theory of operation. Everything runs on the event loop's thread: a request handler reads the
body (at most ``MAX_BODY_BYTES``, kube's default), turns the request into a ``RequestReceived``
with fresh entropy and feeds the driver, then waits for what the machine says about that request
ID. ``StreamSink`` (the driver's sink) resolves the waiting handler with an answer, or with a
``WatchStream`` whose lines the handler writes as they come (chunked, one JSON event per line)
until the machine ends it, the client leaves (``WatchClosed``), or the stream falls more than
``MAX_PENDING_LINES`` behind (kube's cacher drops a watcher whose buffer is full; the client
re-watches). A watch without ``timeoutSeconds`` gets kube's default, a random time between 30
and 60 minutes. Every request is logged in one line.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec

from impl.apiserver.connect import authorize_connect
from models.apiserver.auth import Credentials
from models.apiserver.messages import (
    ApiRequest,
    ApiResponse,
    RequestReceived,
    WatchClosed,
)
from models.apiserver.status import failure
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status
from models.k8s.remotecommand import PROTOCOLS, choose_protocol
from runner.apiserver import openapi_v2, protobuf
from runner.apiserver.driver import Driver
from runner.apiserver.entropy import EntropySource
from runner.apiserver.metrics import ApiServerMetrics, request_labels
from runner.apiserver.metrics_api import MetricsApi
from runner.apiserver.pod_exec import is_exec_path, locate, refusal_for_plain_request, relay
from runner.apiserver.pod_logs import fetch_url, is_log_request, pod_log
from runner.apiserver.tls import client_identity
from runner.served.metrics import CONTENT_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES: Final = 3 * 1024 * 1024
"""kube-apiserver's default ``MaxRequestBodyBytes``."""
MAX_PENDING_LINES: Final = 10_000
MIN_REQUEST_TIMEOUT_SECONDS: Final = 1800
"""``--min-request-timeout``: a watch without timeoutSeconds lasts 1-2 times this."""

LOG = logging.getLogger("kubeoracle.apiserver")


class WatchStream:
    """The lines of one watch, queued for its connection; None ends it."""

    def __init__(self, content_type: str) -> None:
        self.content_type = content_type
        self.lines: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.overflowed = False


class StreamSink:
    """The driver's sink: resolves each request's waiting handler."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[ApiResponse | WatchStream]] = {}
        self.streams: dict[int, WatchStream] = {}
        self.dropped: list[int] = []

    def respond(self, request_id: int, response: ApiResponse) -> None:
        future = self.waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(response)

    def start_watch(self, request_id: int, content_type: str) -> None:
        stream = WatchStream(content_type)
        self.streams[request_id] = stream
        future = self.waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(stream)

    def send_watch(self, watch_id: int, line: bytes) -> None:
        stream = self.streams.get(watch_id)
        if stream is None or stream.overflowed:
            return
        if stream.lines.qsize() >= MAX_PENDING_LINES:
            stream.overflowed = True
            stream.lines.put_nowait(None)
            self.dropped.append(watch_id)
            return
        stream.lines.put_nowait(line)

    def end_watch(self, watch_id: int) -> None:
        stream = self.streams.pop(watch_id, None)
        if stream is not None:
            stream.lines.put_nowait(None)

    def end_all(self) -> None:
        for watch_id in list(self.streams):
            self.end_watch(watch_id)


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
    return headers


def _credentials(scope: Scope, headers: dict[str, str]) -> Credentials | None:
    """What a request over the secure port presented; None over plain HTTP."""
    if scope.get("scheme") != "https":
        return None
    verdict = client_identity(scope)
    identity = verdict if isinstance(verdict, tuple) else None
    groups = tuple(
        raw_value.decode("latin-1")
        for raw_name, raw_value in scope.get("headers", [])
        if raw_name.decode("latin-1").lower() == "impersonate-group"
    )
    return Credentials(
        certificate_user=identity[0] if identity is not None else None,
        certificate_groups=identity[1] if identity is not None else (),
        certificate_error=verdict if isinstance(verdict, str) else None,
        authorization=headers.get("authorization"),
        impersonate_user=headers.get("impersonate-user"),
        impersonate_groups=groups,
        impersonate_uid=headers.get("impersonate-uid"),
    )


def _status_response(code: int, reason: str, message: str) -> ApiResponse:
    return ApiResponse(status=code, body=encode_json(failure(code, reason, message)))


async def _fetch_in_thread(url: str) -> tuple[int, bytes]:
    return await asyncio.to_thread(fetch_url, url)


class ApiServerApp:
    """The ASGI application over one driver."""

    def __init__(
        self,
        driver: Driver,
        sink: StreamSink,
        entropy: EntropySource,
        metrics: ApiServerMetrics | None = None,
    ) -> None:
        self.driver = driver
        self.sink = sink
        self.entropy = entropy
        self.metrics = metrics
        self.next_request = 1
        self.closing = asyncio.Event()
        self.request_filter: Callable[[ApiRequest], ApiRequest] | None = None
        """A deliberately broken server's change to each request (``--mutant``)."""
        self.metrics_api: MetricsApi | None = None
        """``metrics.k8s.io`` (``--metric-resolution``), when served."""

    def serve_metrics(self, resolution_seconds: float) -> MetricsApi:
        """Serve ``metrics.k8s.io`` from now on; the caller runs its scrape loop."""
        self.metrics_api = MetricsApi(self._ask_answer, _fetch_in_thread, resolution_seconds)
        return self.metrics_api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        body = await self._read_body(receive)
        if isinstance(body, ApiResponse):
            await self._send(send, body)
            self._log(scope, body.status, started)
            return
        request = self._request(scope, body)
        if isinstance(request, ApiResponse):
            await self._send(send, request)
            self._log(scope, request.status, started)
            return
        if self.request_filter is not None:
            request = self.request_filter(request)
        if is_exec_path(request.path) and request.method.upper() in ("GET", "POST"):
            located = await locate(request, self._ask_answer, self._authorize_connect)
            answer = (
                located
                if isinstance(located, ApiResponse)
                else refusal_for_plain_request(_headers(scope).get("upgrade", ""))
            )
            await self._send(send, answer)
            self._log(scope, answer.status, started)
            return
        metrics_api = self.metrics_api
        if metrics_api is not None and metrics_api.handles(request):
            answer = await metrics_api.answer(request)
            await self._send(send, answer)
            self._log(scope, answer.status, started)
            return
        if metrics_api is not None and metrics_api.is_discovery(request):
            answer = await metrics_api.discovery(request)
            await self._send(send, answer)
            self._log(scope, answer.status, started)
            return
        if is_log_request(request):
            answer = await pod_log(request, self._ask_answer, _fetch_in_thread)
            await self._send(send, answer)
            self._log(scope, answer.status, started)
            return
        if openapi_v2.wants_protobuf(request):
            json_answer = await self._ask_answer(openapi_v2.as_json_request(request))
            answer = openapi_v2.as_protobuf(json_answer)
            await self._send(send, answer)
            self._log(scope, answer.status, started)
            return
        if self.metrics is None:
            await self._answer(scope, send, receive, request, started)
            return
        if request.path == "/metrics":
            await self._send_metrics(scope, send, request, started)
            return
        await self._measured(scope, send, receive, request, started, self.metrics)

    def _authorize_connect(self, request: ApiRequest) -> ApiRequest | Status:
        return authorize_connect(self.driver.config, self.driver.state, request)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: ``pods/exec`` is relayed to the kubelet
        (:mod:`runner.apiserver.pod_exec`); anything else is refused with 404."""
        started = time.monotonic()
        if (await receive()).get("type") != "websocket.connect":
            return
        # As an HTTP request: a GET, over https when the upgrade came over TLS (wss).
        secure = scope.get("scheme") == "wss"
        as_http = dict(scope, method="GET", scheme="https" if secure else "http")
        request = self._request(as_http, b"")
        if isinstance(request, ApiResponse):
            await self._reject(scope, send, request, started)
            return
        if self.request_filter is not None:
            request = self.request_filter(request)
        if not is_exec_path(request.path):
            missing = "the server could not find the requested resource"
            await self._reject(scope, send, _status_response(404, "NotFound", missing), started)
            return
        located = await locate(request, self._ask_answer, self._authorize_connect)
        if isinstance(located, ApiResponse):
            await self._reject(scope, send, located, started)
            return
        offered = list(scope.get("subprotocols") or [])
        protocol = choose_protocol(offered)
        if protocol is None:
            message = (
                f"requested protocol(s) are not supported: {offered}; supports {list(PROTOCOLS)}"
            )
            await self._reject(scope, send, _status_response(400, "BadRequest", message), started)
            return
        await send({"type": "websocket.accept", "subprotocol": protocol})
        self._log(dict(scope, method="GET"), 101, started)
        await relay(located, protocol, receive, send)

    async def _reject(
        self, scope: Scope, send: Send, response: ApiResponse, started: float
    ) -> None:
        """Answer a WebSocket upgrade request with a plain HTTP response."""
        headers = [
            (b"content-type", response.content_type.encode("latin-1")),
            (b"content-length", str(len(response.body)).encode()),
            (b"cache-control", b"no-cache, private"),
        ]
        await send(
            {"type": "websocket.http.response.start", "status": response.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
        self._log(dict(scope, method="GET"), response.status, started)

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        receive: Receive,
        request: ApiRequest,
        started: float,
        on_line: Callable[[], None] | None = None,
    ) -> int:
        """Ask the machine and answer (a watch: stream it, calling ``on_line`` for each event
        written); the status."""
        request_id, outcome = await self._ask(request)
        if isinstance(outcome, ApiResponse):
            await self._send(send, outcome)
            self._log(scope, outcome.status, started)
            return outcome.status
        self._log(scope, 200, started)
        await self._stream(send, receive, request_id, outcome, on_line)
        return 200

    async def _measured(
        self,
        scope: Scope,
        send: Send,
        receive: Receive,
        request: ApiRequest,
        started: float,
        metrics: ApiServerMetrics,
    ) -> None:
        state = metrics.state()
        labels = request_labels(request, state.catalog if state is not None else None)
        watching = labels[0] == "WATCH"
        gauge = metrics.longrunning.labels(*labels) if watching else None
        inflight = None if watching else metrics.inflight.labels(metrics.request_kind(request))
        for tracked in (gauge, inflight):
            if tracked is not None:
                tracked.inc()
        events = metrics.watch_events.labels(*metrics.watch_kind(labels)) if watching else None
        try:
            status = await self._answer(
                scope, send, receive, request, started, events.inc if events else None
            )
        finally:
            for tracked in (gauge, inflight):
                if tracked is not None:
                    tracked.dec()
        metrics.finished(labels, status, time.monotonic() - started)

    async def _send_metrics(
        self, scope: Scope, send: Send, request: ApiRequest, started: float
    ) -> None:
        """``/metrics``: on the secure port only for whom the machine authorizes (it answers
        404 for a non-resource path it lets through, 401 or 403 otherwise)."""
        assert self.metrics is not None
        answer = ApiResponse(status=200, body=self.metrics.text(), content_type=CONTENT_TYPE)
        if request.method.upper() not in ("GET", "HEAD"):
            answer = _status_response(
                405, "MethodNotAllowed", "the server does not allow this method"
            )
        elif scope.get("scheme") == "https":
            _, outcome = await self._ask(request)
            if isinstance(outcome, ApiResponse) and outcome.status != 404:
                answer = outcome
        await self._send(send, answer)
        self._log(scope, answer.status, started)

    async def _read_body(self, receive: Receive) -> bytes | ApiResponse:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return _status_response(
                    413,
                    "RequestEntityTooLarge",
                    f"Request entity too large: limit is {MAX_BODY_BYTES}",
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _request(self, scope: Scope, body: bytes) -> ApiRequest | ApiResponse:
        headers = _headers(scope)
        content_type = headers.get("content-type", "")
        if content_type.split(";")[0].strip() == protobuf.MEDIA_TYPE and body:
            decoded = protobuf.decode_object(body)
            if isinstance(decoded, protobuf.Undecodable):
                if decoded.malformed:
                    return _status_response(400, "BadRequest", decoded.message)
                return _status_response(
                    415,
                    "UnsupportedMediaType",
                    f"{decoded.message}: send application/json or application/yaml",
                )
            body, content_type = msgspec.json.encode(decoded), "application/json"
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        is_watch = any(key == "watch" and value in ("true", "1") for key, value in query)
        if is_watch and not any(key == "timeoutSeconds" for key, _ in query):
            spread = random.uniform(1.0, 2.0)
            query.append(("timeoutSeconds", str(int(MIN_REQUEST_TIMEOUT_SECONDS * spread))))
        return ApiRequest(
            method=scope["method"],
            path=scope["path"],
            query=tuple(query),
            content_type=content_type,
            accept=headers.get("accept", ""),
            user_agent=headers.get("user-agent", ""),
            body=body,
            credentials=_credentials(scope, headers),
        )

    async def _ask(self, request: ApiRequest) -> tuple[int, ApiResponse | WatchStream]:
        request_id = self.next_request
        self.next_request += 1
        future: asyncio.Future[ApiResponse | WatchStream] = (
            asyncio.get_running_loop().create_future()
        )
        self.sink.waiting[request_id] = future
        self.driver.feed(
            RequestReceived(request_id=request_id, request=request, entropy=self.entropy.draw())
        )
        self._forget_dropped()
        return request_id, await future

    async def _ask_answer(self, request: ApiRequest) -> ApiResponse:
        """A plain request's answer (never a watch)."""
        _, outcome = await self._ask(request)
        assert isinstance(outcome, ApiResponse), "a GET without watch answers at once"
        return outcome

    def _forget_dropped(self) -> None:
        while self.sink.dropped:
            self.driver.feed(WatchClosed(watch_id=self.sink.dropped.pop()))

    async def _send(self, send: Send, response: ApiResponse) -> None:
        headers = [
            (b"content-type", response.content_type.encode("latin-1")),
            (b"content-length", str(len(response.body)).encode()),
            (b"cache-control", b"no-cache, private"),
        ]
        headers += [(h.name.lower().encode(), h.value.encode()) for h in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _stream(
        self,
        send: Send,
        receive: Receive,
        watch_id: int,
        stream: WatchStream,
        on_line: Callable[[], None] | None = None,
    ) -> None:
        headers = [
            (b"content-type", stream.content_type.encode("latin-1")),
            (b"cache-control", b"no-cache, private"),
            (b"transfer-encoding", b"chunked"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        gone = asyncio.ensure_future(self._wait_disconnect(receive))
        try:
            while True:
                getter = asyncio.ensure_future(stream.lines.get())
                done, _ = await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                line = getter.result()
                if line is None:
                    break
                await send({"type": "http.response.body", "body": line, "more_body": True})
                if on_line is not None:
                    on_line()
            await send({"type": "http.response.body", "body": b""})
        except OSError:
            pass
        finally:
            gone.cancel()
            if watch_id in self.sink.streams:
                self.sink.streams.pop(watch_id, None)
                self.driver.feed(WatchClosed(watch_id=watch_id))
            self._forget_dropped()

    async def _wait_disconnect(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    def _log(self, scope: Scope, status: int, started: float) -> None:
        headers = _headers(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        uri = scope["path"] + (f"?{query}" if query else "")
        client = scope.get("client") or ("", 0)
        LOG.info(
            "HTTP verb=%s URI=%s latency=%.3fms userAgent=%s srcIP=%s:%s resp=%d",
            scope["method"],
            msgspec.json.encode(uri).decode(),
            (time.monotonic() - started) * 1000,
            msgspec.json.encode(headers.get("user-agent", "")).decode(),
            client[0],
            client[1],
            status,
        )
