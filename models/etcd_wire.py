"""Protobuf sizes of etcd requests, and etcd's request size limits.

Theory of operation. etcd limits requests by their protobuf size, not by their JSON: gRPC
refuses a message over ``--max-request-bytes`` plus 512 KiB of overhead (ResourceExhausted,
"grpc: received message larger than max (N vs. 2097152)"), and the server refuses a proposal
whose Raft entry (an ``InternalRaftRequest``: a request header plus the request) is over
``--max-request-bytes`` ("etcdserver: request is too large"). Keys and values have no limits of
their own: they count towards these. :func:`encoded_size` computes the proto3 encoding size of a
request record from the field numbers in :mod:`models.etcd_decode`'s schema (zero values are not
encoded, negative int64 take ten bytes, repeated enums are packed).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from models.etcd import (
    GRPC_INVALID_ARGUMENT,
    GRPC_RESOURCE_EXHAUSTED,
    CompactionRequest,
    DeleteRangeRequest,
    EtcdError,
    EtcdRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    TxnRequest,
)
from models.etcd_decode import MESSAGE_FOR_RECORD, MESSAGES, Enum, Field, Message

MAX_REQUEST_BYTES: Final = 1536 * 1024
"""etcd's default ``--max-request-bytes`` (1.5 MiB)."""
GRPC_OVERHEAD_BYTES: Final = 512 * 1024
"""etcd's ``grpcOverheadBytes``: gRPC accepts messages up to the request limit plus this."""
MAX_GRPC_MESSAGE_BYTES: Final = MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES
RAFT_HEADER_BYTES: Final = 13
"""An ``InternalRaftRequest``'s header field (tag 100 and a request ID of 8-9 bytes)."""
ERROR_REQUEST_TOO_LARGE: Final = EtcdError(
    code=GRPC_INVALID_ARGUMENT, message="etcdserver: request is too large"
)
PROPOSED_TYPES: Final = (
    PutRequest,
    DeleteRangeRequest,
    TxnRequest,
    CompactionRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
)
"""Requests etcd 3.4 writes to the Raft log (and so checks against the request limit)."""


def varint_size(value: int) -> int:
    """Bytes of a protobuf varint; a negative int64 is sign-extended to ten bytes."""
    if value < 0:
        return 10
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def _tag_size(number: int) -> int:
    return varint_size(number << 3)


def _scalar_size(value: Any, kind: str | Enum) -> int:
    if isinstance(kind, Enum):
        return varint_size(kind.names.index(value))
    if kind == "bytes":
        return varint_size(len(value)) + len(value)
    if kind == "string":
        encoded = len(value.encode())
        return varint_size(encoded) + encoded
    if kind == "bool":
        return 1
    return varint_size(value)


def _field_size(field: Field, value: Any) -> int:
    if value in (0, b"", "", False, (), None) or (
        isinstance(field.kind, Enum) and value == field.kind.names[0] and not field.repeated
    ):
        return 0
    if field.kind == "message":
        items = value if field.repeated else (value,)
        total = 0
        for item in items:
            size = _request_op_size(item) if field.message == "RequestOp" else message_size(item)
            total += _tag_size(field.number) + varint_size(size) + size
        return total
    if field.repeated:  # packed scalars
        payload = sum(_scalar_size(item, field.kind) for item in value)
        return _tag_size(field.number) + varint_size(payload) + payload
    return _tag_size(field.number) + _scalar_size(value, field.kind)


def _message_of(record: msgspec.Struct) -> Message:
    return MESSAGE_FOR_RECORD[type(record)]


def message_size(record: msgspec.Struct) -> int:
    """The proto3 size of a request record, as a top-level gRPC message."""
    return sum(
        _field_size(field, getattr(record, field.target))
        for field in _message_of(record).fields
        if field.target
    )


def _request_op_size(op: msgspec.Struct) -> int:
    """A txn operation's RequestOp: the operation as its oneof field."""
    wrapper = MESSAGES["RequestOp"]
    name = _message_of(op).name
    field = next(field for field in wrapper.fields if field.message == name)
    size = message_size(op)
    return _tag_size(field.number) + varint_size(size) + size


def raft_entry_size(request: EtcdRequest) -> int:
    """The size of the ``InternalRaftRequest`` etcd would propose for ``request``."""
    size = message_size(request)
    return RAFT_HEADER_BYTES + 1 + varint_size(size) + size


def check_size(request: EtcdRequest) -> EtcdError | None:
    """etcd's answer to a request over its size limits, or None."""
    size = message_size(request)
    if size > MAX_GRPC_MESSAGE_BYTES:
        return grpc_too_large(size)
    if isinstance(request, PROPOSED_TYPES) and raft_entry_size(request) > MAX_REQUEST_BYTES:
        return ERROR_REQUEST_TOO_LARGE
    return None


def grpc_too_large(size: int) -> EtcdError:
    """gRPC's refusal of a message of ``size`` bytes."""
    return EtcdError(
        code=GRPC_RESOURCE_EXHAUSTED,
        message=f"grpc: received message larger than max ({size} vs. {MAX_GRPC_MESSAGE_BYTES})",
    )
