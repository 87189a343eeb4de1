"""Request checks etcd makes before a request reaches the store (``v3rpc/key.go``).

Empty keys, ``ignore_value``/``ignore_lease`` combined with a value or lease, more than
``MAX_TXN_OPS`` compares or operations per branch, and a key written twice in one branch (two
puts, or a put inside a range deleted by the same branch, nested txns included; the success and
failure branches of one nested txn may put the same key since only one runs).
"""

from __future__ import annotations

from models.etcd import (
    ERROR_DUPLICATE_KEY,
    ERROR_KEY_NOT_PROVIDED,
    ERROR_LEASE_PROVIDED,
    ERROR_TOO_MANY_OPS,
    ERROR_VALUE_PROVIDED,
    MAX_TXN_OPS,
    NO_LEASE,
    DeleteRangeRequest,
    EtcdError,
    PutRequest,
    RangeRequest,
    RequestOp,
    TxnRequest,
    range_end_covers,
)


def check_put_shape(request: PutRequest) -> EtcdError | None:
    """A put needs a key, and no value/lease when told to keep the old one."""
    if request.key == b"":
        return ERROR_KEY_NOT_PROVIDED
    if request.ignore_value and request.value != b"":
        return ERROR_VALUE_PROVIDED
    if request.ignore_lease and request.lease != NO_LEASE:
        return ERROR_LEASE_PROVIDED
    return None


def _check_op_shape(op: RequestOp) -> EtcdError | None:
    if isinstance(op, PutRequest):
        return check_put_shape(op)
    if isinstance(op, RangeRequest | DeleteRangeRequest):
        return ERROR_KEY_NOT_PROVIDED if op.key == b"" else None
    return _check_sizes_and_keys(op)


def _check_sizes_and_keys(request: TxnRequest) -> EtcdError | None:
    if max(len(request.compare), len(request.success), len(request.failure)) > MAX_TXN_OPS:
        return ERROR_TOO_MANY_OPS
    for op in (*request.success, *request.failure):
        error = _check_op_shape(op)
        if error is not None:
            return error
    return None


Interval = tuple[bytes, bytes]


def _deleted(deletes: list[Interval], key: bytes) -> bool:
    return any(range_end_covers(start, end, key) for start, end in deletes)


Branch = tuple[frozenset[bytes], tuple[Interval, ...]]


def _intervals(ops: tuple[RequestOp, ...]) -> Branch | None:
    """etcd's checkIntervals: the keys put and ranges deleted by a branch; None on a duplicate."""
    deletes: list[Interval] = [
        (op.key, op.range_end) for op in ops if isinstance(op, DeleteRangeRequest)
    ]
    puts: set[bytes] = set()
    for op in ops:
        if not isinstance(op, TxnRequest):
            continue
        then_branch, else_branch = _intervals(op.success), _intervals(op.failure)
        if then_branch is None or else_branch is None:
            return None
        for key in sorted(then_branch[0]):
            if key in puts or _deleted(deletes, key):
                return None
            puts.add(key)
        for key in sorted(else_branch[0]):
            if (key in puts and key not in then_branch[0]) or _deleted(deletes, key):
                return None
            puts.add(key)
        deletes.extend((*then_branch[1], *else_branch[1]))
    for op in ops:
        if isinstance(op, PutRequest):
            if op.key in puts or _deleted(deletes, op.key):
                return None
            puts.add(op.key)
    return frozenset(puts), tuple(deletes)


def check_txn_shape(request: TxnRequest) -> EtcdError | None:
    """All of the module's checks for a txn, in etcd's order (sizes and keys, then duplicates)."""
    error = _check_sizes_and_keys(request)
    if error is not None:
        return error
    if _intervals(request.success) is None or _intervals(request.failure) is None:
        return ERROR_DUPLICATE_KEY
    return None
