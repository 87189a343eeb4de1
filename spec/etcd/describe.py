"""Short human forms of etcd requests, responses and key-values, for violation reports:
``put('a', '1')``, ``txn(if mod('a') = 2 then put('a', '2'))``, ``{'a': '1'@2} count=1 at
revision 2``. Keys and values are shown as text when they are UTF-8, as bytes otherwise."""

from __future__ import annotations

from collections.abc import Mapping

from models.etcd import (
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    KeyValue,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)

SYMBOLS: Mapping[str, str] = {"EQUAL": "=", "NOT_EQUAL": "!=", "GREATER": ">", "LESS": "<"}


def show(data: bytes) -> str:
    """``'text'`` for UTF-8 bytes, ``b'...'`` otherwise."""
    try:
        return repr(data.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(data)


def _where(key: bytes, range_end: bytes) -> str:
    if range_end == b"\x00":
        return f"{show(key)}.."
    if range_end:
        return f"{show(key)}..{show(range_end)}"
    return show(key)


def _describe_compare(compare: Compare) -> str:
    operand: object = {
        "VERSION": compare.version,
        "CREATE": compare.create_revision,
        "MOD": compare.mod_revision,
        "LEASE": compare.lease,
    }.get(compare.target)
    shown = show(compare.value) if compare.target == "VALUE" else str(operand)
    target = compare.target.lower()
    return f"{target}({_where(compare.key, compare.range_end)}) {SYMBOLS[compare.result]} {shown}"


def describe_operation(operation: object) -> str:
    """A short human form of an etcd request."""
    if isinstance(operation, RangeRequest):
        at = f" @{operation.revision}" if operation.revision else ""
        return f"range({_where(operation.key, operation.range_end)}{at})"
    if isinstance(operation, PutRequest):
        lease = f", lease={operation.lease}" if operation.lease else ""
        return f"put({show(operation.key)}, {show(operation.value)}{lease})"
    if isinstance(operation, DeleteRangeRequest):
        return f"delete({_where(operation.key, operation.range_end)})"
    if isinstance(operation, TxnRequest):
        guards = " and ".join(_describe_compare(item) for item in operation.compare)
        success = "; ".join(describe_operation(item) for item in operation.success)
        failure = "; ".join(describe_operation(item) for item in operation.failure)
        otherwise = f" else {failure}" if failure else ""
        return f"txn(if {guards or 'true'} then {success or 'nothing'}{otherwise})"
    if isinstance(operation, LeaseGrantRequest):
        return f"lease_grant(ttl={operation.TTL}s, id={operation.ID})"
    if isinstance(operation, LeaseRevokeRequest):
        return f"lease_revoke({operation.ID})"
    if isinstance(operation, LeaseKeepAliveRequest):
        return f"lease_keepalive({operation.ID})"
    assert isinstance(operation, CompactionRequest), f"not an etcd request: {operation!r}"
    return f"compact({operation.revision})"


def describe_kvs(kvs: tuple[KeyValue, ...]) -> str:
    """``{'a': '1'@2, ...}``: key, value and mod revision."""
    shown = (f"{show(kv.key)}: {show(kv.value)}@{kv.mod_revision}" for kv in kvs)
    return "{" + ", ".join(shown) + "}"


def describe_result(result: object) -> str:
    """A short human form of an etcd answer, with its header revision."""
    if isinstance(result, EtcdError):
        return f"error {result.message!r}"
    revision = getattr(getattr(result, "header", None), "revision", 0)
    if isinstance(result, RangeResponse):
        return f"{describe_kvs(result.kvs)} count={result.count} at revision {revision}"
    if isinstance(result, TxnResponse):
        outcome = "succeeded" if result.succeeded else "failed"
        inner = "; ".join(describe_result(item) for item in result.responses)
        return f"{outcome} at revision {revision}" + (f" [{inner}]" if inner else "")
    if isinstance(result, DeleteRangeResponse):
        return f"deleted {result.deleted} at revision {revision}"
    if isinstance(result, LeaseGrantResponse):
        return f"lease {result.ID}"
    if isinstance(result, LeaseKeepAliveResponse):
        return "alive" if result.TTL else "lease not found (TTL 0)"
    return f"ok at revision {revision}"
