"""etcd 3.4's v3 JSON gateway encoding of the records in :mod:`models.etcd`, both directions.

grpc-gateway v1.11 rules, as etcd 3.4.23 answers: proto field names (snake_case), zero values and
enum zero values omitted, int64 as JSON strings, bytes as base64, enums by name; txn operations
wrapped as ``request_put``/``response_range``...; lease lists as ``[{"ID": "..."}]``. Decoding
accepts snake_case or lowerCamelCase names, int64 as strings or numbers, enums by name or number.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from models.etcd import (
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
)

ENUM_ZERO_VALUES: Mapping[str, str] = {
    "sort_order": "NONE",
    "sort_target": "KEY",
    "result": "EQUAL",
    "target": "VERSION",
    "type": "PUT",
    "perm_type": "READ",
}
ENUM_NAMES: Mapping[str, tuple[str, ...]] = {
    "sort_order": ("NONE", "ASCEND", "DESCEND"),
    "sort_target": ("KEY", "VERSION", "CREATE", "MOD", "VALUE"),
    "result": ("EQUAL", "GREATER", "LESS", "NOT_EQUAL"),
    "target": ("VERSION", "CREATE", "MOD", "VALUE", "LEASE"),
    "type": ("PUT", "DELETE"),
    "filters": ("NOPUT", "NODELETE"),
}
OP_TAGS: Mapping[type, str] = {
    RangeRequest: "range",
    PutRequest: "put",
    DeleteRangeRequest: "delete_range",
    TxnRequest: "txn",
    RangeResponse: "range",
    PutResponse: "put",
    DeleteRangeResponse: "delete_range",
    TxnResponse: "txn",
}
KEPT_NAMES = frozenset({"ID", "TTL", "grantedTTL"})
JSON_NAMES: Mapping[str, str] = {"perm_type": "permType"}
"""Fields whose proto name is not the record's (``authpb.Permission.permType``)."""
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")

T = TypeVar("T")


def _encode_value(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, msgspec.Struct):
        return to_gateway(value)
    if isinstance(value, tuple):
        if name == "leases":
            return [{"ID": str(lease)} for lease in value]
        if name in ("success", "failure"):
            return [{f"request_{OP_TAGS[type(op)]}": to_gateway(op)} for op in value]
        if name == "responses":
            return [{f"response_{OP_TAGS[type(op)]}": to_gateway(op)} for op in value]
        return [_encode_value(name, item) for item in value]
    return value


def to_gateway(record: msgspec.Struct) -> dict[str, Any]:
    """A record as the gateway's JSON object (zero values omitted)."""
    encoded: dict[str, Any] = {}
    for name in record.__struct_fields__:
        value = getattr(record, name)
        if value in (0, b"", "", False, (), None) or ENUM_ZERO_VALUES.get(name) == value:
            continue
        encoded[JSON_NAMES.get(name, name)] = _encode_value(name, value)
    return encoded


def watch_create_body(request: WatchCreateRequest) -> dict[str, Any]:
    """The ``/v3/watch`` request body for a watch creation."""
    return {"create_request": to_gateway(request)}


def error_body(error: EtcdError) -> dict[str, Any]:
    """A unary error as the gateway answers it."""
    return {"error": error.message, "message": error.message, "code": error.code}


def _field_name(name: str) -> str:
    return name if name in KEPT_NAMES else _CAMEL.sub(r"_\1", name).lower()


def _normalize(name: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_field_name(key): _normalize(_field_name(key), item) for key, item in value.items()}
    if isinstance(value, list):
        if name in ("success", "failure", "responses"):
            return [_unwrap_op(op) for op in value]
        if name == "leases":
            return [_normalize("ID", lease.get("ID", 0)) for lease in value]
        return [_normalize(name, item) for item in value]
    names = ENUM_NAMES.get(name)
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    return value


def _unwrap_op(op: Any) -> Any:
    if not isinstance(op, Mapping) or len(op) != 1:
        return op
    ((wrapper, body),) = op.items()
    tag = _field_name(wrapper).removeprefix("request_").removeprefix("response_")
    normalized = _normalize(tag, body) if isinstance(body, Mapping) else {}
    return {**normalized, "type": tag}


def from_gateway(data: Any, record_type: type[T]) -> T:
    """Decode a gateway JSON object into ``record_type``; raises msgspec.ValidationError."""
    normalized = _normalize("", data)
    if isinstance(normalized, dict) and record_type in OP_TAGS:
        normalized.pop("type", None)
    return msgspec.convert(normalized, record_type, strict=False)
