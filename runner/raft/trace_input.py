"""Reading Raft traces for validation: kubeoracle's event format and etcd-io/raft's NDJSON.

``read_traces(paths, format)`` returns the events of one or several files, merged into one
sequence (by timestamp when every record has one, otherwise file after file), each with its file
and line, plus which nodes log their sends and receives. Unreadable input raises
``InputError`` naming the file, line and field.

etcd-io/raft's trace events (``state_trace.go``, used by its TLA+ trace validation) are
translated into kubeoracle events with the timing etcd gives them: a receive reports the state
before the message is handled; a become-*, commit or ready event reports the state after; a
replicate, propose (ChangeConf) or apply-config event reports the state before the entry or
configuration is added. As in ``Traceetcdraft.tla``, a node's InitState, BecomeFollower and
ApplyConfChange lines before its first other event are its bootstrap (or, after a later
InitState, its restart): together they give the state the node starts from.
"""

from __future__ import annotations

import functools
import gzip
import heapq
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, TypeAlias

import msgspec
from msgspec import UNSET

from models.raft_events import (
    Append,
    ApplyConfig,
    BecomeCandidate,
    BecomeFollower,
    BecomeLeader,
    BecomePreCandidate,
    Commit,
    ConfigAction,
    ConfigChange,
    Configuration,
    Init,
    Message,
    MessageType,
    NodeState,
    Observe,
    Persist,
    RaftEvent,
    Receive,
    Role,
    Send,
    TraceHeader,
)
from runner.errors import InputError
from spec.raft_validation import LocatedEvent, Options

TraceFormat: TypeAlias = Literal["auto", "kubeoracle", "etcd-raft"]


class EtcdState(msgspec.Struct, frozen=True):
    """``state`` of an etcd-io/raft trace event: the node's HardState."""

    term: int
    vote: str
    commit: int


class EtcdMessage(msgspec.Struct, frozen=True, rename={"source": "from", "destination": "to"}):
    """``msg`` of an etcd-io/raft trace event."""

    type: str
    term: int
    source: str
    destination: str
    entries: int = 0
    logTerm: int = 0  # noqa: N815 (etcd's field name)
    index: int = 0
    commit: int = 0
    vote: str = "0"
    reject: bool = False
    rejectHint: int = 0  # noqa: N815 (etcd's field name)


class EtcdChange(msgspec.Struct, frozen=True):
    """One change of ``prop.cc.changes``."""

    nid: str
    action: str


class EtcdConfChange(msgspec.Struct, frozen=True):
    """``prop.cc``: the changes proposed, or the voters after applying."""

    changes: tuple[EtcdChange, ...] = ()
    newconf: tuple[str, ...] = ()


class EtcdProperties(msgspec.Struct, frozen=True):
    """``prop``: free-form in etcd; the parts the validator reads."""

    cc: EtcdConfChange | None = None


class EtcdEvent(msgspec.Struct, frozen=True):
    """One tracing event of etcd-io/raft (``TracingEvent`` in ``state_trace.go``)."""

    name: str
    nid: str
    state: EtcdState
    role: str
    log: int
    conf: tuple[tuple[str, ...], tuple[str, ...]]
    msg: EtcdMessage | None = None
    prop: EtcdProperties | None = None


class EtcdRecord(msgspec.Struct, frozen=True):
    """A zap log line; trace lines have ``tag == "trace"`` and an ``event``."""

    tag: str = ""
    ts: float | None = None
    event: EtcdEvent | None = None


class RawRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed line before merging: its place, time, and content."""

    source: str
    line: int
    time: float | None
    etcd: EtcdEvent | None = None
    event: RaftEvent | None = None


ETCD_ROLES: dict[str, Role] = {
    "StateFollower": "follower",
    "StateCandidate": "candidate",
    "StateLeader": "leader",
    "StatePreCandidate": "pre_candidate",
}
ETCD_ACTIONS: dict[str, ConfigAction] = {
    "AddNewServer": "add_voter",
    "RemoveServer": "remove",
    "AddLearner": "add_learner",
}
ETCD_EVENT_NAMES = frozenset(
    {
        "InitState",
        "BecomeCandidate",
        "BecomePreCandidate",
        "BecomeFollower",
        "BecomeLeader",
        "Commit",
        "Replicate",
        "ChangeConf",
        "ApplyConfChange",
        "Ready",
        "SendAppendEntriesRequest",
        "ReceiveAppendEntriesRequest",
        "SendAppendEntriesResponse",
        "ReceiveAppendEntriesResponse",
        "SendRequestVoteRequest",
        "ReceiveRequestVoteRequest",
        "SendRequestVoteResponse",
        "ReceiveRequestVoteResponse",
        "SendSnapshot",
        "ReceiveSnapshot",
    }
)
BOOTSTRAP_NAMES = frozenset({"InitState", "BecomeFollower", "ApplyConfChange"})

ETCD_DECODER = msgspec.json.Decoder(EtcdRecord)
EVENT_DECODER = msgspec.json.Decoder(RaftEvent)
HEADER_DECODER = msgspec.json.Decoder(TraceHeader)


def field_of(error: msgspec.ValidationError) -> str:
    """The JSON path msgspec names in a validation error (``$.event.state.term``)."""
    text = str(error)
    return text.rsplit("`", 2)[-2] if text.count("`") >= 2 and " - at `" in text else ""


def detect_format(path: Path, lines: Sequence[bytes]) -> Literal["kubeoracle", "etcd-raft"]:
    """etcd-raft if the first JSON line looks like a zap trace record, else kubeoracle."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            first = msgspec.json.decode(line)
        except msgspec.DecodeError as error:
            raise InputError(f"not JSON: {error}", source=str(path), line=number) from error
        if isinstance(first, dict) and ("event" in first or first.get("tag") == "trace"):
            return "etcd-raft"
        return "kubeoracle"
    return "kubeoracle"


def parse_etcd_lines(source: str, lines: Sequence[bytes]) -> Iterator[RawRecord]:
    """The trace records of an etcd-io/raft NDJSON file."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = ETCD_DECODER.decode(line)
        except msgspec.ValidationError as error:
            raise InputError(
                str(error), source=source, line=number, field=field_of(error)
            ) from error
        except msgspec.DecodeError as error:
            raise InputError(f"not JSON: {error}", source=source, line=number) from error
        if record.tag != "trace" or record.event is None:
            continue
        if record.event.name not in ETCD_EVENT_NAMES:
            raise InputError(
                f"unknown event name {record.event.name!r}",
                source=source,
                line=number,
                field="$.event.name",
            )
        yield RawRecord(source=source, line=number, time=record.ts, etcd=record.event)


def parse_kubeoracle_lines(source: str, lines: Sequence[bytes]) -> Iterator[RawRecord]:
    """The events of a kubeoracle Raft event file (an optional header line first)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if number == 1 and b'"format"' in line:
            try:
                header = HEADER_DECODER.decode(line)
            except (msgspec.ValidationError, msgspec.DecodeError) as error:
                raise InputError(f"bad header: {error}", source=source, line=number) from error
            if header.version != 1:
                raise InputError(
                    f"unsupported version {header.version}", source=source, line=1, field="version"
                )
            continue
        try:
            event = EVENT_DECODER.decode(line)
        except msgspec.ValidationError as error:
            raise InputError(
                str(error), source=source, line=number, field=field_of(error)
            ) from error
        except msgspec.DecodeError as error:
            raise InputError(f"not JSON: {error}", source=source, line=number) from error
        check_message_ends(event, source, number)
        time = event.time if event.time is not UNSET else None
        yield RawRecord(source=source, line=number, time=time, event=event)


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


def read_file(path: Path, trace_format: TraceFormat) -> tuple[str, list[RawRecord]]:
    """One file's records and its format."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except OSError as error:
        raise InputError(f"cannot read: {error}", source=str(path)) from error
    except EOFError as error:
        raise InputError(f"truncated gzip data: {error}", source=str(path)) from error
    lines = data.split(b"\n")
    chosen = detect_format(path, lines) if trace_format == "auto" else trace_format
    parser = parse_etcd_lines if chosen == "etcd-raft" else parse_kubeoracle_lines
    return chosen, list(parser(str(path), lines))


def merge(per_file: Sequence[list[RawRecord]]) -> list[RawRecord]:
    """One sequence: by time when every record has one (stable), else file after file."""
    if len(per_file) == 1:
        return per_file[0]
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
    per_file: list[list[RawRecord]] = []
    for path in paths:
        chosen, records = read_file(path, trace_format)
        formats.add(chosen)
        per_file.append(records)
    if len(formats) > 1:
        raise InputError("the files mix the kubeoracle and etcd-raft formats; pass --format")
    records = merge(per_file)
    if "etcd-raft" in formats:
        events = list(translate_etcd(records))
    else:
        events = [
            LocatedEvent(source=record.source, line=record.line, event=record.event)
            for record in records
            if record.event is not None
        ]
    return TraceInput(
        events=events,
        options=logging_options(events),
        records=len(records),
        format=formats.pop() if formats else "kubeoracle",
    )


def logging_options(events: Sequence[LocatedEvent]) -> Options:
    """Nodes with at least one receive (send) event log their receives (sends)."""
    receives = {item.event.node for item in events if isinstance(item.event, Receive)}
    sends = {item.event.node for item in events if isinstance(item.event, Send)}
    return Options(receives_logged=frozenset(receives), sends_logged=frozenset(sends))


def etcd_state(event: EtcdEvent, *, log: bool = True, vote: bool = True) -> NodeState:
    """The node state an etcd event reports (optionally without the log length or vote)."""
    role = ETCD_ROLES.get(event.role)
    config = configuration_of(event.conf)
    return NodeState(
        term=event.state.term,
        vote=(None if event.state.vote == "0" else event.state.vote) if vote else UNSET,
        role=role if role is not None else UNSET,
        commit_index=event.state.commit,
        last_log_index=event.log if log else UNSET,
        config=config,
    )


@functools.lru_cache(maxsize=1024)
def configuration_of(conf: tuple[tuple[str, ...], tuple[str, ...]]) -> Configuration:
    """The configuration of an etcd ``conf`` value (traces repeat a handful of them)."""
    return Configuration(voters=conf[0], outgoing_voters=conf[1])


def etcd_message(message: EtcdMessage, source: str, line: int) -> Message:
    """An etcd ``msg`` in kubeoracle's message vocabulary."""
    kind = message.type
    translated = ETCD_MESSAGE_TYPES.get(kind)
    if translated is None:
        raise InputError(
            f"unknown message type {kind!r}", source=source, line=line, field="$.event.msg.type"
        )
    base = Message(
        type=translated, source=message.source, destination=message.destination, term=message.term
    )
    if kind in ("MsgVote", "MsgPreVote"):
        return msgspec.structs.replace(
            base, last_log_index=message.index, last_log_term=message.logTerm
        )
    if kind in ("MsgVoteResp", "MsgPreVoteResp"):
        return msgspec.structs.replace(base, granted=not message.reject)
    if kind == "MsgApp":
        return msgspec.structs.replace(
            base,
            prev_log_index=message.index,
            prev_log_term=message.logTerm,
            entry_count=message.entries,
            leader_commit=message.commit,
        )
    if kind == "MsgAppResp":
        if message.reject:
            return msgspec.structs.replace(base, success=False)
        return msgspec.structs.replace(base, success=True, match_index=message.index)
    if kind == "MsgHeartbeat":
        return msgspec.structs.replace(base, leader_commit=message.commit)
    if kind == "MsgSnap":
        return msgspec.structs.replace(
            base, snapshot_index=message.entries, leader_commit=message.commit
        )
    return base


ETCD_MESSAGE_TYPES: dict[str, MessageType] = {
    "MsgVote": "vote_request",
    "MsgPreVote": "pre_vote_request",
    "MsgVoteResp": "vote_response",
    "MsgPreVoteResp": "pre_vote_response",
    "MsgApp": "append_request",
    "MsgAppResp": "append_response",
    "MsgHeartbeat": "heartbeat",
    "MsgHeartbeatResp": "heartbeat_response",
    "MsgSnap": "snapshot",
}


def bootstrap_state(last: EtcdEvent) -> NodeState:
    """The state a node starts from after its bootstrap (or restart) lines."""
    state = etcd_state(last)
    if last.name == "ApplyConfChange":
        newconf = last.prop.cc.newconf if last.prop is not None and last.prop.cc else ()
        state = msgspec.structs.replace(state, config=Configuration(voters=tuple(newconf)))
    return state


def translate_etcd(records: Sequence[RawRecord]) -> Iterator[LocatedEvent]:
    """etcd-io/raft trace records as kubeoracle events (see the module docstring)."""
    starting: dict[str, RawRecord] = {}
    roles: dict[str, str] = {}
    for record in records:
        event = record.etcd
        assert event is not None
        node = event.nid
        if event.name == "InitState" or (node in starting and event.name in BOOTSTRAP_NAMES):
            starting[node] = record
            continue
        pending = starting.pop(node, None)
        if pending is not None:
            roles[node] = as_etcd(pending).role
            yield located_at(pending, Init(node=node, state=bootstrap_state(as_etcd(pending))))
        if (
            event.role == "StatePreCandidate"
            and roles.get(node) != event.role
            and event.name != "BecomePreCandidate"
        ):
            # etcd-io/raft does not trace becomePreCandidate; its role shows it happened.
            yield located_at(record, BecomePreCandidate(node=node))
        roles[node] = event.role
        for translated in translate_one(event, record):
            yield located_at(record, translated)
    for node in sorted(starting):
        pending = starting[node]
        yield located_at(pending, Init(node=node, state=bootstrap_state(as_etcd(pending))))


def as_etcd(record: RawRecord) -> EtcdEvent:
    """The etcd event of a record known to hold one."""
    assert record.etcd is not None
    return record.etcd


def located_at(record: RawRecord, event: RaftEvent) -> LocatedEvent:
    """``event`` placed at ``record``'s file and line."""
    return LocatedEvent(source=record.source, line=record.line, event=event)


def translate_one(event: EtcdEvent, record: RawRecord) -> tuple[RaftEvent, ...]:
    """One etcd trace event (after bootstrap) as kubeoracle events."""
    node = event.nid
    name = event.name
    if name == "BecomeFollower":
        return (BecomeFollower(node=node, state=etcd_state(event)),)
    if name == "BecomeCandidate":
        return (BecomeCandidate(node=node, state=etcd_state(event)),)
    if name == "BecomeLeader":
        return (BecomeLeader(node=node, state=etcd_state(event)),)
    if name == "BecomePreCandidate":
        return (BecomePreCandidate(node=node, state=etcd_state(event)),)
    if name == "Commit":
        return (Commit(node=node, commit_index=event.state.commit, state=etcd_state(event)),)
    if name == "Ready":
        return (Persist(node=node, state=etcd_state(event)),)
    if name == "Replicate":
        return (Observe(node=node, state=etcd_state(event, log=False)), Append(node=node))
    if name == "ChangeConf":
        changes = event.prop.cc.changes if event.prop is not None and event.prop.cc else ()
        return (
            Observe(node=node, state=etcd_state(event, log=False)),
            Append(
                node=node, changes=tuple(change_of(c, record) for c in changes), config_entry=True
            ),
        )
    if name == "ApplyConfChange":
        newconf = event.prop.cc.newconf if event.prop is not None and event.prop.cc else ()
        return (
            Observe(node=node, state=etcd_state(event)),
            ApplyConfig(node=node, config=Configuration(voters=tuple(newconf))),
        )
    if event.msg is None:
        raise InputError(
            f"{name} without a msg", source=record.source, line=record.line, field="$.event.msg"
        )
    message = etcd_message(event.msg, record.source, record.line)
    if name.startswith("Receive"):
        return (Observe(node=node, state=etcd_state(event)), Receive(node=node, message=message))
    granted_vote = message.type == "vote_response" and message.granted is True
    return (Send(node=node, message=message, state=etcd_state(event, vote=not granted_vote)),)


def change_of(change: EtcdChange, record: RawRecord) -> ConfigChange:
    """One proposed change in kubeoracle's vocabulary."""
    action = ETCD_ACTIONS.get(change.action)
    if action is None:
        raise InputError(
            f"unknown configuration change action {change.action!r}",
            source=record.source,
            line=record.line,
            field="$.event.prop.cc.changes.action",
        )
    return ConfigChange(action=action, node=change.nid)
