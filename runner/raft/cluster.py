"""A cluster of Raft nodes and the network between them, as data.

Theory of operation. :class:`ClusterState` holds every node slot (up with its
``RaftNodeState``, or down), what each node's storage holds (written only by the node's
``Persist*`` commands, so a node that forgets to persist loses that on a crash), the random
draw each node is waiting for, each node's application state (a digest chain over the entries
it applied), the messages in flight (by id), and the directed links a partition cuts.

:func:`apply_action` applies one :data:`models.trace.ClusterAction` and is deterministic: the
same state and action give the same new state. Nothing here draws randomness: random values
arrive as ``random`` actions, chosen by the simulator from the run's PRNG. An action that is not
enabled in the state (a message not in flight, a tick at a down node) gives
:class:`NotEnabled`, so a replay of an edited trace reports it instead of crashing.

Network semantics: a message sent on a cut link, to a down node or to a full network is lost;
a partition also loses the messages in flight on the links it cuts; a crash loses the messages
in flight to and from the crashed node (a transport's queues live in the process). Anything
else in flight can be delivered in any order (delay, reordering), dropped, or duplicated.
Whether a ``MsgSnap`` arrived or was lost is reported to its sender
(``SnapshotStatusReported``), as etcd's transport does (``ReportSnapshot``): without the report
a leader whose snapshot was refused or whose follower's answer was lost would wait for that
follower forever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, assert_never, final

import immutables
import msgspec

import impl.raft
from models.raft import (
    ApplyEntries,
    ApplySnapshot,
    Command,
    CommitAdvanced,
    ConfChangeApplied,
    ConfChangeSingle,
    ConfChangeV2,
    ConfState,
    CreateSnapshot,
    Entry,
    Event,
    Message,
    MessageReceived,
    MsgSnap,
    PersistedState,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    ProposalAccepted,
    ProposalRejected,
    ProposeConfChange,
    RaftConfig,
    RaftMutant,
    RaftNodeState,
    RandomDrawn,
    ReadIndexDropped,
    ReadIndexReady,
    ReadIndexRequested,
    RequestRandom,
    RoleChanged,
    SendMessage,
    Snapshot,
    SnapshotStatusReported,
)
from models.raft import Propose as ProposeEvent
from models.raft import Tick as TickEvent
from models.trace import (
    ChangeMembership,
    ClusterAction,
    Compact,
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    Heal,
    LeaveJoint,
    Link,
    NodeId,
    Partition,
    Propose,
    RaftSetup,
    RequestReadIndex,
    Restart,
    Tick,
)

EVENTS_PER_ACTION_MAX: Final = 64
"""A bound on the events one action can cause (the action's own plus transport reports)."""
EMPTY_APPLICATION_DIGEST: Final = "0" * 32


class RandomRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A node waits for a uniform random integer in ``[low, high)``."""

    low: int
    high: int


class NodeSlot(msgspec.Struct, frozen=True, kw_only=True):
    """One node: its state while up (``None`` while down), its storage, the random draw it
    waits for, and its application state (entries applied, digest chain over them)."""

    node_id: NodeId
    state: RaftNodeState | None
    storage: PersistedState
    random_request: RandomRequest | None = None
    applied_index: int = 0
    application_digest: str = EMPTY_APPLICATION_DIGEST


class InFlight(msgspec.Struct, frozen=True, kw_only=True):
    """A message the network holds."""

    message: Message


class ClusterState(msgspec.Struct, frozen=True, kw_only=True):
    """Every node and the network."""

    nodes: immutables.Map[NodeId, NodeSlot]
    in_flight: immutables.Map[int, InFlight]
    next_message_id: int = 1
    cut_links: tuple[Link, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """The fixed parameters of a run's cluster, derived from its :class:`RaftSetup`."""

    setup: RaftSetup
    node_configs: dict[NodeId, RaftConfig]
    initial_conf: ConfState
    max_in_flight: int

    @property
    def node_ids(self) -> tuple[NodeId, ...]:
        return tuple(sorted(self.node_configs))


def cluster_config(setup: RaftSetup, max_in_flight: int) -> ClusterConfig:
    """Node configurations for ``setup``: voters ``1..nodes``, spare slots after them."""
    assert 1 <= setup.nodes <= 9, "a cluster has 1 to 9 initial voters"
    assert 0 <= setup.spare_nodes <= 9 - setup.nodes, "at most 9 node slots"
    assert max_in_flight >= 1
    mutant = None if setup.mutant == "none" else RaftMutant(setup.mutant)
    configs = {
        node_id: RaftConfig(
            node_id=node_id,
            election_timeout_ticks=setup.election_timeout_ticks,
            heartbeat_interval_ticks=setup.heartbeat_interval_ticks,
            pre_vote=setup.pre_vote,
            check_quorum=setup.check_quorum,
            max_entries_per_append=setup.max_entries_per_append,
            max_inflight_appends=setup.max_inflight_appends,
            mutant=mutant,
        )
        for node_id in range(1, setup.nodes + setup.spare_nodes + 1)
    }
    initial_conf = ConfState(voters=tuple(range(1, setup.nodes + 1)))
    return ClusterConfig(setup, configs, initial_conf, max_in_flight)


@final
@dataclass(frozen=True, slots=True)
class Applied:
    """An action's result: the new state and every command each node produced, in order."""

    state: ClusterState
    commands: tuple[tuple[NodeId, Command], ...]


@final
@dataclass(frozen=True, slots=True)
class NotEnabled:
    """The action cannot happen in this state, and why."""

    reason: str


@dataclass(slots=True)
class _Work:
    """The mutable scratch of one action: the state so far, commands, pending events."""

    state: ClusterState
    commands: list[tuple[NodeId, Command]] = field(default_factory=list)
    events: list[tuple[NodeId, Event]] = field(default_factory=list)


def initial_state(config: ClusterConfig) -> Applied:
    """Every node slot started fresh with the bootstrap configuration."""
    work = _Work(ClusterState(nodes=immutables.Map(), in_flight=immutables.Map()))
    for node_id in config.node_ids:
        step = impl.raft.init(config.node_configs[node_id], None, config.initial_conf)
        slot = NodeSlot(node_id=node_id, state=step.state, storage=step.state.persisted)
        work.state = _with_slot(work.state, slot)
        _carry_out(config, work, node_id, step.commands)
    _drain(config, work)
    return Applied(work.state, tuple(work.commands))


def _with_slot(state: ClusterState, slot: NodeSlot) -> ClusterState:
    return msgspec.structs.replace(state, nodes=state.nodes.set(slot.node_id, slot))


def _link_cut(state: ClusterState, source: NodeId, destination: NodeId) -> bool:
    return (source, destination) in state.cut_links


def deliverable(state: ClusterState, message_id: int) -> bool:
    """Whether the message can arrive now: its destination is up and its link is not cut."""
    flight = state.in_flight.get(message_id)
    if flight is None:
        return False
    message = flight.message
    slot = state.nodes.get(message.to_id)
    return (
        slot is not None
        and slot.state is not None
        and not _link_cut(state, message.from_id, message.to_id)
    )


def apply_action(
    config: ClusterConfig, state: ClusterState, action: ClusterAction
) -> Applied | NotEnabled:
    """Apply one action (see the module docstring for the semantics)."""
    work = _Work(state)
    refusal = _start(config, work, action)
    if refusal is not None:
        return NotEnabled(refusal)
    _drain(config, work)
    return Applied(work.state, tuple(work.commands))


def _up_node(work: _Work, node_id: NodeId) -> str | None:
    slot = work.state.nodes.get(node_id)
    if slot is None:
        return f"node {node_id} does not exist"
    if slot.state is None:
        return f"node {node_id} is down"
    return None


def _start(config: ClusterConfig, work: _Work, action: ClusterAction) -> str | None:
    """Begin ``action``: queue its events or change the environment; a reason if not enabled."""
    match action:
        case Deliver(message=message_id):
            return _deliver(work, message_id)
        case Drop(message=message_id):
            return _drop(work, message_id)
        case Duplicate(message=message_id):
            return _duplicate(config, work, message_id)
        case Tick(node=node_id):
            return _queue(work, node_id, TickEvent())
        case Propose(node=node_id, value=value):
            return _queue(work, node_id, ProposeEvent(data=value.encode()))
        case Crash(node=node_id):
            return _crash(work, node_id)
        case Restart(node=node_id):
            return _restart(config, work, node_id)
        case Partition(links=links):
            return _partition(config, work, links)
        case Heal():
            work.state = msgspec.structs.replace(work.state, cut_links=())
            return None
        case DrawRandom(node=node_id, value=value):
            return _draw_random(work, node_id, value)
        case Compact(node=node_id):
            return _compact(work, node_id)
        case ChangeMembership(node=node_id, changes=changes, transition=transition):
            singles = tuple(ConfChangeSingle(type=c.type, node_id=c.node) for c in changes)
            change = ConfChangeV2(transition=transition, changes=singles)
            return _queue(work, node_id, ProposeConfChange(change=change))
        case LeaveJoint(node=node_id):
            return _queue(work, node_id, ProposeConfChange(change=ConfChangeV2()))
        case RequestReadIndex(node=node_id, context=context):
            return _queue(work, node_id, ReadIndexRequested(context=context.encode()))
        case _:
            assert_never(action)


def _queue(work: _Work, node_id: NodeId, event: Event) -> str | None:
    refusal = _up_node(work, node_id)
    if refusal is None:
        work.events.append((node_id, event))
    return refusal


def _deliver(work: _Work, message_id: int) -> str | None:
    flight = work.state.in_flight.get(message_id)
    if flight is None:
        return f"message {message_id} is not in flight"
    if not deliverable(work.state, message_id):
        return f"message {message_id} cannot arrive: node {flight.message.to_id} is down or cut off"
    in_flight = work.state.in_flight.delete(message_id)
    work.state = msgspec.structs.replace(work.state, in_flight=in_flight)
    message = flight.message
    work.events.append((message.to_id, MessageReceived(message=message)))
    if isinstance(message, MsgSnap) and _up_node(work, message.from_id) is None:
        report = SnapshotStatusReported(node_id=message.to_id, failed=False)
        work.events.append((message.from_id, report))
    return None


def _drop(work: _Work, message_id: int) -> str | None:
    flight = work.state.in_flight.get(message_id)
    if flight is None:
        return f"message {message_id} is not in flight"
    in_flight = work.state.in_flight.delete(message_id)
    work.state = msgspec.structs.replace(work.state, in_flight=in_flight)
    _report_lost(work, flight.message)
    return None


def _duplicate(config: ClusterConfig, work: _Work, message_id: int) -> str | None:
    flight = work.state.in_flight.get(message_id)
    if flight is None:
        return f"message {message_id} is not in flight"
    if len(work.state.in_flight) >= config.max_in_flight:
        return "the network is full"
    _add_in_flight(work, flight.message)
    return None


def _report_lost(work: _Work, message: Message) -> None:
    """A lost snapshot is reported to its sender (etcd ``ReportSnapshot``)."""
    if isinstance(message, MsgSnap) and _up_node(work, message.from_id) is None:
        report = SnapshotStatusReported(node_id=message.to_id, failed=True)
        work.events.append((message.from_id, report))


def _add_in_flight(work: _Work, message: Message) -> None:
    state = work.state
    message_id = state.next_message_id
    work.state = msgspec.structs.replace(
        state,
        in_flight=state.in_flight.set(message_id, InFlight(message=message)),
        next_message_id=message_id + 1,
    )


def _crash(work: _Work, node_id: NodeId) -> str | None:
    refusal = _up_node(work, node_id)
    if refusal is not None:
        return refusal
    slot = work.state.nodes[node_id]
    down = msgspec.structs.replace(slot, state=None, random_request=None)
    lost = [
        mid
        for mid, flight in work.state.in_flight.items()
        if node_id in (flight.message.to_id, flight.message.from_id)
    ]
    in_flight = work.state.in_flight
    for message_id in sorted(lost):
        in_flight = in_flight.delete(message_id)
    work.state = msgspec.structs.replace(
        work.state, nodes=work.state.nodes.set(node_id, down), in_flight=in_flight
    )
    return None


def _restart(config: ClusterConfig, work: _Work, node_id: NodeId) -> str | None:
    slot = work.state.nodes.get(node_id)
    if slot is None:
        return f"node {node_id} does not exist"
    if slot.state is not None:
        return f"node {node_id} is up"
    step = impl.raft.init(config.node_configs[node_id], slot.storage, config.initial_conf)
    snapshot = slot.storage.snapshot
    restarted = msgspec.structs.replace(
        slot,
        state=step.state,
        applied_index=snapshot.metadata.index,
        application_digest=_snapshot_digest(snapshot.data),
    )
    work.state = _with_slot(work.state, restarted)
    _carry_out(config, work, node_id, step.commands)
    return None


def _partition(config: ClusterConfig, work: _Work, links: tuple[Link, ...]) -> str | None:
    nodes = set(config.node_ids)
    for source, destination in links:
        if source not in nodes or destination not in nodes or source == destination:
            return f"link {source}->{destination} is not a link between two cluster nodes"
    cut = tuple(sorted(set(links)))
    if cut != links:
        return "links must be sorted and distinct"
    lost = [
        (mid, f.message)
        for mid, f in work.state.in_flight.items()
        if (f.message.from_id, f.message.to_id) in set(cut)
    ]
    in_flight = work.state.in_flight
    for message_id, message in sorted(lost, key=lambda pair: pair[0]):
        in_flight = in_flight.delete(message_id)
        _report_lost(work, message)
    work.state = msgspec.structs.replace(work.state, in_flight=in_flight, cut_links=cut)
    return None


def _draw_random(work: _Work, node_id: NodeId, value: int) -> str | None:
    refusal = _up_node(work, node_id)
    if refusal is not None:
        return refusal
    slot = work.state.nodes[node_id]
    request = slot.random_request
    if request is None:
        return f"node {node_id} has not asked for a random value"
    if not request.low <= value < request.high:
        return f"value {value} is outside [{request.low}, {request.high})"
    work.state = _with_slot(work.state, msgspec.structs.replace(slot, random_request=None))
    work.events.append((node_id, RandomDrawn(value=value)))
    return None


def _compact(work: _Work, node_id: NodeId) -> str | None:
    refusal = _up_node(work, node_id)
    if refusal is not None:
        return refusal
    slot = work.state.nodes[node_id]
    if slot.applied_index <= slot.storage.snapshot.metadata.index:
        return f"node {node_id} has applied nothing beyond its snapshot"
    data = slot.application_digest.encode()
    work.events.append((node_id, CreateSnapshot(index=slot.applied_index, data=data)))
    return None


def _drain(config: ClusterConfig, work: _Work) -> None:
    """Feed the queued events to their nodes, in order, carrying out the commands."""
    handled = 0
    while work.events:
        handled += 1
        assert handled <= EVENTS_PER_ACTION_MAX, "an action caused too many events"
        node_id, event = work.events.pop(0)
        slot = work.state.nodes[node_id]
        if slot.state is None:
            continue
        step = impl.raft.on_event(config.node_configs[node_id], slot.state, event)
        work.state = _with_slot(work.state, msgspec.structs.replace(slot, state=step.state))
        _carry_out(config, work, node_id, step.commands)


def _carry_out(
    config: ClusterConfig, work: _Work, node_id: NodeId, commands: Iterable[Command]
) -> None:
    """Do what a node asked, in order: persist, send, wait for a random value, apply."""
    slot = work.state.nodes[node_id]
    for command in commands:
        work.commands.append((node_id, command))
        match command:
            case SendMessage(message=message):
                work.state = _with_slot(work.state, slot)
                _send(config, work, message)
                slot = work.state.nodes[node_id]
            case PersistHardState(term=term, vote=vote, commit_index=commit_index):
                storage = msgspec.structs.replace(
                    slot.storage, term=term, vote=vote, commit_index=commit_index
                )
                slot = msgspec.structs.replace(slot, storage=storage)
            case PersistEntries(entries=entries):
                slot = msgspec.structs.replace(slot, storage=_append(slot.storage, entries))
            case PersistSnapshot(snapshot=snapshot):
                storage = _store_snapshot(slot.storage, snapshot)
                slot = msgspec.structs.replace(slot, storage=storage)
            case RequestRandom(low=low, high=high):
                assert low < high, "an empty random range"
                slot = msgspec.structs.replace(
                    slot, random_request=RandomRequest(low=low, high=high)
                )
            case ApplyEntries(entries=entries):
                slot = _apply_entries(slot, entries)
            case ApplySnapshot(snapshot=snapshot):
                slot = msgspec.structs.replace(
                    slot,
                    applied_index=snapshot.metadata.index,
                    application_digest=_snapshot_digest(snapshot.data),
                )
            case (
                ProposalAccepted()
                | ProposalRejected()
                | ReadIndexReady()
                | ReadIndexDropped()
                | CommitAdvanced()
                | ConfChangeApplied()
                | RoleChanged()
            ):
                pass  # reports for the runner's observers (statistics, liveness, exports)
            case _:
                assert_never(command)
    work.state = _with_slot(work.state, slot)


def _send(config: ClusterConfig, work: _Work, message: Message) -> None:
    destination = work.state.nodes.get(message.to_id)
    lost = (
        destination is None
        or destination.state is None
        or _link_cut(work.state, message.from_id, message.to_id)
        or len(work.state.in_flight) >= config.max_in_flight
    )
    if lost:
        _report_lost(work, message)
    else:
        _add_in_flight(work, message)


def _append(storage: PersistedState, entries: tuple[Entry, ...]) -> PersistedState:
    """Delete stored entries from the first new index on, then append (``PersistEntries``)."""
    if not entries:
        return storage
    first = entries[0].index
    keep = first - storage.first_index()
    assert 0 <= keep <= len(storage.log), "entries must follow the stored log"
    return msgspec.structs.replace(storage, log=storage.log[:keep] + entries)


def _store_snapshot(storage: PersistedState, snapshot: Snapshot) -> PersistedState:
    """Keep the log entries after the snapshot when they extend it, otherwise none."""
    index = snapshot.metadata.index
    entry = storage.entry_at(index)
    matches = entry is not None and entry.term == snapshot.metadata.term
    log = tuple(e for e in storage.log if e.index > index) if matches else ()
    return msgspec.structs.replace(storage, snapshot=snapshot, log=log)


def _chain(digest: str, entry: Entry) -> str:
    payload = f"{digest}:{entry.index}:{entry.kind}:".encode() + entry.data
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def _apply_entries(slot: NodeSlot, entries: tuple[Entry, ...]) -> NodeSlot:
    digest = slot.application_digest
    index = slot.applied_index
    for entry in entries:
        assert entry.index == index + 1, "entries are applied in order, without gaps"
        digest = _chain(digest, entry)
        index = entry.index
    return msgspec.structs.replace(slot, applied_index=index, application_digest=digest)


def _snapshot_digest(data: bytes) -> str:
    return data.decode() if data else EMPTY_APPLICATION_DIGEST
