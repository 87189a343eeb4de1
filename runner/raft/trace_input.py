"""Reading Raft traces for validation: kubeoracle's event format and etcd-io/raft's NDJSON.

``read_traces(paths, format)`` returns the events of one or several files, merged into one
sequence (by timestamp when every record has one, otherwise file after file), each with its file
and line, plus what the trace logs. Files are streamed through the strict input discipline
(``runner.input_files.read_lines``, ``models.strict_input.decode_json``; ``docs/limits.md``): an
unknown or misspelled field, a negative or out-of-range number, a line, file or count over its
limit, or an append carrying more than ``MAX_ENTRIES_PER_MESSAGE`` entries raises ``InputError``
naming the file, line, field and limit, and so does a file with no events. etcd-io/raft records
are translated by :mod:`runner.raft.trace_etcd`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Literal, Protocol, TypeAlias, TypeVar

import msgspec
from msgspec import UNSET

from models.raft_events import RaftEvent, Receive, Send, TraceHeader
from models.strict_input import decode_json
from runner.errors import InputError
from runner.input_files import read_lines
from runner.raft.trace_etcd import ETCD_DECODER, EtcdTranslator, Located
from spec.raft_validation import LocatedEvent, Options

T = TypeVar("T")
TraceFormat: TypeAlias = Literal["auto", "kubeoracle", "etcd-raft"]


class RawRecord(msgspec.Struct, frozen=True):
    """A kubeoracle event before merging, with its place and time."""

    source: str
    line: int
    time: float | None
    event: RaftEvent


class Timed(Protocol):
    """A record that may carry a time."""

    @property
    def time(self) -> float | None: ...


EVENT_DECODER = msgspec.json.Decoder(RaftEvent)
HEADER_DECODER = msgspec.json.Decoder(TraceHeader)
ANY_DECODER = msgspec.json.Decoder()
ZAP_KEYS = frozenset({"event", "tag", "level", "ts"})
"""Keys of a zap log line (etcd-io/raft's trace logger writes through zap)."""


def event_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of ``path`` with their numbers, streamed within the limits."""
    return ((number, line) for number, line in read_lines(path) if line.strip())


def detect_format(first: bytes, source: str, number: int) -> Literal["kubeoracle", "etcd-raft"]:
    """etcd-raft if the first line looks like a zap log record, else kubeoracle."""
    decoded = decode_json(ANY_DECODER, first, source, line=number)
    if isinstance(decoded, dict) and "kind" not in decoded and ZAP_KEYS & decoded.keys():
        return "etcd-raft"
    return "kubeoracle"


def decoded(decoder: msgspec.json.Decoder[T], line: bytes, source: str, number: int) -> T:
    """One line through ``decoder``; any failure is reported by ``decode_json`` (field path,
    depth and int64 limits). Lines that decode are taken as they are: every integer field of
    both formats is typed 0 .. 2^63-1 (``Number``, ``Uint64``), so the range is checked."""
    try:
        return decoder.decode(line)
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
        return decode_json(decoder, line, source, line=number, wide_integers=frozenset())


def parse_etcd_lines(source: str, lines: Iterable[tuple[int, bytes]]) -> Iterator[Located]:
    """The trace records of an etcd-io/raft NDJSON file (other log lines are skipped)."""
    for number, line in lines:
        record = decoded(ETCD_DECODER, line, source, number)
        if record.tag == "trace" and record.event is not None:
            yield Located(source, number, record.event, record.ts)


def parse_kubeoracle_lines(source: str, lines: Iterable[tuple[int, bytes]]) -> Iterator[RawRecord]:
    """The events of a kubeoracle Raft event file (an optional header line first)."""
    for number, line in lines:
        if number == 1 and b'"format"' in line:
            header = decoded(HEADER_DECODER, line, source, number)
            if header.version != 1:
                raise InputError(
                    f"unsupported version {header.version}", source=source, line=1, field="version"
                )
            continue
        event = decoded(EVENT_DECODER, line, source, number)
        check_message_ends(event, source, number)
        time = event.time if event.time is not UNSET else None
        yield RawRecord(source, number, time, event)


def check_message_ends(event: RaftEvent, source: str, line: int) -> None:
    """A send's source and a receive's destination are the node of the event."""
    if isinstance(event, Send) and event.message.source != event.node:
        raise InputError(
            f"a send by node {event.node} has message.source {event.message.source}",
            source=source,
            line=line,
            field="message.source",
        )
    if isinstance(event, Receive) and event.message.destination != event.node:
        raise InputError(
            f"a receive by node {event.node} has message.destination {event.message.destination}",
            source=source,
            line=line,
            field="message.destination",
        )


def read_file(path: Path, trace_format: TraceFormat) -> tuple[str, list[Located] | list[RawRecord]]:
    """One file's records and its format; a file without events is refused."""
    lines = event_lines(path)
    first = next(lines, None)
    if first is None:
        raise InputError("no events: the file is empty or holds only blank lines", source=str(path))
    chosen = (
        detect_format(first[1], str(path), first[0]) if trace_format == "auto" else trace_format
    )
    stream = chain((first,), lines)
    records: list[Located] | list[RawRecord]
    if chosen == "etcd-raft":
        records = list(parse_etcd_lines(str(path), stream))
    else:
        records = list(parse_kubeoracle_lines(str(path), stream))
    if not records:
        what = 'records with "tag": "trace"' if chosen == "etcd-raft" else "events"
        raise InputError(f"no events: the file holds no {what}", source=str(path))
    return chosen, records


def merge(per_file: Sequence[Sequence[Timed]]) -> list[Timed]:
    """One sequence: by time when every record has one (stable), else file after file."""
    if len(per_file) == 1:
        return list(per_file[0])
    if all(record.time is not None for records in per_file for record in records):
        keyed = (
            [
                ((record.time or 0.0), index, position, record)
                for position, record in enumerate(records)
            ]
            for index, records in enumerate(per_file)
        )
        return [item[3] for item in heapq.merge(*keyed)]
    return [record for records in per_file for record in records]


class TraceInput(msgspec.Struct, frozen=True, kw_only=True):
    """The merged events of some trace files, what they log, and how many records they held."""

    events: list[LocatedEvent]
    options: Options
    records: int
    format: str


def read_traces(paths: Sequence[Path], trace_format: TraceFormat) -> TraceInput:
    """The merged events of ``paths``, what the trace logs, and how many records it held."""
    formats: set[str] = set()
    per_file: list[Sequence[Timed]] = []
    for path in paths:
        chosen, records = read_file(path, trace_format)
        formats.add(chosen)
        per_file.append(records)
    if len(formats) > 1:
        raise InputError("the files mix the kubeoracle and etcd-raft formats; pass --format")
    chosen = formats.pop()
    merged = merge(per_file)
    if chosen == "etcd-raft":
        events = translate_etcd(merged)
    else:
        events = [
            LocatedEvent(source=record.source, line=record.line, event=record.event)
            for record in merged
            if isinstance(record, RawRecord)
        ]
    return TraceInput(
        events=events,
        options=logging_options(events, etcd=chosen == "etcd-raft"),
        records=len(merged),
        format=chosen,
    )


def translate_etcd(records: Iterable[Timed]) -> list[LocatedEvent]:
    """etcd-io/raft records as kubeoracle events (:mod:`runner.raft.trace_etcd`)."""
    translator = EtcdTranslator()
    events: list[LocatedEvent] = []
    for record in records:
        assert isinstance(record, Located)
        translator.translate(record, events)
    translator.finish(events)
    return events


def logging_options(events: Sequence[LocatedEvent], *, etcd: bool) -> Options:
    """Nodes with at least one receive (send) event log their receives (sends); etcd-io/raft's
    instrumentation leaves some messages and entries out (``Options.instrumentation``)."""
    if etcd:
        # The tracer traces every send and receive of the types it traces, on every node.
        nodes = frozenset(item.event.node for item in events)
        return Options(receives_logged=nodes, sends_logged=nodes, instrumentation="etcd-raft")
    receives = {item.event.node for item in events if isinstance(item.event, Receive)}
    sends = {item.event.node for item in events if isinstance(item.event, Send)}
    return Options(
        receives_logged=frozenset(receives),
        sends_logged=frozenset(sends),
        instrumentation="etcd-raft" if etcd else "full",
    )
