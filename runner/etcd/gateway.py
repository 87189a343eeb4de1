"""etcd 3.4's v3 JSON gateway as an ASGI application over :class:`runner.etcd.service.EtcdService`.

Theory of operation. Each HTTP request is routed as etcd 3.4.23 routes it: ``POST /v3/...``
(``/v3beta/...`` is an alias), ``GET /health``, ``GET /version`` and ``/metrics``
(``runner.etcd.metrics``; any method, as etcd); another method on a known
path answers 405, ``OPTIONS`` 200 (CORS preflight), an unknown path 404, with etcd's bodies.
A unary body is read up to :data:`MAX_BODY_BYTES` (beyond it the request is refused as gRPC
refuses a message over its limit, without reading further), decoded strictly by
:mod:`models.etcd_decode` and answered with grpc-gateway's JSON: the response with the member's
header, or ``{"error", "message", "code"}`` with the HTTP status grpc-gateway maps the code to.
The v3lock and v3election routes (``/v3/lock/*``, ``/v3/election/*``) run the recipes of
:mod:`runner.etcd.recipe_services`; ``/v3/election/observe`` streams the leader's changes as
``{"result": ...}`` chunks. The Auth routes (``/v3/auth/*``) go to the service's auth; the
``Authorization`` header's value is the call's token, as grpc-gateway hands it to etcd.
``/v3/watch`` and ``/v3/lease/keepalive`` are streams: requests are decoded as they arrive on
the body and answers go out as newline-separated ``{"result": ...}`` chunks; a first message
that does not decode answers 500 with code 2 (Unknown), as etcd does, and a later one ends the
stream. Nothing a client sends reaches the backend unless it decoded and fits etcd's limits.

A unary body must arrive within ``body_read_timeout_seconds`` (default
:data:`BODY_READ_TIMEOUT_SECONDS`) of its first read: a client that announces bytes it never
sends (a chunk size larger than its data, a short ``Content-Length`` body) is answered 408 and
its connection closed. uvicorn and h11 have no setting for this (uvicorn's only timeouts are
keep-alive and shutdown), so the application bounds its own ``receive``. etcd sets no read
timeout on its gateway and waits for ever; a stream's body is long-lived by design and has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import msgspec
from returns.result import Failure, Success

from models.etcd import (
    GRPC_DEADLINE_EXCEEDED,
    GRPC_INVALID_ARGUMENT,
    CompactionRequest,
    DeleteRangeRequest,
    EtcdError,
    EtcdRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchResponse,
)
from models.etcd_auth import AUTH_METHODS, AnyResponse, AuthRequest
from models.etcd_decode import (
    decode_body,
    decode_request,
    decode_watch_request,
    parse_json,
)
from models.etcd_json import error_body, to_gateway
from models.etcd_recipes import (
    CampaignRequest,
    LeaderRequest,
    LockRequest,
    ProclaimRequest,
    ResignRequest,
    UnlockRequest,
)
from models.etcd_wire import grpc_too_large
from runner.etcd.etcdpb import v3election_pb2
from runner.etcd.grpc_codec import as_json
from runner.etcd.grpc_codec import encode as encode_message
from runner.etcd.recipe_services import RecipeFailed, answer_gateway, observe_answers
from runner.etcd.service import ETCD_CLUSTER_VERSION, ETCD_VERSION, REQUEST_TOKEN, EtcdService
from runner.served.metrics import CONTENT_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HTTP_STATUS_FOR_GRPC_CODE: Final = {
    1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
    9: 412, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}  # fmt: skip
GRPC_UNKNOWN: Final = 2
UNARY_ENDPOINTS: Final[dict[str, type[EtcdRequest]]] = {
    "/v3/kv/range": RangeRequest,
    "/v3/kv/put": PutRequest,
    "/v3/kv/deleterange": DeleteRangeRequest,
    "/v3/kv/txn": TxnRequest,
    "/v3/kv/compaction": CompactionRequest,
    "/v3/lease/grant": LeaseGrantRequest,
    "/v3/lease/revoke": LeaseRevokeRequest,
    "/v3/kv/lease/revoke": LeaseRevokeRequest,
    "/v3/lease/timetolive": LeaseTimeToLiveRequest,
    "/v3/kv/lease/timetolive": LeaseTimeToLiveRequest,
    "/v3/lease/leases": LeaseLeasesRequest,
    "/v3/kv/lease/leases": LeaseLeasesRequest,
}
RECIPE_ENDPOINTS: Final[dict[str, type[msgspec.Struct]]] = {
    "/v3/lock/lock": LockRequest,
    "/v3/lock/unlock": UnlockRequest,
    "/v3/election/campaign": CampaignRequest,
    "/v3/election/proclaim": ProclaimRequest,
    "/v3/election/leader": LeaderRequest,
    "/v3/election/resign": ResignRequest,
}
"""etcd's v3lock and v3election routes (``runner.etcd.recipe_services``)."""
AUTH_ENDPOINTS: Final[dict[str, type[AuthRequest]]] = {
    path: record_type for _, path, record_type, _ in AUTH_METHODS
}
OBSERVE_ENDPOINT: Final = "/v3/election/observe"
STREAM_ENDPOINTS: Final = frozenset({"/v3/watch", "/v3/lease/keepalive"})
POST_ENDPOINTS: Final = frozenset(
    {
        *UNARY_ENDPOINTS,
        *RECIPE_ENDPOINTS,
        *AUTH_ENDPOINTS,
        *STREAM_ENDPOINTS,
        OBSERVE_ENDPOINT,
        "/v3/maintenance/status",
    }
)
GET_ENDPOINTS: Final = frozenset({"/health", "/version"})
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
"""A body larger than this cannot hold a request under gRPC's 2 MiB limit with etcd's JSON
(base64 grows bytes by a third): it is refused unread, so memory stays bounded."""
MAX_STREAM_MESSAGES_QUEUED: Final = 1000
BODY_READ_TIMEOUT_SECONDS: Final = 30.0
CORS_HEADERS: Final = (
    (b"access-control-allow-headers", b"accept, content-type, authorization"),
    (b"access-control-allow-methods", b"POST, GET, OPTIONS, PUT, DELETE"),
    (b"access-control-allow-origin", b"*"),
)


class BodyTooLarge(Exception):  # noqa: N818 (a condition, not an error of ours)
    """The body passed :data:`MAX_BODY_BYTES`; ``size`` bytes were read."""

    def __init__(self, size: int) -> None:
        super().__init__(f"body over {MAX_BODY_BYTES} bytes")
        self.size = size


class ClientGone(Exception):  # noqa: N818
    """The client disconnected before its request was read."""


class BodyTimedOut(Exception):  # noqa: N818
    """The body did not arrive within the body read timeout."""


def normalize_path(path: str) -> str:
    """etcd 3.4 serves ``/v3beta/`` as ``/v3/``."""
    if path.startswith("/v3beta/"):
        return "/v3/" + path.removeprefix("/v3beta/")
    return path


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes, extra: tuple[Any, ...] = ()
) -> None:
    headers = [
        *CORS_HEADERS,
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_text(send: Send, status: int, text: str, extra: tuple[Any, ...] = ()) -> None:
    await _respond(send, status, text.encode(), b"text/plain; charset=utf-8", extra)


async def respond_error(send: Send, error: EtcdError, *, close: bool = False) -> None:
    """grpc-gateway's error answer; ``close``: the rest of the body is not read, so the
    connection ends with the answer."""
    status = HTTP_STATUS_FOR_GRPC_CODE.get(error.code, 500)
    extra = ((b"connection", b"close"),) if close else ()
    await _respond(send, status, _json(error_body(error)), b"application/json", extra)


INT63_MAX: Final = (1 << 63) - 1


def _content_length_fits(scope: Scope) -> bool:
    """No Content-Length header, or one whose value fits in Go's int64."""
    for name, value in scope["headers"]:
        if name == b"content-length" and int(value) > INT63_MAX:
            return False
    return True


async def read_body(receive: Receive, timeout_seconds: float) -> bytes:
    """The whole request body, or BodyTooLarge / ClientGone / BodyTimedOut."""
    parts: list[bytes] = []
    size = 0
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise BodyTimedOut from None
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge(size)
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


class GatewayApp:
    """The ASGI application (one per served member)."""

    def __init__(
        self,
        service: EtcdService,
        *,
        strict_fields: bool = False,
        body_read_timeout_seconds: float = BODY_READ_TIMEOUT_SECONDS,
    ) -> None:
        self.service = service
        self.strict_fields = strict_fields
        self.body_read_timeout_seconds = body_read_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = normalize_path(scope["path"])
        method = scope["method"]
        REQUEST_TOKEN.set(_authorization(scope))
        if not _content_length_fits(scope):
            # Go's net/http reads Content-Length as a uint63: a larger one is "bad
            # Content-Length", 400 in plain text before any handler (h11 takes any size).
            await _respond_text(send, 400, "400 Bad Request", ((b"connection", b"close"),))
        elif path == "/metrics":  # any method, as etcd's Prometheus handler
            await _respond(send, 200, self.service.metrics.text(), CONTENT_TYPE.encode())
        elif path in GET_ENDPOINTS:
            await self._get(path, method, send)
        elif path not in POST_ENDPOINTS:
            await _respond_text(send, 404, "Not Found\n")
        elif method == "OPTIONS":
            await _respond(send, 200, b"", b"text/plain; charset=utf-8")
        elif method != "POST":
            await _respond_text(send, 405, "Method Not Allowed\n")
        elif path in STREAM_ENDPOINTS:
            await StreamHandler(self, path, receive, send).run()
        else:
            await self._unary(path, receive, send)

    async def _get(self, path: str, method: str, send: Send) -> None:
        if method != "GET":
            await _respond_text(send, 405, "Method Not Allowed\n", ((b"allow", b"GET"),))
        elif path == "/version":
            version = {"etcdserver": ETCD_VERSION, "etcdcluster": ETCD_CLUSTER_VERSION}
            await _respond(send, 200, _json(version), b"application/json")
        else:
            healthy = self.service.healthy()
            body = _json({"health": "true" if healthy else "false"})
            await _respond(send, 200 if healthy else 503, body, b"text/plain; charset=utf-8")

    def encode(self, response: AnyResponse | WatchResponse) -> dict[str, Any]:
        return self.service.encode(response)

    async def _unary(self, path: str, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive, self.body_read_timeout_seconds)
        except BodyTooLarge as too_large:
            await respond_error(send, grpc_too_large(too_large.size), close=True)
            return
        except BodyTimedOut:
            seconds = f"{self.body_read_timeout_seconds:g}"
            timed_out = EtcdError(
                code=GRPC_DEADLINE_EXCEEDED,
                message=f"request body not received within {seconds} s",
            )
            body = _json(error_body(timed_out))
            await _respond(send, 408, body, b"application/json", ((b"connection", b"close"),))
            return
        except ClientGone:
            return
        if path == "/v3/maintenance/status":
            revision, fields = self.service.status()
            payload = {"header": to_gateway(self.service.header(revision)), **fields}
            await _respond(send, 200, _json(payload), b"application/json")
            return
        if path in RECIPE_ENDPOINTS:
            await self._recipe(path, body, send)
            return
        if path in AUTH_ENDPOINTS:
            await self._auth(path, body, send)
            return
        if path == OBSERVE_ENDPOINT:
            await self._observe(body, send)
            return
        match decode_body(body, UNARY_ENDPOINTS[path], strict_fields=self.strict_fields):
            case Failure(error):
                await respond_error(send, error)
            case Success(request):
                response = await self.service.unary(request)
                if isinstance(response, EtcdError):
                    await respond_error(send, response)
                else:
                    await _respond(send, 200, _json(self.encode(response)), b"application/json")

    async def _auth(self, path: str, body: bytes, send: Send) -> None:
        match decode_body(body, AUTH_ENDPOINTS[path], strict_fields=self.strict_fields):
            case Failure(error):
                await respond_error(send, error)
            case Success(request):
                response = await self.service.auth(request)
                if isinstance(response, EtcdError):
                    await respond_error(send, response)
                else:
                    await _respond(send, 200, _json(self.encode(response)), b"application/json")

    async def _observe(self, body: bytes, send: Send) -> None:
        """``/v3/election/observe``: one ``{"result": LeaderResponse}`` line per leader change,
        until the client goes away. An observer whose request fails (a read the caller may not
        make) ends the stream as etcd's does: status 200, nothing more."""
        match decode_body(body, LeaderRequest, strict_fields=self.strict_fields):
            case Failure(error):
                await respond_error(send, error)
                return
            case Success(request):
                message = encode_message(to_gateway(request), v3election_pb2.LeaderRequest())
        started = False

        async def write(line: bytes) -> None:
            # grpc-gateway writes the head with the first message: an observer of an election
            # without a leader gets no head until there is one.
            nonlocal started
            if not started:
                headers = [*CORS_HEADERS, (b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                started = True
            await send({"type": "http.response.body", "body": line, "more_body": True})

        with contextlib.suppress(RecipeFailed):
            async for answer in observe_answers(self.service, message):
                await write(_json({"result": as_json(answer)}) + b"\n")
        if not started:
            await write(b"")
        await send({"type": "http.response.body", "body": b""})

    async def _recipe(self, path: str, body: bytes, send: Send) -> None:
        match decode_body(body, RECIPE_ENDPOINTS[path], strict_fields=self.strict_fields):
            case Failure(error):
                await respond_error(send, error)
            case Success(request):
                answer = await answer_gateway(self.service, path, to_gateway(request))
                if isinstance(answer, EtcdError):
                    await respond_error(send, answer)
                else:
                    await _respond(send, 200, _json(answer), b"application/json")


def _authorization(scope: Scope) -> str | None:
    """The ``Authorization`` header's value (etcd takes it as the token, unprefixed)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return None


class _JsonSplitter:
    """JSON values from a byte stream, as they complete (whitespace between them)."""

    def __init__(self) -> None:
        self.buffer = ""
        self.pending = b""
        self.decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[Any]:
        """Complete values so far; raises ValueError on text that cannot start a value."""
        self.pending += data
        try:
            text = self.pending.decode("utf-8")
            self.pending = b""
        except UnicodeDecodeError as error:
            if error.start < len(self.pending) - 3:
                raise ValueError("invalid UTF-8 in request body") from error
            text = self.pending[: error.start].decode("utf-8")
            self.pending = self.pending[error.start :]
        self.buffer += text
        if len(self.buffer) > MAX_BODY_BYTES:
            raise BodyTooLarge(len(self.buffer))
        values = []
        for _ in range(MAX_STREAM_MESSAGES_QUEUED):
            self.buffer = self.buffer.lstrip()
            if not self.buffer:
                break
            try:
                value, end = self.decoder.raw_decode(self.buffer)
            except json.JSONDecodeError as error:
                if error.pos >= len(self.buffer) - 1 or "Unterminated" in error.msg:
                    break  # incomplete: wait for more
                raise ValueError(error.msg) from error
            values.append(value)
            self.buffer = self.buffer[end:]
        return values

    def leftover(self) -> bytes:
        return self.buffer.encode() + self.pending


class _Closed:
    """The client's side of a stream ended (``disconnected``: the connection went away)."""

    def __init__(self, disconnected: bool, error: EtcdError | None = None) -> None:
        self.disconnected = disconnected
        self.error = error


class StreamHandler:
    """One ``/v3/watch`` or ``/v3/lease/keepalive`` stream."""

    def __init__(self, app: GatewayApp, path: str, receive: Receive, send: Send) -> None:
        self.app = app
        self.path = path
        self.receive = receive
        self.send_message = send
        self.incoming: asyncio.Queue[Any] = asyncio.Queue(maxsize=MAX_STREAM_MESSAGES_QUEUED)
        self.stop = asyncio.Event()

    def decode(self, value: Any) -> Any:
        if self.path == "/v3/watch":
            return decode_watch_request(value, strict_fields=self.app.strict_fields)
        return decode_request(value, LeaseKeepAliveRequest, strict_fields=self.app.strict_fields)

    async def read(self) -> None:
        """Decode the body's messages into ``incoming`` as they arrive; a _Closed at the end."""
        splitter = _JsonSplitter()
        closed = _Closed(disconnected=False)
        try:
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    closed = _Closed(disconnected=True)
                    break
                for value in splitter.feed(message.get("body", b"")):
                    match self.decode(value):
                        case Failure(error):
                            raise _StreamRefused(error)
                        case Success(request):
                            await self.incoming.put(request)
                if not message.get("more_body", False):
                    leftover = splitter.leftover().strip()
                    if leftover:
                        raise ValueError("unexpected end of the request body")
                    break
        except _StreamRefused as refused:
            closed = _Closed(disconnected=False, error=refused.error)
        except (ValueError, BodyTooLarge) as error:
            closed = _Closed(disconnected=False, error=_syntax_error(splitter, str(error)))
        await self.incoming.put(closed)

    async def run(self) -> None:
        reader = asyncio.create_task(self.read())
        try:
            first = await self.incoming.get()
            if isinstance(first, _Closed) and first.error is not None:
                error = EtcdError(code=GRPC_UNKNOWN, message=first.error.message)
                await respond_error(self.send_message, error, close=True)
                return
            if isinstance(first, _Closed) and first.disconnected:
                return
            headers = [*CORS_HEADERS, (b"content-type", b"application/json")]
            await self.send_message(
                {"type": "http.response.start", "status": 200, "headers": headers}
            )
            await self.serve(first)
            await self.send_message({"type": "http.response.body", "body": b""})
        finally:
            reader.cancel()

    async def chunk(self, payload: Any) -> None:
        data = _json({"result": payload}) + b"\n"
        await self.send_message({"type": "http.response.body", "body": data, "more_body": True})

    async def serve(self, first: Any) -> None:
        if self.path == "/v3/lease/keepalive":
            item = first
            while not isinstance(item, _Closed):
                await self.chunk(self.app.encode(await self.app.service.keepalive(item)))
                item = await self.incoming.get()
            return
        requests: asyncio.Queue[Any] = asyncio.Queue()
        await requests.put(None if isinstance(first, _Closed) else first)
        # The service reads plain requests; a _Closed ends the client's side.
        pump = asyncio.create_task(self._forward(first, requests))
        try:
            await self.app.service.watch(requests, self._send_watch, self.stop)
        finally:
            pump.cancel()

    async def _forward(self, first: Any, requests: asyncio.Queue[Any]) -> None:
        if isinstance(first, _Closed):
            return
        while True:
            item = await self.incoming.get()
            if isinstance(item, _Closed):
                if item.disconnected or item.error is not None:
                    self.stop.set()
                await requests.put(None)
                return
            await requests.put(item)

    async def _send_watch(self, response: WatchResponse) -> None:
        await self.chunk(self.app.encode(response))


class _StreamRefused(Exception):  # noqa: N818
    def __init__(self, error: EtcdError) -> None:
        super().__init__(error.message)
        self.error = error


def _syntax_error(splitter: _JsonSplitter, reason: str) -> EtcdError:
    """Go's message for the text that did not parse, when the JSON parser gives one."""
    parsed = parse_json(splitter.leftover())
    if isinstance(parsed, Failure):
        error: EtcdError = parsed.failure()
        return error
    return EtcdError(code=GRPC_INVALID_ARGUMENT, message=reason)
