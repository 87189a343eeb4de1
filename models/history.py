"""History records: what clients observed of a system, one JSON line per operation or watch.

A *history* is what a linearizability checker judges (Herlihy & Wing 1990): each client
operation with the time it was called, the time it returned (or none), what it asked for and
what it got. The format (documented in ``docs/history-format.md``, JSON Schema generated from
these types by :func:`history_json_schema`) is JSON Lines:

* an optional first line ``{"kind": "header", "format": "kubeoracle-history", "version": 1,
  "model": "etcd"}``;
* one ``{"kind": "operation", ...}`` line per client operation (:class:`OperationRecord`);
* one ``{"kind": "watch", ...}`` line per etcd watch stream (:class:`WatchRecord`).

Operations are typed per model, with the tag in ``"type"``:

* ``etcd``: ``range`` (a get is a range without ``range_end``), ``put``, ``delete``, ``txn``
  (compares, then the success or failure ops), ``lease_grant``, ``lease_revoke``,
  ``lease_keepalive``, ``compact``; results ``range``, ``put``, ``delete``, ``txn``,
  ``lease_grant``, ``lease_revoke``, ``lease_keepalive``, ``compact`` or ``error``;
* ``kv`` (string registers per key): ``kv_get``, ``kv_put``, ``kv_append``; results ``value``
  (a get) and ``ok``;
* ``register`` and ``cas-register``: ``read``, ``write``, ``cas`` (cas-register only); results
  ``value`` (a read; ``null`` is "no value"), ``ok`` (a write) and ``cas`` (``succeeded``).

``definite`` says whether the client knows the outcome. An operation that is not definite (a
timeout, a lost connection, no return by the end of the history) may have taken effect at any
time after its call, or never; its ``result``, if any, is ignored.

Times are integers from one clock shared by all clients (nanoseconds when recorded from real
systems; event positions for logs without times). This module holds the types and the JSON
codec; the parsers of other formats are in :mod:`models.history_formats`. Reading follows the
strict input discipline (:mod:`models.strict_input`, ``docs/limits.md``): one line at a time,
unknown fields refused with their path, errors as :class:`~models.strict_input.InputError`
naming the line and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, TypeAlias

import msgspec
from returns.result import Failure, Result, Success

from models.strict_input import InputError, decode_json, numbered_lines

FORMAT_NAME = "kubeoracle-history"
FORMAT_VERSION = 1

ModelName = Literal["etcd", "kv", "register", "cas-register"]
MODEL_NAMES: tuple[ModelName, ...] = ("cas-register", "etcd", "kv", "register")


class Record(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every record of the format: immutable, keyword-built, and strict when read (an unknown
    field is refused with its path)."""


RegisterValue: TypeAlias = int | str | None
"""A register's value: an integer or a string; ``None`` is "no value" (never written)."""


# ---------------------------------------------------------------------------------- etcd data


class KeyValue(Record, frozen=True, kw_only=True):
    """An etcd key-value as a range or watch returns it (``mvccpb.KeyValue``).

    Keys and values are text (UTF-8). ``create_revision`` is the revision of the key's latest
    creation, ``mod_revision`` of its latest modification, ``version`` counts modifications
    since creation (a delete resets it), ``lease`` is the attached lease id (0: none).
    """

    key: str
    value: str = ""
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    lease: int = 0


CompareTarget = Literal["version", "create", "mod", "value", "lease"]
CompareResult = Literal["equal", "not_equal", "greater", "less"]


class Compare(Record, frozen=True, kw_only=True):
    """One txn guard: ``target(key) <result> operand``.

    A missing key has version, create, mod and lease 0; its value compares false whatever the
    operator (etcd skips value compares on missing keys, so the guard fails).
    """

    key: str
    target: CompareTarget
    result: CompareResult
    operand: int | str


class EtcdRange(Record, frozen=True, kw_only=True, tag_field="type", tag="range"):
    """Range ``[key, range_end)``; no ``range_end`` means the single key ``key``.

    ``revision`` 0 reads the current revision; ``limit`` 0 means no limit.
    """

    key: str
    range_end: str = ""
    revision: int = 0
    limit: int = 0
    keys_only: bool = False
    count_only: bool = False
    serializable: bool = False


class EtcdPut(Record, frozen=True, kw_only=True, tag_field="type", tag="put"):
    """Put ``key = value``, attached to ``lease`` (0: no lease)."""

    key: str
    value: str
    lease: int = 0
    prev_kv: bool = False


class EtcdDelete(Record, frozen=True, kw_only=True, tag_field="type", tag="delete"):
    """Delete ``[key, range_end)`` (no ``range_end``: the single key)."""

    key: str
    range_end: str = ""
    prev_kv: bool = False


TxnOperation: TypeAlias = EtcdRange | EtcdPut | EtcdDelete


class EtcdTxn(Record, frozen=True, kw_only=True, tag_field="type", tag="txn"):
    """If every compare holds run ``success``, else ``failure``; one revision if any write."""

    compare: tuple[Compare, ...] = ()
    success: tuple[TxnOperation, ...] = ()
    failure: tuple[TxnOperation, ...] = ()


class EtcdLeaseGrant(Record, frozen=True, kw_only=True, tag_field="type", tag="lease_grant"):
    """Grant a lease of ``ttl_seconds``; ``lease_id`` 0 lets the server pick the id."""

    ttl_seconds: int
    lease_id: int = 0


class EtcdLeaseRevoke(Record, frozen=True, kw_only=True, tag_field="type", tag="lease_revoke"):
    """Revoke a lease, deleting the keys attached to it."""

    lease_id: int


class EtcdLeaseKeepalive(
    Record, frozen=True, kw_only=True, tag_field="type", tag="lease_keepalive"
):
    """Renew a lease once (one request on the keepalive stream)."""

    lease_id: int


class EtcdCompact(Record, frozen=True, kw_only=True, tag_field="type", tag="compact"):
    """Compact the key history up to ``revision``."""

    revision: int
    physical: bool = False


EtcdOperation: TypeAlias = (
    EtcdRange
    | EtcdPut
    | EtcdDelete
    | EtcdTxn
    | EtcdLeaseGrant
    | EtcdLeaseRevoke
    | EtcdLeaseKeepalive
    | EtcdCompact
)


class RangeResult(Record, frozen=True, kw_only=True, tag_field="type", tag="range"):
    """A range's answer: ``revision`` is the response header's revision."""

    revision: int = 0
    kvs: tuple[KeyValue, ...] = ()
    count: int = 0
    more: bool = False


class PutResult(Record, frozen=True, kw_only=True, tag_field="type", tag="put"):
    """A put's answer: ``revision`` is the header revision (the put's own revision)."""

    revision: int = 0
    prev_kv: KeyValue | None = None


class DeleteResult(Record, frozen=True, kw_only=True, tag_field="type", tag="delete"):
    """A delete's answer: how many keys it deleted, and their previous values if asked."""

    revision: int = 0
    deleted: int = 0
    prev_kvs: tuple[KeyValue, ...] = ()


TxnResponse: TypeAlias = RangeResult | PutResult | DeleteResult


class TxnResult(Record, frozen=True, kw_only=True, tag_field="type", tag="txn"):
    """A txn's answer: whether the compares held, and one response per executed op."""

    revision: int = 0
    succeeded: bool = False
    responses: tuple[TxnResponse, ...] = ()


class LeaseGrantResult(Record, frozen=True, kw_only=True, tag_field="type", tag="lease_grant"):
    """A granted lease: its id and TTL (possibly raised to the server's minimum)."""

    revision: int = 0
    lease_id: int
    ttl_seconds: int = 0


class LeaseRevokeResult(Record, frozen=True, kw_only=True, tag_field="type", tag="lease_revoke"):
    """A revoke's answer."""

    revision: int = 0


class LeaseKeepaliveResult(
    Record, frozen=True, kw_only=True, tag_field="type", tag="lease_keepalive"
):
    """A keepalive's answer; ``ttl_seconds`` 0 means the lease was not found (expired)."""

    revision: int = 0
    lease_id: int
    ttl_seconds: int = 0


class CompactResult(Record, frozen=True, kw_only=True, tag_field="type", tag="compact"):
    """A compaction's answer."""

    revision: int = 0


class ErrorResult(Record, frozen=True, kw_only=True, tag_field="type", tag="error"):
    """An error the server returned, e.g. "etcdserver: mvcc: required revision has been
    compacted". With ``definite`` true it is the operation's outcome (no effect); an error that
    leaves the outcome unknown (a timeout) belongs on a record with ``definite`` false."""

    message: str


EtcdResult: TypeAlias = (
    RangeResult
    | PutResult
    | DeleteResult
    | TxnResult
    | LeaseGrantResult
    | LeaseRevokeResult
    | LeaseKeepaliveResult
    | CompactResult
    | ErrorResult
)


# ------------------------------------------------------------------ kv, register, cas-register


class KvGet(Record, frozen=True, kw_only=True, tag_field="type", tag="kv_get"):
    """Read the string at ``key`` (``""`` if never written)."""

    key: str


class KvPut(Record, frozen=True, kw_only=True, tag_field="type", tag="kv_put"):
    """Set the string at ``key``."""

    key: str
    value: str


class KvAppend(Record, frozen=True, kw_only=True, tag_field="type", tag="kv_append"):
    """Append ``value`` to the string at ``key``."""

    key: str
    value: str


class RegisterRead(Record, frozen=True, kw_only=True, tag_field="type", tag="read"):
    """Read the register."""


class RegisterWrite(Record, frozen=True, kw_only=True, tag_field="type", tag="write"):
    """Write the register."""

    value: RegisterValue


class RegisterCas(Record, frozen=True, kw_only=True, tag_field="type", tag="cas"):
    """Compare-and-set: set ``new`` if the register holds ``expected``."""

    expected: RegisterValue
    new: RegisterValue


class ValueResult(Record, frozen=True, kw_only=True, tag_field="type", tag="value"):
    """A read's answer (kv get: a string; register read: a value or ``null``)."""

    value: RegisterValue


class OkResult(Record, frozen=True, kw_only=True, tag_field="type", tag="ok"):
    """An acknowledgement without data (kv put/append, register write)."""


class CasResult(Record, frozen=True, kw_only=True, tag_field="type", tag="cas"):
    """A compare-and-set's answer: whether the register held ``expected``."""

    succeeded: bool


Operation: TypeAlias = (
    EtcdOperation | KvGet | KvPut | KvAppend | RegisterRead | RegisterWrite | RegisterCas
)
OperationResult: TypeAlias = EtcdResult | ValueResult | OkResult | CasResult


# ------------------------------------------------------------------------------- the records


class HistoryHeader(Record, frozen=True, kw_only=True, tag_field="kind", tag="header"):
    """Optional first line: the format, its version and the model the history is meant for."""

    format: str = FORMAT_NAME
    version: int = FORMAT_VERSION
    model: ModelName | None = None


class OperationRecord(Record, frozen=True, kw_only=True, tag_field="kind", tag="operation"):
    """One client operation.

    ``client_id`` runs at most one operation at a time. ``return_time`` is ``None`` when the
    client never saw an answer. ``definite`` false (or no return) means the outcome is unknown:
    the operation may take effect at any time after ``call_time``, or never.
    """

    client_id: int
    call_time: int
    return_time: int | None
    operation: Operation
    result: OperationResult | None = None
    definite: bool = True


WatchFilter = Literal["noput", "nodelete"]


class WatchRequest(Record, frozen=True, kw_only=True):
    """A watch's ``create_request``: keys ``[key, range_end)`` from ``start_revision``.

    ``start_revision`` 0 means "from the next revision"; ``filters`` drop puts or deletes;
    ``prev_kv`` asks for each event's previous key-value.
    """

    key: str
    range_end: str = ""
    start_revision: int = 0
    prev_kv: bool = False
    progress_notify: bool = False
    filters: tuple[WatchFilter, ...] = ()


EventType = Literal["put", "delete"]


class WatchEvent(Record, frozen=True, kw_only=True):
    """One change: for a delete, ``kv`` holds the key and the deletion's ``mod_revision``."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None


class WatchResponse(Record, frozen=True, kw_only=True):
    """One message on a watch stream, received at ``time``.

    ``revision`` is the response header's revision. A response that is not ``created``, not
    ``canceled``, has no ``compact_revision`` and no events is a progress notification: all
    events up to ``revision`` have been delivered.
    """

    time: int
    revision: int = 0
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""
    error: str = ""
    events: tuple[WatchEvent, ...] = ()

    def is_progress_notify(self) -> bool:
        """etcd's ``WatchResponse.IsProgressNotify``."""
        return (
            not self.events
            and not self.created
            and not self.canceled
            and self.compact_revision == 0
            and self.revision != 0
            and not self.error
        )


class WatchRecord(Record, frozen=True, kw_only=True, tag_field="kind", tag="watch"):
    """One watch stream: the request and every response received, in arrival order."""

    client_id: int
    request: WatchRequest
    responses: tuple[WatchResponse, ...] = ()
    watch_id: int = 0


HistoryLine: TypeAlias = HistoryHeader | OperationRecord | WatchRecord


class History(Record, frozen=True, kw_only=True):
    """A parsed history: the operations and watches in file order, with the header if any.

    ``operation_lines`` gives, for each operation, the 1-based line it came from (0: unknown).
    """

    header: HistoryHeader | None = None
    operations: tuple[OperationRecord, ...] = ()
    watches: tuple[WatchRecord, ...] = ()
    operation_lines: tuple[int, ...] = ()


_LINE_DECODER = msgspec.json.Decoder(HistoryLine)
_LINE_ENCODER = msgspec.json.Encoder(order="sorted")


def encode_line(record: HistoryLine) -> bytes:
    """One record as deterministic JSON (sorted keys), without the newline."""
    return _LINE_ENCODER.encode(record)


def encode_history(history: History) -> str:
    """A whole history as JSON Lines text (header first, then operations, then watches)."""
    lines: list[bytes] = []
    if history.header is not None:
        lines.append(encode_line(history.header))
    lines.extend(encode_line(operation) for operation in history.operations)
    lines.extend(encode_line(watch) for watch in history.watches)
    return "".join(line.decode() + "\n" for line in lines)


def text_lines(text: str, source: str = "<text>") -> Iterator[tuple[int, bytes]]:
    """The numbered lines of ``text``, as the streaming readers take them (tests, tools)."""
    return numbered_lines(text.encode().splitlines(keepends=True), source)


def _checked(record: OperationRecord, source: str, line: int) -> OperationRecord:
    problem = ""
    if record.return_time is not None and record.return_time < record.call_time:
        problem, field = "return_time is before call_time", "return_time"
    elif record.definite and record.return_time is None:
        problem, field = "a definite operation needs a return_time", "definite"
    elif record.definite and record.result is None:
        problem, field = "a definite operation needs a result", "result"
    if problem:
        raise InputError(problem, source=source, line=line, field=field)
    return record


def parse_history_lines(
    lines: Iterable[tuple[int, bytes]], source: str
) -> Result[History, InputError]:
    """Read kubeoracle JSON Lines, one line at a time (``lines`` from
    ``runner.input_files.read_lines`` or :func:`text_lines`): blank lines are skipped, a header
    may only come first, unknown fields are refused with their path (``docs/limits.md``)."""
    header: HistoryHeader | None = None
    operations: list[OperationRecord] = []
    numbers: list[int] = []
    watches: list[WatchRecord] = []
    try:
        for number, raw in lines:
            if not raw.strip():
                continue
            record = decode_json(_LINE_DECODER, raw, source, line=number)
            if isinstance(record, HistoryHeader):
                if operations or watches or header is not None:
                    raise InputError("a header must come first", source=source, line=number)
                if record.format != FORMAT_NAME or record.version != FORMAT_VERSION:
                    reason = f"expected {FORMAT_NAME} version {FORMAT_VERSION}"
                    raise InputError(reason, source=source, line=number, field="format")
                header = record
            elif isinstance(record, OperationRecord):
                operations.append(_checked(record, source, number))
                numbers.append(number)
            else:
                watches.append(record)
    except InputError as error:
        return Failure(error)
    return Success(
        History(
            header=header,
            operations=tuple(operations),
            watches=tuple(watches),
            operation_lines=tuple(numbers),
        )
    )


def parse_history(text: str, source: str = "<text>") -> Result[History, InputError]:
    """:func:`parse_history_lines` over a text in memory."""
    return parse_history_lines(text_lines(text, source), source)


def history_json_schema() -> Mapping[str, Any]:
    """JSON Schema of one history line, generated from the record types."""
    schema: Mapping[str, Any] = msgspec.json.schema(HistoryLine)
    return schema
