"""etcd-io/raft's trace events (``state_trace.go``, build tag ``with_tla``) as kubeoracle events.

``decode_etcd_line`` reads one zap log line strictly (the ``event`` object and everything in it
refuse unknown fields; zap's own fields and the free-form ``prop`` do not). ``EtcdTranslator``
turns the merged records into kubeoracle events with the timing etcd-io/raft gives them (line
numbers below are of v3.6.0):

- a ``Receive*`` line is traced first thing in ``Step`` (raft.go:1086): it reports the state
  before the message is handled (``observe`` + ``receive``);
- ``BecomeFollower`` traced inside that ``Step`` (raft.go:1119-1121 for a higher term,
  raft.go:1683-1689 for a candidate meeting the leader) reports term, vote and role already
  changed but the log, commit index and configuration not yet: only those three are compared;
- ``Replicate``/``ChangeConf`` are traced before the entry is appended (raft.go:831, 1336),
  ``ApplyConfChange`` before the configuration changes (raft.go:1976, in ``switchToConfig``);
- an ``ApplyConfChange`` reporting ``conf [[],[]]`` after the node's start comes from
  ``restore()`` (raft.go:1920 resets the tracker first): it is the snapshot's configuration,
  and the empty ``conf`` is not compared;
- as in ``Traceetcdraft.tla``, a node's ``InitState`` (raft.go:467, traced before storage is
  read: term 0, commit = the storage's first index - 1) and the ``ApplyConfChange`` and
  ``BecomeFollower`` lines that follow it before any other event are its start. A node whose
  storage held a snapshot starts with ``log == commit > 0`` and has applied everything up to
  that index; a node started by ``Bootstrap`` (bootstrap.go:46-71: term 1, one AddNode entry
  per peer, committed, applied by hand) re-applies those entries, which the translation pins.
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal, TypeAlias

import msgspec
from msgspec import UNSET

from models.raft_events import (
    MAX_ENTRIES_PER_MESSAGE,
    MAX_NUMBER,
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
)
from runner.errors import InputError
from spec.raft_validation import LocatedEvent

Uint64: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=MAX_NUMBER)]
"""etcd's uint64, limited to int64 like every term and index kubeoracle reads."""
EtcdRole: TypeAlias = Literal["StateFollower", "StateCandidate", "StateLeader", "StatePreCandidate"]
EventName: TypeAlias = Literal[
    "InitState",
    "BecomeCandidate",
    "BecomeFollower",
    "BecomeLeader",
    "BecomePreCandidate",
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
]


class EtcdState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``state`` of an etcd-io/raft trace event: the node's HardState."""

    term: Uint64
    vote: str
    commit: Uint64


class EtcdMessage(
    msgspec.Struct,
    frozen=True,
    forbid_unknown_fields=True,
    rename={"source": "from", "destination": "to"},
):
    """``msg`` of an etcd-io/raft trace event (``TracingMessage``)."""

    type: str
    term: Uint64
    source: str
    destination: str
    entries: Uint64 = 0
    logTerm: Uint64 = 0  # noqa: N815 (etcd's field name)
    index: Uint64 = 0
    commit: Uint64 = 0
    vote: str = "0"
    reject: bool = False
    rejectHint: Uint64 = 0  # noqa: N815 (etcd's field name)


class EtcdChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One change of ``prop.cc.changes``."""

    nid: str
    action: Literal["AddNewServer", "RemoveServer", "AddLearner"]


class EtcdConfChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``prop.cc``: the changes proposed, or the voters after applying."""

    changes: tuple[EtcdChange, ...] = ()
    newconf: tuple[str, ...] = ()


class EtcdProperties(msgspec.Struct, frozen=True):
    """``prop``: free-form in etcd (``match``/``next`` on MsgApp); the part the validator reads."""

    cc: EtcdConfChange | None = None


class EtcdEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One tracing event of etcd-io/raft (``TracingEvent`` in ``state_trace.go``)."""

    name: EventName
    nid: str
    state: EtcdState
    role: EtcdRole
    log: Uint64
    conf: tuple[tuple[str, ...], tuple[str, ...]]
    msg: EtcdMessage | None = None
    cc: EtcdConfChange | None = None
    prop: EtcdProperties | None = None


class EtcdRecord(msgspec.Struct, frozen=True):
    """A zap log line; trace lines have ``tag == "trace"`` and an ``event``."""

    tag: str = ""
    ts: float | None = None
    event: EtcdEvent | None = None


ETCD_DECODER = msgspec.json.Decoder(EtcdRecord)

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
    "MsgReadIndex": "read_index_request",
    "MsgReadIndexResp": "read_index_response",
}
RECEIVE_NAMES = frozenset(
    {
        "ReceiveAppendEntriesRequest",
        "ReceiveAppendEntriesResponse",
        "ReceiveRequestVoteRequest",
        "ReceiveRequestVoteResponse",
        "ReceiveSnapshot",
    }
)
BOOTSTRAP_NAMES = frozenset({"InitState", "BecomeFollower", "ApplyConfChange"})
NO_CONF: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


def etcd_state(
    event: EtcdEvent, *, log: bool = True, vote: bool = True, settled: bool = True
) -> NodeState:
    """The node state an etcd event reports; ``settled=False`` leaves out the log, commit index
    and configuration (not yet updated where the event is traced)."""
    state = event.state
    return state_of(
        state.term,
        state.vote if vote else None,
        event.role,
        state.commit,
        event.log if log else -1,
        event.conf,
        settled,
    )


@functools.lru_cache(maxsize=4096)
def state_of(
    term: int,
    vote: str | None,
    role: str,
    commit: int,
    log: int,
    conf: tuple[tuple[str, ...], tuple[str, ...]],
    settled: bool,
) -> NodeState:
    """The NodeState of these reported values (``vote`` None: not compared, ``log`` -1: not
    compared); traces repeat the same states many times, so they are shared."""
    return NodeState(
        term=term,
        vote=UNSET if vote is None else (None if vote == "0" else vote),
        role=ETCD_ROLES[role],
        commit_index=commit if settled else UNSET,
        last_log_index=log if log >= 0 and settled else UNSET,
        config=configuration_of(conf) if settled else UNSET,
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
            f"unknown message type {kind!r}", source=source, line=line, field="event.msg.type"
        )
    if kind == "MsgApp" and message.entries > MAX_ENTRIES_PER_MESSAGE:
        raise InputError(
            f"a MsgApp carries {message.entries} entries, over the limit of "
            f"{MAX_ENTRIES_PER_MESSAGE}",
            source=source,
            line=line,
            field="event.msg.entries",
        )
    return message_of(message)


@functools.lru_cache(maxsize=8192)
def message_of(message: EtcdMessage) -> Message:
    """The translation of a valid message (a send and its receive share it)."""
    kind = message.type
    translated = ETCD_MESSAGE_TYPES[kind]
    src, dst, term = message.source, message.destination, message.term
    if kind in ("MsgVote", "MsgPreVote"):
        return Message(
            type=translated,
            source=src,
            destination=dst,
            term=term,
            last_log_index=message.index,
            last_log_term=message.logTerm,
        )
    if kind in ("MsgVoteResp", "MsgPreVoteResp"):
        return Message(
            type=translated, source=src, destination=dst, term=term, granted=not message.reject
        )
    if kind == "MsgApp":
        return Message(
            type=translated,
            source=src,
            destination=dst,
            term=term,
            prev_log_index=message.index,
            prev_log_term=message.logTerm,
            entry_count=message.entries,
            leader_commit=message.commit,
        )
    if kind == "MsgAppResp":
        if message.reject:
            return Message(type=translated, source=src, destination=dst, term=term, success=False)
        return Message(
            type=translated,
            source=src,
            destination=dst,
            term=term,
            success=True,
            match_index=message.index,
        )
    if kind == "MsgHeartbeat":
        return Message(
            type=translated, source=src, destination=dst, term=term, leader_commit=message.commit
        )
    if kind == "MsgSnap":
        # makeTracingMessage (state_trace.go) puts the snapshot's index in ``entries``.
        return Message(
            type=translated,
            source=src,
            destination=dst,
            term=term,
            snapshot_index=message.entries,
            leader_commit=message.commit,
        )
    if kind == "MsgReadIndexResp":
        return Message(
            type=translated, source=src, destination=dst, term=term, read_index=message.index
        )
    return Message(type=translated, source=src, destination=dst, term=term)


def change_of(change: EtcdChange) -> ConfigChange:
    """One proposed change in kubeoracle's vocabulary."""
    return ConfigChange(action=ETCD_ACTIONS[change.action], node=change.nid)


def newconf_of(event: EtcdEvent) -> tuple[str, ...]:
    """The voters an ApplyConfChange line applies (``prop.cc.newconf``)."""
    return event.prop.cc.newconf if event.prop is not None and event.prop.cc else ()


class Located(msgspec.Struct, frozen=True):
    """An etcd event with its file, line and timestamp."""

    source: str
    line: int
    event: EtcdEvent
    time: float | None = None


def start_of(lines: list[Located], first_start: bool) -> Init:
    """The Init of a node from its bootstrap (or restart) lines."""
    initial, last = lines[0].event, lines[-1].event
    state = etcd_state(last)
    if last.name == "ApplyConfChange":
        state = msgspec.structs.replace(state, config=Configuration(voters=newconf_of(last)))
    changes = bootstrap_changes(lines) if first_start else ()
    if initial.state.term != 0 or initial.state.vote != "0":
        # Not etcd-io/raft's InitState, traced before the HardState is loaded (kubeoracle's
        # exporter writes the restarted state there): where applying resumes is unknown.
        return Init(node=last.nid, state=state, bootstrap_changes=changes)
    # InitState's commit is the storage's first index - 1 (log.go:92): applied before the start.
    return Init(
        node=last.nid, state=state, applied_index=initial.state.commit, bootstrap_changes=changes
    )


def bootstrap_changes(lines: list[Located]) -> tuple[ConfigChange, ...]:
    """The AddNode entries ``Bootstrap`` appended and applied (bootstrap.go:46-71): its
    ApplyConfChange lines each add one voter, and the log holds exactly those entries."""
    initial, last = lines[0].event, lines[-1].event
    if initial.log != 0 or last.log == 0:
        return ()
    changes: list[ConfigChange] = []
    for item in lines:
        event = item.event
        if event.name != "ApplyConfChange" or event.log == 0:
            continue
        added = sorted(set(newconf_of(event)) - set(event.conf[0]))
        if len(added) != 1 or event.conf[1]:
            return ()
        changes.append(ConfigChange(action="add_voter", node=added[0]))
    return tuple(changes) if len(changes) == last.log == last.state.commit else ()


class EtcdTranslator:
    """Translates merged etcd records, in order, into kubeoracle events (module docstring)."""

    def __init__(self) -> None:
        self.starting: dict[str, list[Located]] = {}
        self.reported: dict[str, NodeState | None] = {}
        """The state each node's last event reported (None: it reported none, or changed
        after reporting); states are shared objects (``state_of``)."""
        self.previous: dict[str, str] = {}
        self.roles: dict[str, str] = {}

    def translate(self, item: Located, out: list[LocatedEvent]) -> None:
        """Append the kubeoracle events of one etcd record to ``out``."""
        event = item.event
        node = event.nid
        name = event.name
        if name == "InitState":
            self.finish_start(node, out)
            self.starting[node] = [item]
            return
        if node in self.starting:
            if name in BOOTSTRAP_NAMES:
                self.starting[node].append(item)
                return
            self.finish_start(node, out)
        source, line = item.source, item.line
        role = event.role
        if (
            role == "StatePreCandidate"
            and self.roles.get(node) != role
            and name != "BecomePreCandidate"
        ):
            # becomePreCandidate is not traced (raft.go:917); the role shows it happened.
            pre = BecomePreCandidate(node=node)
            out.append(LocatedEvent(source=source, line=line, event=pre))
            self.reported[node] = None
        mid_step = self.previous.get(node, "") in RECEIVE_NAMES
        self.roles[node] = role
        self.previous[node] = name
        last = self.reported.get(node)
        for translated in translate_one(item, mid_step=mid_step):
            if last is not None and translated.state is last and isinstance(translated, Observe):
                # The node reports what its last event reported, and nothing of it has
                # happened since: comparing again could not fail.
                continue
            out.append(LocatedEvent(source=source, line=line, event=translated))
            last = translated.state if isinstance(translated.state, NodeState) else None
        self.reported[node] = last

    def finish_start(self, node: str, out: list[LocatedEvent]) -> None:
        """Append the Init of ``node`` if its start lines are pending."""
        pending = self.starting.pop(node, None)
        if pending is None:
            return
        first_start = node not in self.roles
        self.reported[node] = None
        self.roles[node] = pending[-1].event.role
        self.previous[node] = pending[-1].event.name
        # Placed at the last start line: the state it reports is that line's.
        out.append(located_at(pending[-1], start_of(pending, first_start)))

    def finish(self, out: list[LocatedEvent]) -> None:
        """Append the Inits still pending at the end of the trace."""
        for node in sorted(self.starting):
            self.finish_start(node, out)


def located_at(item: Located, event: RaftEvent) -> LocatedEvent:
    """``event`` placed at ``item``'s file and line."""
    return LocatedEvent(source=item.source, line=item.line, event=event)


def translate_one(item: Located, *, mid_step: bool) -> tuple[RaftEvent, ...]:
    """One etcd trace event (after the node's start) as kubeoracle events."""
    event = item.event
    node = event.nid
    name = event.name
    if name == "BecomeFollower":
        return (BecomeFollower(node=node, state=etcd_state(event, settled=not mid_step)),)
    if name == "BecomeCandidate":
        return (BecomeCandidate(node=node, state=etcd_state(event)),)
    if name == "BecomeLeader":
        return (BecomeLeader(node=node, state=etcd_state(event)),)
    if name == "BecomePreCandidate":  # not traced by etcd-io/raft; kubeoracle's export writes it
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
            Append(node=node, changes=tuple(map(change_of, changes)), config_entry=True),
        )
    if name == "ApplyConfChange":
        state = etcd_state(event)
        if event.conf == NO_CONF:
            # restore() resets the tracker before applying the snapshot's ConfState.
            state = msgspec.structs.replace(state, config=UNSET)
        return (
            Observe(node=node, state=state),
            ApplyConfig(node=node, config=Configuration(voters=newconf_of(event))),
        )
    if event.msg is None:
        raise InputError(
            f"{name} without a msg", source=item.source, line=item.line, field="event.msg"
        )
    message = etcd_message(event.msg, item.source, item.line)
    if name in RECEIVE_NAMES:
        return (Observe(node=node, state=etcd_state(event)), Receive(node=node, message=message))
    granted_vote = message.type == "vote_response" and message.granted is True
    return (Send(node=node, message=message, state=etcd_state(event, vote=not granted_vote)),)
