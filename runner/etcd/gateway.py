"""An HTTP server speaking etcd 3.4's v3 JSON gateway in front of a reference backend.

Unary endpoints answer one JSON object (``Content-Length``); ``/v3/watch`` and
``/v3/lease/keepalive`` stream newline-delimited ``{"result": ...}`` objects with chunked
transfer encoding, as grpc-gateway does. Errors use grpc-gateway's body
``{"error", "message", "code"}`` and its HTTP status for the gRPC code (as observed from etcd
3.4.23: InvalidArgument and OutOfRange 400, NotFound 404, FailedPrecondition 412, Unavailable
503). ``/v3beta/`` is accepted as an alias of ``/v3/``, as etcd 3.4 does.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, BinaryIO

import msgspec

from impl.etcd.watch import (
    WatchStream,
    deliver,
    on_cancel,
    on_create,
    on_progress_request,
    progress_notifications,
)
from models.etcd import (
    GRPC_INVALID_ARGUMENT,
    CompactionRequest,
    DeleteRangeRequest,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchCreateRequest,
    WatchResponse,
)
from models.etcd_json import error_body, from_gateway, to_gateway
from runner.etcd.backend import Backend

HTTP_STATUS_FOR_GRPC_CODE = {
    1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
    9: 412, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}  # fmt: skip
UNARY_ENDPOINTS: dict[str, type[EtcdRequest]] = {
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
ETCD_VERSION = "3.4.23"
MAX_BODY_BYTES = 3 * 1024 * 1024
WATCH_POLL_SECONDS = 0.05
MAX_STREAM_WAITS = 10**9
MAX_QUEUED_WATCH_REQUESTS = 1000
MAX_BODY_CHUNKS = 10**7


def _json_objects(body: bytes) -> Iterator[Any]:
    """The JSON objects of a stream request body (one or more, whitespace-separated)."""
    text = body.decode("utf-8")
    decoder = json.JSONDecoder()
    position = 0
    for _ in range(10_000):
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        value, position = decoder.raw_decode(text, position)
        yield value


def _chunks(rfile: BufferedIOBase | BinaryIO) -> Iterator[bytes]:
    """The chunks of a chunked request body, until the last chunk or end of input."""
    for _ in range(MAX_BODY_CHUNKS):
        size_line = rfile.readline(1024)
        if not size_line:
            return
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            rfile.readline(1024)
            return
        yield rfile.read(size)
        rfile.readline(1024)


def _feed(rfile: BufferedIOBase | BinaryIO, incoming: queue.Queue[Any]) -> None:
    """Parse JSON requests from a streaming body into ``incoming`` as they arrive."""
    buffer = ""
    decoder = json.JSONDecoder()
    try:
        for chunk in _chunks(rfile):
            buffer += chunk.decode("utf-8")
            for _ in range(MAX_QUEUED_WATCH_REQUESTS):
                buffer = buffer.lstrip()
                try:
                    value, end = decoder.raw_decode(buffer)
                except ValueError:
                    break
                incoming.put(value, timeout=10)
                buffer = buffer[end:]
    except (OSError, ValueError, queue.Full):
        return


class GatewayHandler(BaseHTTPRequestHandler):
    """One HTTP/1.1 connection to the gateway."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    # ---- plumbing --------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, error: EtcdError) -> None:
        self._send_json(HTTP_STATUS_FOR_GRPC_CODE.get(error.code, 500), error_body(error))

    def _start_stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, payload: Any) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _encode(self, response: EtcdResponse | WatchResponse) -> dict[str, Any]:
        encoded = to_gateway(response)
        encoded["header"] = to_gateway(self.server.backend.header(response.header.revision))
        return encoded

    # ---- dispatch --------------------------------------------------------------------------

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/v3beta/"):
            path = "/v3/" + path.removeprefix("/v3beta/")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked and path == "/v3/watch":
            self._watch_streaming_body()
            return
        if chunked:
            body = b"".join(_chunks(self.rfile))
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, MAX_BODY_BYTES + 1))
        if len(body) > MAX_BODY_BYTES:
            self._send_error(EtcdError(code=GRPC_INVALID_ARGUMENT, message="request too large"))
            return
        handlers: dict[str, Callable[[bytes], None]] = {
            "/v3/watch": self._watch,
            "/v3/lease/keepalive": self._keepalive,
            "/v3/maintenance/status": self._status,
        }
        if path in handlers:
            handlers[path](body)
        elif path in UNARY_ENDPOINTS:
            self._unary(UNARY_ENDPOINTS[path], body)
        else:
            self._not_found()

    def do_GET(self) -> None:
        self._not_found()

    def _not_found(self) -> None:
        body = b"Not Found\n"
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _decode(self, body: bytes, record_type: type[Any]) -> Any:
        try:
            data = json.loads(body or b"{}")
            return from_gateway(data, record_type)
        except (ValueError, msgspec.ValidationError) as error:
            self._send_error(EtcdError(code=GRPC_INVALID_ARGUMENT, message=str(error)))
            return None

    def _unary(self, record_type: type[EtcdRequest], body: bytes) -> None:
        request = self._decode(body, record_type)
        if request is None:
            return
        backend = self.server.backend
        if isinstance(request, RangeRequest) and request.serializable:
            response = backend.read(request)
        else:
            response = backend.propose(request)
        if isinstance(response, EtcdError):
            self._send_error(response)
        else:
            self._send_json(HTTPStatus.OK, self._encode(response))

    def _status(self, body: bytes) -> None:
        del body
        backend = self.server.backend
        state = backend.state()
        payload: dict[str, Any] = {
            "header": to_gateway(backend.header(state.revision)),
            "version": ETCD_VERSION,
            "dbSize": str(len(state.history) * 64 + 16384),
            "dbSizeInUse": str(len(state.history) * 64 + 16384),
            **backend.status(),
        }
        self._send_json(HTTPStatus.OK, payload)

    def _keepalive(self, body: bytes) -> None:
        requests = []
        try:
            for item in _json_objects(body):
                requests.append(from_gateway(item, LeaseKeepAliveRequest))
        except (ValueError, msgspec.ValidationError) as error:
            self._send_error(EtcdError(code=GRPC_INVALID_ARGUMENT, message=str(error)))
            return
        self._start_stream()
        for request in requests:
            response = self.server.backend.propose(request)
            assert not isinstance(response, EtcdError)
            self._chunk({"result": self._encode(response)})
        self._end_stream()

    def _watch(self, body: bytes) -> None:
        try:
            requests = list(_json_objects(body))
        except ValueError as error:
            self._send_error(EtcdError(code=GRPC_INVALID_ARGUMENT, message=str(error)))
            return
        incoming: queue.Queue[Any] = queue.Queue(maxsize=MAX_QUEUED_WATCH_REQUESTS)
        for request in requests[:MAX_QUEUED_WATCH_REQUESTS]:
            incoming.put(request)
        self._start_stream()
        try:
            WatchSession(self, incoming, body_open=lambda: False).run()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def _watch_streaming_body(self) -> None:
        """A watch whose request body stays open: requests arrive while events flow."""
        incoming: queue.Queue[Any] = queue.Queue(maxsize=MAX_QUEUED_WATCH_REQUESTS)
        reader = threading.Thread(target=_feed, args=(self.rfile, incoming), daemon=True)
        reader.start()
        self._start_stream()
        try:
            WatchSession(self, incoming, body_open=reader.is_alive).run()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


class WatchSession:
    """One watch stream: applies the body's requests, then follows the store until closed."""

    def __init__(
        self, handler: GatewayHandler, incoming: queue.Queue[Any], body_open: Callable[[], bool]
    ) -> None:
        self.handler = handler
        self.backend = handler.server.backend
        self.incoming = incoming
        self.body_open = body_open
        self.stream = WatchStream()

    def send(self, responses: tuple[WatchResponse, ...]) -> None:
        for response in responses:
            self.handler._chunk({"result": self.handler._encode(response)})

    def apply_request(self, request: Any) -> None:
        state = self.backend.state()
        if not isinstance(request, dict):
            return
        if "create_request" in request or "createRequest" in request:
            body = request.get("create_request", request.get("createRequest"))
            create = from_gateway(body, WatchCreateRequest)
            self.stream, responses = on_create(state, self.stream, create)
        elif "cancel_request" in request or "cancelRequest" in request:
            body = request.get("cancel_request", request.get("cancelRequest")) or {}
            watch_id = int(body.get("watch_id", body.get("watchId", 0)))
            self.stream, responses = on_cancel(state, self.stream, watch_id)
        elif "progress_request" in request or "progressRequest" in request:
            self.stream, responses = on_progress_request(state, self.stream)
        else:
            return
        self.send(responses)

    def drain_requests(self) -> None:
        for _ in range(MAX_QUEUED_WATCH_REQUESTS):
            try:
                request = self.incoming.get_nowait()
            except queue.Empty:
                return
            self.apply_request(request)

    def run(self) -> None:
        self.drain_requests()
        interval = self.handler.server.progress_notify_interval_seconds
        next_progress = time.monotonic() + interval
        for _ in range(MAX_STREAM_WAITS):
            if self.handler.server.closing.is_set():
                return
            self.drain_requests()
            with self.backend.changed:
                self.backend.changed.wait(WATCH_POLL_SECONDS)
            state = self.backend.state()
            self.stream, responses = deliver(state, self.stream)
            self.send(responses)
            if time.monotonic() >= next_progress:
                self.send(progress_notifications(state, self.stream))
                next_progress = time.monotonic() + interval
            if not self.stream.watchers and self.incoming.empty() and not self.body_open():
                return
            self.handler.wfile.flush()


class GatewayServer(ThreadingHTTPServer):
    """The threaded HTTP server; ``serve_forever`` until ``shutdown``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        backend: Backend,
        progress_notify_interval_seconds: float = 0.5,
    ) -> None:
        super().__init__(address, GatewayHandler)
        self.backend = backend
        self.progress_notify_interval_seconds = progress_notify_interval_seconds
        self.closing = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        for _ in range(MAX_STREAM_WAITS):
            if self.closing.wait(0.1):
                return
            self.backend.tick()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        """Stop serving, end streams, release the port."""
        self.closing.set()
        self.shutdown()
        self.backend.close()
        self.server_close()
        self._ticker.join(timeout=2)
