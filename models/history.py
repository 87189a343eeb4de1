"""History records: what clients observed of a system, one JSON line per operation or watch.

A *history* is what a linearizability checker judges (Herlihy & Wing 1990): each client
operation with the time it was called, the time it returned (or none), what it asked for and
what it got. The format (documented in ``docs/history-format.md``, JSON Schema generated from
these types by :func:`history_json_schema`) is JSON Lines:

* an optional first line ``{"kind": "header", "format": "kubeoracle-history", "version": 2,
  "model": "etcd"}``;
* one ``{"kind": "operation", ...}`` line per client operation (:class:`OperationRecord`);
* one ``{"kind": "watch", ...}`` line per etcd watch stream (:class:`WatchRecord`).

Operations are typed per model, with the tag in ``"type"``:

* ``etcd``: etcd's own requests and responses (:mod:`models.etcd`, the one set of etcd types):
  operations ``range``, ``put``, ``delete_range``, ``txn``, ``compaction``, ``lease_grant``,
  ``lease_revoke``, ``lease_keepalive``; results the matching responses (with their
  ``header``) or ``error`` (etcd's gRPC code and message). Keys and values are bytes, base64 in
  JSON as etcd's JSON gateway writes them. A watch records etcd's create request and each
  message received (:class:`WatchMessage`: etcd's ``WatchResponse``, or a stream error);
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
from models.strict_input import InputError, decode_json, numbered_lines

FORMAT_NAME = "kubeoracle-history"
FORMAT_VERSION = 2
VERSION_1_NOTE = (
    " (version 1 had kubeoracle's own etcd records with text keys; version 2 records etcd's "
    "messages, keys base64 as etcd's gateway writes them: see docs/history-format.md)"
)

ModelName = Literal["etcd", "kv", "register", "cas-register"]
MODEL_NAMES: tuple[ModelName, ...] = ("cas-register", "etcd", "kv", "register")


class Record(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every record of the format: immutable, keyword-built, and strict when read (an unknown
    field is refused with its path)."""


RegisterValue: TypeAlias = int | str | None
"""A register's value: an integer or a string; ``None`` is "no value" (never written)."""


# ------------------------------------------------------------------------------------- etcd

EtcdOperation: TypeAlias = (
    RangeRequest
    | PutRequest
    | DeleteRangeRequest
    | TxnRequest
    | CompactionRequest
    | LeaseGrantRequest
    | LeaseRevokeRequest
    | LeaseKeepAliveRequest
)
"""The etcd requests a history records, as :mod:`models.etcd` defines them."""

EtcdAnswer: TypeAlias = (
    RangeResponse
    | PutResponse
    | DeleteRangeResponse
    | TxnResponse
    | CompactionResponse
    | LeaseGrantResponse
    | LeaseRevokeResponse
    | LeaseKeepAliveResponse
)
"""etcd's response to one of them."""

EtcdResult: TypeAlias = EtcdAnswer | EtcdError
"""etcd's answer to one: its response, or the error it returned."""


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


class WatchMessage(Record, frozen=True, kw_only=True):
    """One message of an etcd watch stream as the client received it at ``time``: etcd's
    ``response``, or the ``error`` that ended the stream (exactly one of them)."""

    time: int
    response: WatchResponse | None = None
    error: str = ""

    def is_progress_notify(self) -> bool:
        """etcd's ``WatchResponse.IsProgressNotify``: no events, not created, not canceled, no
        compaction, a revision: every event up to that revision has been delivered."""
        response = self.response
        return (
            response is not None
            and not response.events
            and not response.created
            and not response.canceled
            and response.compact_revision == 0
            and response.header.revision != 0
        )


class WatchRecord(Record, frozen=True, kw_only=True, tag_field="kind", tag="watch"):
    """One watch stream: etcd's create request and every message received, in arrival
    order."""

    client_id: int
    request: WatchCreateRequest
    messages: tuple[WatchMessage, ...] = ()
    watch_id: int = 0

    def received(self) -> list[tuple[int, WatchResponse]]:
        """(arrival time, response) of every response, without a stream error."""
        return [(m.time, m.response) for m in self.messages if m.response is not None]


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


def _checked_watch(record: WatchRecord, source: str, line: int) -> WatchRecord:
    for number, message in enumerate(record.messages):
        if (message.response is None) == (not message.error):
            reason = "a watch message holds either a response or an error"
            raise InputError(reason, source=source, line=line, field=f"messages[{number}]")
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
                    if record.version == 1:
                        reason += VERSION_1_NOTE
                    raise InputError(reason, source=source, line=number, field="format")
                header = record
            elif isinstance(record, OperationRecord):
                operations.append(_checked(record, source, number))
                numbers.append(number)
            else:
                watches.append(_checked_watch(record, source, number))
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
