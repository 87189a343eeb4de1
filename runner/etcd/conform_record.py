"""Translate etcd gateway requests and responses into kubeoracle history records.

The workload speaks :mod:`models.etcd` (bytes keys, etcd's enum names); histories
(:mod:`models.history`) use text keys and lowercase names. Only the operations the workload
issues are translated (no nested txns, no sort or filters).
"""

from __future__ import annotations

from models import history as h
from models.etcd import (
    CompactionRequest,
    CompactionResponse,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    Event,
    KeyValue,
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
    ResponseOp,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)

WorkloadRequest = (
    RangeRequest
    | PutRequest
    | DeleteRangeRequest
    | TxnRequest
    | CompactionRequest
    | LeaseGrantRequest
    | LeaseRevokeRequest
    | LeaseKeepAliveRequest
)
WorkloadResponse = (
    RangeResponse
    | PutResponse
    | DeleteRangeResponse
    | TxnResponse
    | CompactionResponse
    | LeaseGrantResponse
    | LeaseRevokeResponse
    | LeaseKeepAliveResponse
)


def text(raw: bytes) -> str:
    """Keys and values of the workload are ASCII."""
    return raw.decode("utf-8", errors="replace")


def key_value(kv: KeyValue) -> h.KeyValue:
    return h.KeyValue(
        key=text(kv.key),
        value=text(kv.value),
        create_revision=kv.create_revision,
        mod_revision=kv.mod_revision,
        version=kv.version,
        lease=kv.lease,
    )


def _optional(kv: KeyValue | None) -> h.KeyValue | None:
    return None if kv is None else key_value(kv)


def _txn_operation(op: object) -> h.TxnOperation:
    if isinstance(op, RangeRequest):
        return range_operation(op)
    if isinstance(op, PutRequest):
        return h.EtcdPut(key=text(op.key), value=text(op.value), lease=op.lease, prev_kv=op.prev_kv)
    assert isinstance(op, DeleteRangeRequest), "the workload nests no txns"
    return h.EtcdDelete(key=text(op.key), range_end=text(op.range_end), prev_kv=op.prev_kv)


def range_operation(request: RangeRequest) -> h.EtcdRange:
    return h.EtcdRange(
        key=text(request.key),
        range_end=text(request.range_end),
        revision=request.revision,
        limit=request.limit,
        keys_only=request.keys_only,
        count_only=request.count_only,
        serializable=request.serializable,
    )


def _compare(compare: object) -> h.Compare:
    from models.etcd import Compare

    assert isinstance(compare, Compare)
    operand: int | str
    if compare.target == "VERSION":
        operand = compare.version
    elif compare.target == "CREATE":
        operand = compare.create_revision
    elif compare.target == "MOD":
        operand = compare.mod_revision
    elif compare.target == "LEASE":
        operand = compare.lease
    else:
        operand = text(compare.value)
    target: h.CompareTarget = {
        "VERSION": "version",
        "CREATE": "create",
        "MOD": "mod",
        "VALUE": "value",
        "LEASE": "lease",
    }[compare.target]  # type: ignore[assignment]
    result: h.CompareResult = compare.result.lower()  # type: ignore[assignment]
    return h.Compare(key=text(compare.key), target=target, result=result, operand=operand)


def operation(request: WorkloadRequest) -> h.EtcdOperation:
    """The history record of a workload request."""
    if isinstance(request, RangeRequest | PutRequest | DeleteRangeRequest):
        return _txn_operation(request)
    if isinstance(request, TxnRequest):
        return h.EtcdTxn(
            compare=tuple(_compare(c) for c in request.compare),
            success=tuple(_txn_operation(op) for op in request.success),
            failure=tuple(_txn_operation(op) for op in request.failure),
        )
    if isinstance(request, CompactionRequest):
        return h.EtcdCompact(revision=request.revision, physical=request.physical)
    if isinstance(request, LeaseGrantRequest):
        return h.EtcdLeaseGrant(ttl_seconds=request.TTL, lease_id=request.ID)
    if isinstance(request, LeaseRevokeRequest):
        return h.EtcdLeaseRevoke(lease_id=request.ID)
    return h.EtcdLeaseKeepalive(lease_id=request.ID)


def _op_result(response: ResponseOp, revision: int) -> h.TxnResponse:
    if isinstance(response, RangeResponse):
        return h.RangeResult(
            revision=revision,
            kvs=tuple(key_value(kv) for kv in response.kvs),
            count=response.count,
            more=response.more,
        )
    if isinstance(response, PutResponse):
        return h.PutResult(revision=revision, prev_kv=_optional(response.prev_kv))
    assert isinstance(response, DeleteRangeResponse), "the workload nests no txns"
    return h.DeleteResult(
        revision=revision,
        deleted=response.deleted,
        prev_kvs=tuple(key_value(kv) for kv in response.prev_kvs),
    )


def result(response: WorkloadResponse | EtcdError) -> h.EtcdResult:
    """The history record of a definite answer."""
    if isinstance(response, EtcdError):
        return h.ErrorResult(message=response.message)
    revision = response.header.revision
    if isinstance(response, RangeResponse | PutResponse | DeleteRangeResponse):
        return _op_result(response, revision)
    if isinstance(response, TxnResponse):
        return h.TxnResult(
            revision=revision,
            succeeded=response.succeeded,
            responses=tuple(_op_result(op, op.header.revision) for op in response.responses),
        )
    if isinstance(response, CompactionResponse):
        return h.CompactResult(revision=revision)
    if isinstance(response, LeaseGrantResponse):
        return h.LeaseGrantResult(revision=revision, lease_id=response.ID, ttl_seconds=response.TTL)
    if isinstance(response, LeaseRevokeResponse):
        return h.LeaseRevokeResult(revision=revision)
    return h.LeaseKeepaliveResult(revision=revision, lease_id=response.ID, ttl_seconds=response.TTL)


def watch_request(request: WatchCreateRequest) -> h.WatchRequest:
    filters: tuple[h.WatchFilter, ...] = tuple(
        "noput" if name == "NOPUT" else "nodelete" for name in request.filters
    )
    return h.WatchRequest(
        key=text(request.key),
        range_end=text(request.range_end),
        start_revision=request.start_revision,
        prev_kv=request.prev_kv,
        progress_notify=request.progress_notify,
        filters=filters,
    )


def _watch_event(event: Event) -> h.WatchEvent:
    return h.WatchEvent(
        type="put" if event.type == "PUT" else "delete",
        kv=key_value(event.kv),
        prev_kv=_optional(event.prev_kv),
    )


def watch_response(response: WatchResponse | str, time_ns: int) -> h.WatchResponse:
    """A received watch message (or a stream error) as a history record."""
    if isinstance(response, str):
        return h.WatchResponse(time=time_ns, error=response)
    return h.WatchResponse(
        time=time_ns,
        revision=response.header.revision,
        created=response.created,
        canceled=response.canceled,
        compact_revision=response.compact_revision,
        cancel_reason=response.cancel_reason,
        events=tuple(_watch_event(event) for event in response.events),
    )
