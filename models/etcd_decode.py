"""Strict decoding of etcd 3.4's v3 JSON gateway requests, with etcd's own error answers.

Theory of operation. etcd's gateway (grpc-gateway v1.11 with golang/protobuf's jsonpb) reads a
request body as proto3 JSON: fields by proto name (snake_case) or JSON name (lowerCamelCase);
int64 as a JSON number or a string holding one, within int64; bytes as standard (or URL-safe)
base64; enums by name or number; ``null`` for "unset"; unknown fields ignored. Whatever it
cannot decode is answered with the decoder's message (``json: cannot unmarshal ...``, ``illegal
base64 data at input byte N``, ``unknown value "X" for enum ...``). This module walks a body
against a schema of etcd's messages and returns the request record or the :class:`EtcdError`
(InvalidArgument) etcd answers, with Go's message text where it is reproducible.

The schema is data (one :class:`Message` per proto message, fields in proto order); it also
gives each field's proto number, so :mod:`models.etcd_wire` can size a request as etcd's gRPC
layer does. ``strict_fields=True`` refuses unknown fields with their path (etcd ignores them;
``serve etcd --strict-fields`` turns this on for clients that want to find their typos).
Limits: a body nests at most :data:`MAX_DEPTH` JSON levels; counts and sizes are bounded by
the byte limit the caller applies before decoding (etcd's request size).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import msgspec
from returns.result import Failure, Result, Success

from models.etcd import (
    ERROR_KEY_NOT_FOUND,
    GRPC_INVALID_ARGUMENT,
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    EtcdError,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchCreateRequest,
)
from models.etcd_auth import (
    AuthDisableRequest,
    AuthEnableRequest,
    AuthenticateRequest,
    Permission,
    RoleAddRequest,
    RoleDeleteRequest,
    RoleGetRequest,
    RoleGrantPermissionRequest,
    RoleListRequest,
    RoleRevokePermissionRequest,
    UserAddOptions,
    UserAddRequest,
    UserChangePasswordRequest,
    UserDeleteRequest,
    UserGetRequest,
    UserGrantRoleRequest,
    UserListRequest,
    UserRevokeRoleRequest,
)
from models.etcd_recipes import (
    CampaignRequest,
    LeaderKey,
    LeaderRequest,
    LockRequest,
    ProclaimRequest,
    ResignRequest,
    UnlockRequest,
)

INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1
MAX_DEPTH: Final = 10_000
"""Go's encoding/json nesting limit; deeper input is refused as etcd refuses it."""
ERROR_INVALID_SORT_OPTION: Final = EtcdError(
    code=GRPC_INVALID_ARGUMENT, message="etcdserver: invalid sort option"
)
"""etcd 3.4.23 panics on an unknown sort target (etcd #13554); later etcd answers this."""
MAX_TXN_NESTING: Final = 32
"""The reference's bound on txns nested in txns (etcd 3.4 has none besides the request size)."""
ERROR_TXN_TOO_DEEP: Final = EtcdError(
    code=GRPC_INVALID_ARGUMENT,
    message=f"etcdserver: txn nested more than {MAX_TXN_NESTING} levels (kubeoracle limit)",
)
_GO_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)\Z")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Enum:
    """A proto enum: its Go type name (for messages) and value names by number."""

    go_name: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Field:
    """One proto field: name, number, kind (``bytes``, ``int64``, ``bool``, an :class:`Enum`,
    or ``message`` with the message's name in ``message``), and whether it repeats. ``model``
    is the record field it fills (empty: decoded and checked, then dropped)."""

    name: str
    number: int
    kind: str | Enum
    message: str = ""
    repeated: bool = False
    model: str | None = None

    @property
    def target(self) -> str:
        return self.name if self.model is None else self.model


@dataclass(frozen=True, slots=True)
class Message:
    """A proto message and the record it decodes to (None: RequestOp and WatchRequest, whose
    single set field is the value). ``oneof``: at most one field may be set."""

    name: str
    fields: tuple[Field, ...]
    record: type | None
    oneof: bool = False


def _message_field(name: str, number: int, message: str, repeated: bool = False) -> Field:
    return Field(name, number, "message", message=message, repeated=repeated)


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


SORT_ORDER = Enum("etcdserverpb.RangeRequest_SortOrder", ("NONE", "ASCEND", "DESCEND"))
SORT_TARGET = Enum(
    "etcdserverpb.RangeRequest_SortTarget", ("KEY", "VERSION", "CREATE", "MOD", "VALUE")
)
COMPARE_RESULT = Enum(
    "etcdserverpb.Compare_CompareResult", ("EQUAL", "GREATER", "LESS", "NOT_EQUAL")
)
COMPARE_TARGET = Enum(
    "etcdserverpb.Compare_CompareTarget", ("VERSION", "CREATE", "MOD", "VALUE", "LEASE")
)
FILTER_TYPE = Enum("etcdserverpb.WatchCreateRequest_FilterType", ("NOPUT", "NODELETE"))
PERMISSION_TYPE = Enum("authpb.Permission_Type", ("READ", "WRITE", "READWRITE"))
SORT_ENUMS = (SORT_ORDER, SORT_TARGET)


class WatchCancel(msgspec.Struct, frozen=True, kw_only=True):
    """A ``cancel_request`` on a watch stream."""

    watch_id: int = 0


class WatchProgress(msgspec.Struct, frozen=True, kw_only=True):
    """A ``progress_request`` on a watch stream."""


WatchStreamRequest = WatchCreateRequest | WatchCancel | WatchProgress | None
"""One message of a watch request stream (None: a WatchRequest with nothing set)."""

_MESSAGES: tuple[Message, ...] = (
    Message(
        "RangeRequest",
        (
            Field("key", 1, "bytes"),
            Field("range_end", 2, "bytes"),
            Field("limit", 3, "int64"),
            Field("revision", 4, "int64"),
            Field("sort_order", 5, SORT_ORDER),
            Field("sort_target", 6, SORT_TARGET),
            Field("serializable", 7, "bool"),
            Field("keys_only", 8, "bool"),
            Field("count_only", 9, "bool"),
            Field("min_mod_revision", 10, "int64"),
            Field("max_mod_revision", 11, "int64"),
            Field("min_create_revision", 12, "int64"),
            Field("max_create_revision", 13, "int64"),
        ),
        RangeRequest,
    ),
    Message(
        "PutRequest",
        (
            Field("key", 1, "bytes"),
            Field("value", 2, "bytes"),
            Field("lease", 3, "int64"),
            Field("prev_kv", 4, "bool"),
            Field("ignore_value", 5, "bool"),
            Field("ignore_lease", 6, "bool"),
        ),
        PutRequest,
    ),
    Message(
        "DeleteRangeRequest",
        (Field("key", 1, "bytes"), Field("range_end", 2, "bytes"), Field("prev_kv", 3, "bool")),
        DeleteRangeRequest,
    ),
    Message(
        "Compare",
        (
            Field("result", 1, COMPARE_RESULT),
            Field("target", 2, COMPARE_TARGET),
            Field("key", 3, "bytes"),
            Field("version", 4, "int64"),
            Field("create_revision", 5, "int64"),
            Field("mod_revision", 6, "int64"),
            Field("value", 7, "bytes"),
            Field("lease", 8, "int64"),
            Field("range_end", 64, "bytes"),
        ),
        Compare,
    ),
    Message(
        "RequestOp",
        (
            _message_field("request_range", 1, "RangeRequest"),
            _message_field("request_put", 2, "PutRequest"),
            _message_field("request_delete_range", 3, "DeleteRangeRequest"),
            _message_field("request_txn", 4, "TxnRequest"),
        ),
        None,
        oneof=True,
    ),
    Message(
        "TxnRequest",
        (
            _message_field("compare", 1, "Compare", repeated=True),
            _message_field("success", 2, "RequestOp", repeated=True),
            _message_field("failure", 3, "RequestOp", repeated=True),
        ),
        TxnRequest,
    ),
    Message(
        "CompactionRequest",
        (Field("revision", 1, "int64"), Field("physical", 2, "bool")),
        CompactionRequest,
    ),
    Message(
        "LeaseGrantRequest", (Field("TTL", 1, "int64"), Field("ID", 2, "int64")), LeaseGrantRequest
    ),
    Message("LeaseRevokeRequest", (Field("ID", 1, "int64"),), LeaseRevokeRequest),
    Message("LeaseKeepAliveRequest", (Field("ID", 1, "int64"),), LeaseKeepAliveRequest),
    Message(
        "LeaseTimeToLiveRequest",
        (Field("ID", 1, "int64"), Field("keys", 2, "bool")),
        LeaseTimeToLiveRequest,
    ),
    Message("LeaseLeasesRequest", (), LeaseLeasesRequest),
    Message(
        "WatchCreateRequest",
        (
            Field("key", 1, "bytes"),
            Field("range_end", 2, "bytes"),
            Field("start_revision", 3, "int64"),
            Field("progress_notify", 4, "bool"),
            Field("filters", 5, FILTER_TYPE, repeated=True),
            Field("prev_kv", 6, "bool"),
            Field("watch_id", 7, "int64"),
            Field("fragment", 8, "bool", model=""),
        ),
        WatchCreateRequest,
    ),
    Message("WatchCancelRequest", (Field("watch_id", 1, "int64"),), WatchCancel),
    Message("LockRequest", (Field("name", 1, "bytes"), Field("lease", 2, "int64")), LockRequest),
    Message("UnlockRequest", (Field("key", 1, "bytes"),), UnlockRequest),
    Message(
        "CampaignRequest",
        (Field("name", 1, "bytes"), Field("lease", 2, "int64"), Field("value", 3, "bytes")),
        CampaignRequest,
    ),
    Message("LeaderRequest", (Field("name", 1, "bytes"),), LeaderRequest),
    Message(
        "LeaderKey",
        (
            Field("name", 1, "bytes"),
            Field("key", 2, "bytes"),
            Field("rev", 3, "int64"),
            Field("lease", 4, "int64"),
        ),
        LeaderKey,
    ),
    Message(
        "ProclaimRequest",
        (_message_field("leader", 1, "LeaderKey"), Field("value", 2, "bytes")),
        ProclaimRequest,
    ),
    Message("ResignRequest", (_message_field("leader", 1, "LeaderKey"),), ResignRequest),
    Message("WatchProgressRequest", (), WatchProgress),
    Message("AuthEnableRequest", (), AuthEnableRequest),
    Message("AuthDisableRequest", (), AuthDisableRequest),
    Message(
        "AuthenticateRequest",
        (Field("name", 1, "string"), Field("password", 2, "string")),
        AuthenticateRequest,
    ),
    Message("UserAddOptions", (Field("no_password", 1, "bool"),), UserAddOptions),
    Message(
        "AuthUserAddRequest",
        (
            Field("name", 1, "string"),
            Field("password", 2, "string"),
            _message_field("options", 3, "UserAddOptions"),
        ),
        UserAddRequest,
    ),
    Message("AuthUserGetRequest", (Field("name", 1, "string"),), UserGetRequest),
    Message("AuthUserListRequest", (), UserListRequest),
    Message("AuthUserDeleteRequest", (Field("name", 1, "string"),), UserDeleteRequest),
    Message(
        "AuthUserChangePasswordRequest",
        (Field("name", 1, "string"), Field("password", 2, "string")),
        UserChangePasswordRequest,
    ),
    Message(
        "AuthUserGrantRoleRequest",
        (Field("user", 1, "string"), Field("role", 2, "string")),
        UserGrantRoleRequest,
    ),
    Message(
        "AuthUserRevokeRoleRequest",
        (Field("name", 1, "string"), Field("role", 2, "string")),
        UserRevokeRoleRequest,
    ),
    Message("AuthRoleAddRequest", (Field("name", 1, "string"),), RoleAddRequest),
    Message("AuthRoleGetRequest", (Field("role", 1, "string"),), RoleGetRequest),
    Message("AuthRoleListRequest", (), RoleListRequest),
    Message("AuthRoleDeleteRequest", (Field("role", 1, "string"),), RoleDeleteRequest),
    Message(
        "Permission",
        (
            Field("permType", 1, PERMISSION_TYPE, model="perm_type"),
            Field("key", 2, "bytes"),
            Field("range_end", 3, "bytes"),
        ),
        Permission,
    ),
    Message(
        "AuthRoleGrantPermissionRequest",
        (Field("name", 1, "string"), _message_field("perm", 2, "Permission")),
        RoleGrantPermissionRequest,
    ),
    Message(
        "AuthRoleRevokePermissionRequest",
        (Field("role", 1, "string"), Field("key", 2, "bytes"), Field("range_end", 3, "bytes")),
        RoleRevokePermissionRequest,
    ),
    Message(
        "WatchRequest",
        (
            _message_field("create_request", 1, "WatchCreateRequest"),
            _message_field("cancel_request", 2, "WatchCancelRequest"),
            _message_field("progress_request", 3, "WatchProgressRequest"),
        ),
        None,
        oneof=True,
    ),
)
MESSAGES: Mapping[str, Message] = {message.name: message for message in _MESSAGES}
"""etcd's request messages by name (``etcdserverpb.<name>``)."""
MESSAGE_FOR_RECORD: Mapping[type, Message] = {
    message.record: message for message in _MESSAGES if message.record is not None
}


class _RefusedError(Exception):
    """Decoding stops with etcd's error (internal to this module)."""

    def __init__(self, error: EtcdError) -> None:
        super().__init__(error.message)
        self.error = error


def _refuse(message: str) -> _RefusedError:
    return _RefusedError(EtcdError(code=GRPC_INVALID_ARGUMENT, message=message))


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _int64(value: Any) -> int:
    if isinstance(value, str):
        if not _GO_NUMBER.match(value):
            bad = value[:1] or '"'
            raise _refuse(f"invalid character {bad!r} looking for beginning of value")
        if not _INTEGER.match(value) or not INT64_MIN <= int(value) <= INT64_MAX:
            raise _refuse(f"json: cannot unmarshal number {value} into Go value of type int64")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(f"json: cannot unmarshal {_json_kind(value)} into Go value of type int64")
    if isinstance(value, float) or not INT64_MIN <= value <= INT64_MAX:
        raise _refuse(
            f"json: cannot unmarshal number {_number_text(value)} into Go value of type int64"
        )
    return value


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _refuse(f"json: cannot unmarshal {_json_kind(value)} into Go value of type []uint8")
    text = value.replace("\r", "").replace("\n", "")  # Go's decoder skips line breaks
    for alphabet in (None, b"-_"):
        try:
            return base64.b64decode(text, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    position = next(
        (at for at, char in enumerate(text) if not (char.isascii() and char.isalnum())), len(text)
    )
    raise _refuse(f"illegal base64 data at input byte {position}")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(f"json: cannot unmarshal {_json_kind(value)} into Go value of type string")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _refuse(f"json: cannot unmarshal {_json_kind(value)} into Go value of type bool")
    return value


def _enum(value: Any, enum: Enum) -> str:
    """The value's name. A number without a name is refused: proto3 would keep it, but etcd
    3.4.23 panics on an unknown sort target (#13554), and later etcd refuses unknown sort
    options with "invalid sort option"; the reference refuses every unknown enum number."""
    if isinstance(value, str):
        if value not in enum.names:
            quoted = msgspec.json.encode(value).decode()
            raise _refuse(f"unknown value {quoted} for enum {enum.go_name}")
        return value
    number = _int64(value)
    if 0 <= number < len(enum.names):
        return enum.names[number]
    if enum in SORT_ENUMS:
        raise _RefusedError(ERROR_INVALID_SORT_OPTION)
    raise _refuse(f"unknown value {number} for enum {enum.go_name}")


def _scalar(value: Any, kind: str | Enum) -> Any:
    if isinstance(kind, Enum):
        return _enum(value, kind)
    if kind == "bytes":
        return _bytes(value)
    if kind == "int64":
        return _int64(value)
    if kind == "string":
        return _string(value)
    return _bool(value)


class _Decoder:
    """One body's decoding (holds only the unknown-field policy)."""

    def __init__(self, strict_fields: bool) -> None:
        self.strict_fields = strict_fields
        self.txn_depth = 0

    def message(self, data: Any, message: Message, path: str) -> Any:
        """A record of ``message`` (for a oneof: the set field's value, or None)."""
        if message.name != "TxnRequest":
            return self.fields(data, message, path)
        self.txn_depth += 1
        try:
            if self.txn_depth > MAX_TXN_NESTING:
                raise _RefusedError(ERROR_TXN_TOO_DEEP)
            return self.fields(data, message, path)
        finally:
            self.txn_depth -= 1

    def fields(self, data: Any, message: Message, path: str) -> Any:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise _refuse(
                f"json: cannot unmarshal {_json_kind(data)} into Go value of type "
                "map[string]json.RawMessage"
            )
        by_name = {name: field for field in message.fields
                   for name in (field.name, _json_name(field.name))}  # fmt: skip
        decoded: dict[str, Any] = {}
        for name, value in data.items():
            field = by_name.get(name)
            if field is None:
                if self.strict_fields:
                    raise _refuse(f"unknown field {path}.{name}")
                continue
            if value is not None:
                decoded[field.target] = self.value(value, field, f"{path}.{name}")
        if message.record is not None:
            return message.record(**{name: value for name, value in decoded.items() if name})
        if len(decoded) > 1:
            raise _refuse(f"{path or '.'}: more than one field of oneof {message.name} is set")
        return next(iter(decoded.values()), None)

    def value(self, value: Any, field: Field, path: str) -> Any:
        if not field.repeated:
            return self.single(value, field, path)
        if not isinstance(value, list):
            raise _refuse(
                f"json: cannot unmarshal {_json_kind(value)} into Go value of type "
                "[]json.RawMessage"
            )
        return tuple(self.single(item, field, f"{path}[{at}]") for at, item in enumerate(value))

    def single(self, value: Any, field: Field, path: str) -> Any:
        if field.kind != "message":
            return _scalar(value, field.kind)
        decoded = self.message(value, MESSAGES[field.message], path)
        if decoded is None and field.message == "RequestOp":
            # etcd's checkRequestOp answers an op with no request so
            raise _RefusedError(ERROR_KEY_NOT_FOUND)
        return decoded


def parse_json(body: bytes) -> Result[Any, EtcdError]:
    """The body as JSON (an empty body is ``{}``), or etcd's answer to malformed JSON."""
    if not body.strip():
        return Success({})
    try:
        return Success(msgspec.json.decode(body))
    except UnicodeDecodeError:
        # Go's decoder reads invalid UTF-8 in a string as U+FFFD (and then fails on base64)
        return parse_json(body.decode("utf-8", "replace").encode())
    except RecursionError:
        return Failure(_refuse("invalid character '[' exceeded max depth").error)
    except msgspec.DecodeError as error:
        return Failure(_refuse(_go_syntax_message(body, str(error))).error)


def _go_syntax_message(body: bytes, reason: str) -> str:
    if "truncated" in reason:
        return "unexpected EOF"
    found = re.search(r"byte (\d+)", reason)
    if found is None or int(found.group(1)) >= len(body):
        return "unexpected EOF"
    position = int(found.group(1))
    return f"invalid character {chr(body[position])!r} {_go_expectation(body[:position])}"


def _go_expectation(prefix: bytes) -> str:
    """What Go's scanner was looking for after ``prefix`` (which scanned fine)."""
    stack: list[int] = []
    last = 0
    in_string = escaped = False
    for byte in prefix:
        if in_string:
            in_string = not (byte == ord('"') and not escaped)
            escaped = byte == ord("\\") and not escaped
            last = ord('"') if not in_string else last
            continue
        if byte in b" \t\r\n":
            continue
        if byte == ord('"'):
            in_string = True
        elif byte in b"{[":
            stack.append(byte)
        elif byte in b"}]" and stack:
            stack.pop()
        last = byte
    in_object = bool(stack) and stack[-1] == ord("{")
    if last == ord("{") or (last == ord(",") and in_object):
        return "looking for beginning of object key string"
    if last in (0, ord(":"), ord("["), ord(",")):
        return "looking for beginning of value"
    if not stack:
        return "after top-level value"
    return "after object key:value pair" if in_object else "after array element"


def decode_request(
    data: Any, record_type: type[T], *, strict_fields: bool = False
) -> Result[T, EtcdError]:
    """Decode parsed JSON into ``record_type`` (a record of :data:`MESSAGE_FOR_RECORD`)."""
    try:
        decoded = _Decoder(strict_fields).message(data, MESSAGE_FOR_RECORD[record_type], "")
    except _RefusedError as refused:
        return Failure(refused.error)
    assert isinstance(decoded, record_type)
    return Success(decoded)


def decode_body(
    body: bytes, record_type: type[T], *, strict_fields: bool = False
) -> Result[T, EtcdError]:
    """Parse and decode one unary request body."""
    return parse_json(body).bind(
        lambda data: decode_request(data, record_type, strict_fields=strict_fields)
    )


def decode_watch_request(
    data: Any, *, strict_fields: bool = False
) -> Result[WatchStreamRequest, EtcdError]:
    """Decode one message of a ``/v3/watch`` request stream."""
    try:
        decoded = _Decoder(strict_fields).message(data, MESSAGES["WatchRequest"], "")
    except _RefusedError as refused:
        return Failure(refused.error)
    assert decoded is None or isinstance(decoded, WatchCreateRequest | WatchCancel | WatchProgress)
    return Success(decoded)
