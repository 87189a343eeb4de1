"""etcd v3 vocabulary: key-values, events, requests, responses and errors.

These records mirror etcd 3.4's ``etcdserverpb``/``mvccpb`` messages (field names as in the
proto, snake_case). Keys and values are ``bytes``; revisions, versions and lease IDs are ints.
Requests form a tagged union so that a Raft log entry can carry any of them. Errors carry etcd's
gRPC code and exact message text (``etcdserver/api/v3rpc/rpctypes``), tagged ``error`` so that a
response-or-error union (a client history's result) decodes. They are the one set of etcd types:
client histories (:mod:`models.history`) record these requests and responses as they are. Every
record refuses unknown fields when decoded with msgspec (history files, etcd's JSON through
:mod:`models.etcd_json`); the gateway's request decoding, which must ignore them as etcd does,
is :mod:`models.etcd_decode`.
"""

from __future__ import annotations

from typing import Literal

import msgspec

SortOrder = Literal["NONE", "ASCEND", "DESCEND"]
SortTarget = Literal["KEY", "VERSION", "CREATE", "MOD", "VALUE"]
CompareResult = Literal["EQUAL", "GREATER", "LESS", "NOT_EQUAL"]
CompareTarget = Literal["VERSION", "CREATE", "MOD", "VALUE", "LEASE"]
EventType = Literal["PUT", "DELETE"]
WatchFilter = Literal["NOPUT", "NODELETE"]

MAX_TXN_OPS = 128
"""etcd's default ``--max-txn-ops``."""
MIN_LEASE_TTL_SECONDS = 2
"""ceil(1.5 * election timeout) with etcd's default 1000 ms election timeout."""
MAX_LEASE_TTL_SECONDS = 9_000_000_000
NO_LEASE = 0


class KeyValue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One key's state at a revision (``mvccpb.KeyValue``)."""

    key: bytes = b""
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    value: bytes = b""
    lease: int = NO_LEASE


class Event(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A change to one key (``mvccpb.Event``); a DELETE's ``kv`` has only key and mod_revision."""

    type: EventType = "PUT"
    kv: KeyValue
    prev_kv: KeyValue | None = None


class ResponseHeader(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The header every response carries; ``revision`` is the store revision it saw."""

    cluster_id: int = 0
    member_id: int = 0
    revision: int = 0
    raft_term: int = 0


# ---- errors -------------------------------------------------------------------------------------

GRPC_INVALID_ARGUMENT = 3
GRPC_DEADLINE_EXCEEDED = 4
GRPC_NOT_FOUND = 5
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_FAILED_PRECONDITION = 9
GRPC_OUT_OF_RANGE = 11
GRPC_UNAVAILABLE = 14


class EtcdError(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="error"):
    """An error etcd returns: the gRPC status code and the exact message."""

    code: int
    message: str


ERROR_KEY_NOT_PROVIDED = EtcdError(
    code=GRPC_INVALID_ARGUMENT, message="etcdserver: key is not provided"
)
ERROR_VALUE_PROVIDED = EtcdError(
    code=GRPC_INVALID_ARGUMENT, message="etcdserver: value is provided"
)
ERROR_LEASE_PROVIDED = EtcdError(
    code=GRPC_INVALID_ARGUMENT, message="etcdserver: lease is provided"
)
ERROR_KEY_NOT_FOUND = EtcdError(code=GRPC_INVALID_ARGUMENT, message="etcdserver: key not found")
ERROR_TOO_MANY_OPS = EtcdError(
    code=GRPC_INVALID_ARGUMENT, message="etcdserver: too many operations in txn request"
)
ERROR_DUPLICATE_KEY = EtcdError(
    code=GRPC_INVALID_ARGUMENT, message="etcdserver: duplicate key given in txn request"
)
ERROR_COMPACTED = EtcdError(
    code=GRPC_OUT_OF_RANGE, message="etcdserver: mvcc: required revision has been compacted"
)
ERROR_FUTURE_REVISION = EtcdError(
    code=GRPC_OUT_OF_RANGE, message="etcdserver: mvcc: required revision is a future revision"
)
ERROR_LEASE_NOT_FOUND = EtcdError(
    code=GRPC_NOT_FOUND, message="etcdserver: requested lease not found"
)
ERROR_LEASE_EXISTS = EtcdError(
    code=GRPC_FAILED_PRECONDITION, message="etcdserver: lease already exists"
)
ERROR_LEASE_TTL_TOO_LARGE = EtcdError(
    code=GRPC_OUT_OF_RANGE, message="etcdserver: too large lease TTL"
)
ERROR_NO_LEADER = EtcdError(code=GRPC_UNAVAILABLE, message="etcdserver: no leader")
ERROR_TOO_MANY_REQUESTS = EtcdError(
    code=GRPC_RESOURCE_EXHAUSTED, message="etcdserver: too many requests"
)
ERROR_REQUEST_TIMEOUT = EtcdError(code=GRPC_UNAVAILABLE, message="etcdserver: request timed out")
ERROR_LEADER_CHANGED = EtcdError(code=GRPC_UNAVAILABLE, message="etcdserver: leader changed")


# ---- KV requests --------------------------------------------------------------------------------


class RangeRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="range"
):
    """Read one key, a range [key, range_end), a prefix, or all keys >= key (range_end b"\\0")."""

    key: bytes = b""
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: SortOrder = "NONE"
    sort_target: SortTarget = "KEY"
    serializable: bool = False
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0


class PutRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="put"):
    """Write one key, optionally attached to a lease."""

    key: bytes = b""
    value: bytes = b""
    lease: int = NO_LEASE
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


class DeleteRangeRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="delete_range"
):
    """Delete one key or a range, with the same range conventions as :class:`RangeRequest`."""

    key: bytes = b""
    range_end: bytes = b""
    prev_kv: bool = False


class Compare(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One txn guard: ``target(key) result operand`` over every key of the range."""

    key: bytes = b""
    range_end: bytes = b""
    target: CompareTarget = "VERSION"
    result: CompareResult = "EQUAL"
    version: int = 0
    create_revision: int = 0
    mod_revision: int = 0
    value: bytes = b""
    lease: int = NO_LEASE


class TxnRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="txn"):
    """If every compare holds, run ``success`` in order, else ``failure``; one revision."""

    compare: tuple[Compare, ...] = ()
    success: tuple[RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest, ...] = ()
    failure: tuple[RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest, ...] = ()


RequestOp = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest
"""An operation inside a txn branch."""


class CompactionRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="compaction"
):
    """Discard history below ``revision``."""

    revision: int = 0
    physical: bool = False


# ---- lease requests -----------------------------------------------------------------------------


class LeaseGrantRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_grant"
):
    """Create a lease; ``ID`` is chosen by the proposer (etcd's leader) when the client sent 0."""

    TTL: int = 0
    ID: int = 0


class LeaseRevokeRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_revoke"
):
    """Delete a lease and every key attached to it (also how expiry is applied)."""

    ID: int = 0


class LeaseKeepAliveRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_keepalive"
):
    """Renew a lease: its deadline becomes now + its granted TTL."""

    ID: int = 0


class LeaseTimeToLiveRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_timetolive"
):
    """Remaining TTL of a lease, optionally with its keys."""

    ID: int = 0
    keys: bool = False


class LeaseLeasesRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_leases"
):
    """List every live lease."""


EtcdRequest = (
    RangeRequest
    | PutRequest
    | DeleteRangeRequest
    | TxnRequest
    | CompactionRequest
    | LeaseGrantRequest
    | LeaseRevokeRequest
    | LeaseKeepAliveRequest
    | LeaseTimeToLiveRequest
    | LeaseLeasesRequest
)
"""Everything that can be applied to the etcd state machine (one Raft log entry each)."""


# ---- responses ----------------------------------------------------------------------------------


class RangeResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="range"
):
    """The matching key-values (after limit), whether more exist, and the total count."""

    header: ResponseHeader
    kvs: tuple[KeyValue, ...] = ()
    more: bool = False
    count: int = 0


class PutResponse(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="put"):
    """The revision written, and the previous key-value when asked for."""

    header: ResponseHeader
    prev_kv: KeyValue | None = None


class DeleteRangeResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="delete_range"
):
    """How many keys were deleted, and their previous key-values when asked for."""

    header: ResponseHeader
    deleted: int = 0
    prev_kvs: tuple[KeyValue, ...] = ()


class TxnResponse(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="txn"):
    """Which branch ran and the response of each of its operations."""

    header: ResponseHeader
    succeeded: bool = False
    responses: tuple[RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse, ...] = ()


ResponseOp = RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse
"""The response of an operation inside a txn branch."""


class CompactionResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="compaction"
):
    """Acknowledges a compaction."""

    header: ResponseHeader


class LeaseGrantResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_grant"
):
    """The granted lease's ID and TTL (raised to the minimum TTL)."""

    header: ResponseHeader
    ID: int = 0
    TTL: int = 0


class LeaseRevokeResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_revoke"
):
    """Acknowledges a revocation."""

    header: ResponseHeader


class LeaseKeepAliveResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_keepalive"
):
    """The renewed TTL; 0 when the lease does not exist (etcd replies so instead of an error)."""

    header: ResponseHeader
    ID: int = 0
    TTL: int = 0


class LeaseTimeToLiveResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_timetolive"
):
    """Remaining TTL (-1 for an unknown lease), granted TTL and attached keys."""

    header: ResponseHeader
    ID: int = 0
    TTL: int = 0
    grantedTTL: int = 0  # noqa: N815 (etcd's field name)
    keys: tuple[bytes, ...] = ()


class LeaseLeasesResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="lease_leases"
):
    """The IDs of every live lease, ascending."""

    header: ResponseHeader
    leases: tuple[int, ...] = ()


EtcdResponse = (
    RangeResponse
    | PutResponse
    | DeleteRangeResponse
    | TxnResponse
    | CompactionResponse
    | LeaseGrantResponse
    | LeaseRevokeResponse
    | LeaseKeepAliveResponse
    | LeaseTimeToLiveResponse
    | LeaseLeasesResponse
)


# ---- watch --------------------------------------------------------------------------------------


class WatchCreateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Start a watch on a key or range from ``start_revision`` (0: from the next revision)."""

    key: bytes = b""
    range_end: bytes = b""
    start_revision: int = 0
    progress_notify: bool = False
    filters: tuple[WatchFilter, ...] = ()
    prev_kv: bool = False
    watch_id: int = 0


class WatchResponse(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One message of a watch stream (creation, events, progress, cancellation)."""

    header: ResponseHeader
    watch_id: int = 0
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""
    events: tuple[Event, ...] = ()


def range_end_covers(key: bytes, range_end: bytes, candidate: bytes) -> bool:
    """Whether ``candidate`` is in etcd's range ``[key, range_end)``.

    An empty ``range_end`` means the single ``key``; ``range_end == b"\\0"`` means every key
    ``>= key`` (and with ``key == b"\\0"``, every key).
    """
    if range_end == b"":
        return candidate == key
    if range_end == b"\x00":
        return candidate >= key
    return key <= candidate < range_end


def prefix_range_end(prefix: bytes) -> bytes:
    """The ``range_end`` selecting every key that starts with ``prefix`` (etcd's GetPrefix)."""
    trimmed = bytearray(prefix)
    while trimmed:
        if trimmed[-1] < 0xFF:
            trimmed[-1] += 1
            return bytes(trimmed)
        trimmed.pop()
    return b"\x00"
