"""A small client for etcd's v3 gRPC API (real etcd 3.4 or ``kubeoracle serve etcd``), with the
interface of :class:`runner.etcd.client.EtcdGatewayClient`.

Requests and responses are :mod:`models.etcd` records; they cross to and from protobuf through
their gateway JSON form (the same field encoding, :mod:`runner.etcd.grpc_codec`). Outcomes are
classified as the gateway client classifies them: an etcd error is an :class:`EtcdError`; a
lost connection, a deadline, a cancellation or Unavailable (``request timed out``, ``leader
changed``) is :class:`~runner.etcd.client.Indeterminate`; a connection that was refused, so the
request never left, is reported as ``ConnectionRefusedError`` as the gateway client does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

import grpc
import msgspec
from google.protobuf.message import Message

from models.etcd import (
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
from runner.etcd import grpc_codec
from runner.etcd.client import DEFAULT_TIMEOUT_SECONDS, Indeterminate, split_endpoint
from runner.etcd.etcdpb import rpc_pb2, rpc_pb2_grpc

T = TypeVar("T")
INDETERMINATE_CODES: Final = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
    }
)
CHANNEL_OPTIONS: Final = (("grpc.max_receive_message_length", 2**31 - 1),)


def _target(endpoint: str) -> str:
    host, port = split_endpoint(endpoint)
    return f"{host}:{port}"


def _outcome(error: grpc.RpcError) -> EtcdError | Indeterminate:
    assert isinstance(error, grpc.Call)
    code: grpc.StatusCode = error.code()
    details = str(error.details())
    if code == grpc.StatusCode.UNAVAILABLE and "Connection refused" in details:
        return Indeterminate(reason=f"ConnectionRefusedError: {details}")
    if code in INDETERMINATE_CODES:
        return Indeterminate(reason=f"{code.name}: {details}")
    return EtcdError(code=code.value[0], message=details)


def _decode(message: Message, response_type: type[T]) -> T | Indeterminate:
    data = grpc_codec.as_json(message)
    try:
        return from_gateway(data, response_type)
    except msgspec.ValidationError as error:
        return Indeterminate(reason=f"undecodable response {data!r}: {error}")


class EtcdGrpcClient:
    """One channel to one endpoint."""

    def __init__(self, endpoint: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.endpoint = endpoint
        self.timeout_seconds = timeout_seconds
        self.channel = grpc.insecure_channel(_target(endpoint), options=CHANNEL_OPTIONS)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.lease = rpc_pb2_grpc.LeaseStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def _call(
        self,
        method: Callable[..., Any],
        record: msgspec.Struct,
        request: Message,
        response_type: type[T],
    ) -> T | EtcdError | Indeterminate:
        message = grpc_codec.encode(to_gateway(record), request)
        try:
            answer = method(message, timeout=self.timeout_seconds)
        except grpc.RpcError as error:
            return _outcome(error)
        return _decode(answer, response_type)

    def range(self, request: RangeRequest) -> RangeResponse | EtcdError | Indeterminate:
        return self._call(self.kv.Range, request, rpc_pb2.RangeRequest(), RangeResponse)

    def put(self, request: PutRequest) -> PutResponse | EtcdError | Indeterminate:
        return self._call(self.kv.Put, request, rpc_pb2.PutRequest(), PutResponse)

    def delete_range(
        self, request: DeleteRangeRequest
    ) -> DeleteRangeResponse | EtcdError | Indeterminate:
        return self._call(
            self.kv.DeleteRange, request, rpc_pb2.DeleteRangeRequest(), DeleteRangeResponse
        )

    def txn(self, request: TxnRequest) -> TxnResponse | EtcdError | Indeterminate:
        return self._call(self.kv.Txn, request, rpc_pb2.TxnRequest(), TxnResponse)

    def compact(self, request: CompactionRequest) -> CompactionResponse | EtcdError | Indeterminate:
        return self._call(self.kv.Compact, request, rpc_pb2.CompactionRequest(), CompactionResponse)

    def lease_grant(
        self, request: LeaseGrantRequest
    ) -> LeaseGrantResponse | EtcdError | Indeterminate:
        return self._call(
            self.lease.LeaseGrant, request, rpc_pb2.LeaseGrantRequest(), LeaseGrantResponse
        )

    def lease_revoke(
        self, request: LeaseRevokeRequest
    ) -> LeaseRevokeResponse | EtcdError | Indeterminate:
        return self._call(
            self.lease.LeaseRevoke, request, rpc_pb2.LeaseRevokeRequest(), LeaseRevokeResponse
        )

    def lease_keepalive(
        self, request: LeaseKeepAliveRequest
    ) -> LeaseKeepAliveResponse | EtcdError | Indeterminate:
        """One renewal on a LeaseKeepAlive stream (its first answer; the stream then ends)."""
        message = grpc_codec.encode(to_gateway(request), rpc_pb2.LeaseKeepAliveRequest())
        stream = self.lease.LeaseKeepAlive(iter([message]), timeout=self.timeout_seconds)
        try:
            answer = next(stream)
        except StopIteration:
            return Indeterminate(reason="keepalive stream ended without an answer")
        except grpc.RpcError as error:
            return _outcome(error)
        finally:
            stream.cancel()
        return _decode(answer, LeaseKeepAliveResponse)


class GrpcWatchStreamReader:
    """One Watch stream: open, iterate responses, close from any thread (the interface of
    :class:`runner.etcd.client.WatchStreamReader`)."""

    def __init__(self, endpoint: str, request: WatchCreateRequest, timeout_seconds: float) -> None:
        del timeout_seconds  # a watch stream has no deadline; close() ends it
        self.endpoint = endpoint
        self.request = request
        self._requests: queue.Queue[rpc_pb2.WatchRequest | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._channel: grpc.Channel | None = None
        self._call: Any = None

    def _outgoing(self) -> Iterator[rpc_pb2.WatchRequest]:
        while (request := self._requests.get()) is not None:
            yield request

    def responses(self) -> Iterator[WatchResponse | str]:
        """Each response in arrival order; a string is a stream error, after which it ends."""
        channel = grpc.insecure_channel(_target(self.endpoint), options=CHANNEL_OPTIONS)
        create = grpc_codec.encode(watch_create_body(self.request), rpc_pb2.WatchRequest())
        self._requests.put(create)
        with self._lock:
            if self._closed:
                channel.close()
                return
            self._channel = channel
            self._call = rpc_pb2_grpc.WatchStub(channel).Watch(self._outgoing())
            call = self._call
        try:
            for answer in call:
                decoded = _decode(answer, WatchResponse)
                if isinstance(decoded, Indeterminate):
                    yield f"stream error: {decoded.reason}"
                    return
                yield decoded
            yield "stream closed by the server"
        except grpc.RpcError as error:
            if not self._closed:
                yield f"stream error: {_outcome(error)}"

    def close(self) -> None:
        """Stop the stream (the iterator ends)."""
        with self._lock:
            self._closed = True
            call, channel = self._call, self._channel
        self._requests.put(None)
        if call is not None:
            call.cancel()
        if channel is not None:
            channel.close()
