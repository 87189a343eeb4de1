"""A small client for etcd's v3 JSON gateway (real etcd 3.4 or ``kubeoracle serve etcd``).

Unary calls return the decoded response, an :class:`models.etcd.EtcdError` the server sent, or
:class:`Indeterminate` when the outcome is unknown (connection lost, timeout, or an Unavailable
error such as "request timed out" or "leader changed", after which the request may still be
applied). Watches are read line by line from the streaming ``/v3/watch`` response.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

import msgspec

from models.etcd import (
    GRPC_UNAVAILABLE,
    CompactionRequest,
    CompactionResponse,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseRevokeRequest,
    LeaseRevokeResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from models.etcd_json import from_gateway, to_gateway, watch_create_body

T = TypeVar("T")
DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_WATCH_LINE_BYTES = 64 * 1024 * 1024


class Indeterminate(msgspec.Struct, frozen=True, kw_only=True):
    """No answer, or an answer that leaves the outcome unknown."""

    reason: str


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``http://host:port`` to ``(host, port)``."""
    address = endpoint.removeprefix("http://").rstrip("/")
    host, _, port = address.rpartition(":")
    return host, int(port)


class EtcdGatewayClient:
    """One connection to one endpoint; not shared between threads."""

    def __init__(self, endpoint: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.endpoint = endpoint
        self.host, self.port = split_endpoint(endpoint)
        self.timeout_seconds = timeout_seconds
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        """Drop the connection (the next call reconnects)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def post(self, path: str, body: Any) -> tuple[int, Any] | Indeterminate:
        """POST JSON, return (HTTP status, decoded JSON) or Indeterminate on transport failure."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout_seconds
            )
        try:
            self._connection.request(
                "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            response = self._connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Indeterminate(reason=f"{type(error).__name__}: {error}")
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return Indeterminate(reason=f"HTTP {response.status}: {raw[:200]!r}")

    def call(self, path: str, body: Any, response_type: type[T]) -> T | EtcdError | Indeterminate:
        """A unary call decoded into ``response_type`` or the error etcd returned."""
        answer = self.post(path, body)
        if isinstance(answer, Indeterminate):
            return answer
        status, data = answer
        if not isinstance(data, dict):
            return Indeterminate(reason=f"HTTP {status}: unexpected body {data!r}")
        if "error" in data and "code" in data:
            error = EtcdError(code=int(data["code"]), message=str(data.get("message", "")))
            if error.code == GRPC_UNAVAILABLE:
                return Indeterminate(reason=error.message)
            return error
        if status != http.client.OK:
            return Indeterminate(reason=f"HTTP {status}: {data!r}")
        try:
            return from_gateway(data, response_type)
        except msgspec.ValidationError as error:
            return Indeterminate(reason=f"undecodable response {data!r}: {error}")

    def range(self, request: RangeRequest) -> RangeResponse | EtcdError | Indeterminate:
        """``/v3/kv/range``."""
        return self.call("/v3/kv/range", to_gateway(request), RangeResponse)

    def put(self, request: PutRequest) -> PutResponse | EtcdError | Indeterminate:
        """``/v3/kv/put``."""
        return self.call("/v3/kv/put", to_gateway(request), PutResponse)

    def delete_range(
        self, request: DeleteRangeRequest
    ) -> DeleteRangeResponse | EtcdError | Indeterminate:
        """``/v3/kv/deleterange``."""
        return self.call("/v3/kv/deleterange", to_gateway(request), DeleteRangeResponse)

    def txn(self, request: TxnRequest) -> TxnResponse | EtcdError | Indeterminate:
        """``/v3/kv/txn``."""
        return self.call("/v3/kv/txn", to_gateway(request), TxnResponse)

    def compact(self, request: CompactionRequest) -> CompactionResponse | EtcdError | Indeterminate:
        """``/v3/kv/compaction``."""
        return self.call("/v3/kv/compaction", to_gateway(request), CompactionResponse)

    def lease_grant(
        self, request: LeaseGrantRequest
    ) -> LeaseGrantResponse | EtcdError | Indeterminate:
        """``/v3/lease/grant``."""
        return self.call("/v3/lease/grant", to_gateway(request), LeaseGrantResponse)

    def lease_revoke(
        self, request: LeaseRevokeRequest
    ) -> LeaseRevokeResponse | EtcdError | Indeterminate:
        """``/v3/lease/revoke``."""
        return self.call("/v3/lease/revoke", to_gateway(request), LeaseRevokeResponse)

    def lease_keepalive(
        self, request: LeaseKeepAliveRequest
    ) -> LeaseKeepAliveResponse | EtcdError | Indeterminate:
        """One renewal on ``/v3/lease/keepalive`` (the stream's first message)."""
        answer = self.post("/v3/lease/keepalive", to_gateway(request))
        if isinstance(answer, Indeterminate):
            return answer
        _, data = answer
        if isinstance(data, dict) and isinstance(data.get("result"), dict):
            return from_gateway(data["result"], LeaseKeepAliveResponse)
        return Indeterminate(reason=f"keepalive answered {data!r}")

    def status(self) -> dict[str, Any] | Indeterminate:
        """``/v3/maintenance/status`` as JSON."""
        answer = self.post("/v3/maintenance/status", {})
        if isinstance(answer, Indeterminate):
            return answer
        status, data = answer
        if status != http.client.OK or not isinstance(data, dict):
            return Indeterminate(reason=f"HTTP {status}: {data!r}")
        return data


class WatchStreamReader:
    """One ``/v3/watch`` stream: open, iterate responses, close from any thread."""

    def __init__(self, endpoint: str, request: WatchCreateRequest, timeout_seconds: float) -> None:
        self.host, self.port = split_endpoint(endpoint)
        self.request = request
        self.timeout_seconds = timeout_seconds
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def responses(self) -> Iterator[WatchResponse | str]:
        """Each response in arrival order; a string is a stream error, after which it ends."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_seconds)
        with self._lock:
            if self._closed:
                return
            self._connection = connection
        try:
            connection.request(
                "POST", "/v3/watch", body=json.dumps(watch_create_body(self.request))
            )
            response = connection.getresponse()
            for _ in range(1_000_000):
                line = response.readline(MAX_WATCH_LINE_BYTES)
                if not line:
                    yield "stream closed by the server"
                    return
                if not line.strip():
                    continue
                data = json.loads(line)
                if "result" in data:
                    yield from_gateway(data["result"], WatchResponse)
                else:
                    yield f"stream error: {data.get('error', data)!r}"
                    return
        except Exception as error:
            # Closing the socket from another thread surfaces as assorted errors in http.client.
            if not self._closed:
                yield f"{type(error).__name__}: {error}"

    def close(self) -> None:
        """Stop the stream (the iterator ends)."""
        with self._lock:
            self._closed = True
            connection = self._connection
        if connection is not None and connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)
            connection.close()
