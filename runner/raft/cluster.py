"""A cluster of Raft nodes on the simulated network: ``impl.raft`` hosted in a world of machines.

Theory of operation. The cluster is a :class:`runner.sim.machines.MachinesState` whose slots
hold ``impl.raft`` nodes (:class:`RaftHost` adapts the component to the machines world): each
slot's storage is the node's ``PersistedState`` (written only by its ``Persist*`` commands, so
a node that forgets to persist loses that on a crash), its application is a digest chain over
the entries it applied (:class:`RaftApplication`), and the network carries ``models.raft``
messages. Whether a ``MsgSnap`` arrived or was lost is reported to its sender
(``SnapshotStatusReported``), as etcd's transport does (``ReportSnapshot``): without the report
a leader whose snapshot was refused or whose follower's answer was lost would wait for that
follower forever.

:func:`apply_action` applies one :data:`models.raft_world.ClusterAction` and is deterministic:
the environment's actions go to ``runner.sim.machines``, a client's action (propose, compact,
membership change, read index) becomes an event of the node it names. Random values arrive as
``random`` actions chosen by the simulator. An action that is not enabled in the state gives
:class:`~runner.sim.world.NotEnabled`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, assert_never, final

import msgspec

import impl.raft
from models.environment import (
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    Heal,
    Link,
    NodeId,
    Partition,
    Restart,
    Tick,
)
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
from models.raft_world import (
    ChangeMembership,
    ClusterAction,
    Compact,
    LeaveJoint,
    Propose,
    RaftSetup,
    RequestReadIndex,
)
from models.step import Step
from runner.sim import machines
from runner.sim.machines import (
    AwaitRandom,
    Booted,
    Effect,
    InFlight,
    MachinesConfig,
    MachinesState,
    Persist,
    RandomRequest,
    Report,
    Send,
    Slot,
    Update,
)
from runner.sim.world import Applied, NotEnabled

__all__ = [
    "Applied",
    "ClusterConfig",
    "ClusterState",
    "InFlight",
    "NodeSlot",
    "NotEnabled",
    "RaftApplication",
    "RandomRequest",
    "apply_action",
    "cluster_config",
    "deliverable",
    "initial_state",
    "persisted_after",
]

EMPTY_APPLICATION_DIGEST: Final = "0" * 32


class RaftApplication(msgspec.Struct, frozen=True, kw_only=True):
    """The state machine a node's committed entries drive: how far it applied and a digest
    chain over the entries (two nodes that applied the same entries have the same digest)."""

    applied_index: int = 0
    digest: str = EMPTY_APPLICATION_DIGEST


NodeSlot: TypeAlias = Slot[RaftNodeState, PersistedState, RaftApplication]
ClusterState: TypeAlias = MachinesState[RaftNodeState, PersistedState, RaftApplication, Message]
ClusterApplied: TypeAlias = Applied[ClusterState, tuple[NodeId, Command]]


@final
@dataclass(frozen=True, slots=True)
class RaftHost:
    """``impl.raft`` as a machine of the machines world."""

    config: RaftConfig
    initial_conf: ConfState

    def boot(self) -> Booted[RaftNodeState, PersistedState, RaftApplication, Command]:
        step = impl.raft.init(self.config, None, self.initial_conf)
        return Booted(step.state, step.state.persisted, RaftApplication(), step.commands)

    def restart(
        self, slot: NodeSlot
    ) -> Booted[RaftNodeState, PersistedState, RaftApplication, Command]:
        step = impl.raft.init(self.config, slot.storage, self.initial_conf)
        snapshot = slot.storage.snapshot
        application = RaftApplication(
            applied_index=snapshot.metadata.index, digest=_snapshot_digest(snapshot.data)
        )
        return Booted(step.state, slot.storage, application, step.commands)

    def handle(self, state: RaftNodeState, event: Event) -> Step[RaftNodeState, Command]:
        return impl.raft.on_event(self.config, state, event)

    def tick(self) -> Event:
        return TickEvent()

    def receive(self, message: Message) -> Event:
        return MessageReceived(message=message)

    def random(self, value: int) -> Event:
        return RandomDrawn(value=value)

    def effect(self, slot: NodeSlot, command: Command) -> Effect:
        """Persist, send, wait for a random value, apply; the rest are reports."""
        match command:
            case SendMessage(message=message):
                return Send(message)
            case PersistHardState() | PersistEntries() | PersistSnapshot():
                return Persist(persisted_after(slot.storage, command))
            case RequestRandom(low=low, high=high):
                return AwaitRandom(low, high)
            case ApplyEntries(entries=entries):
                return Update(_apply_entries(slot.application, entries))
            case ApplySnapshot(snapshot=snapshot):
                return Update(
                    RaftApplication(
                        applied_index=snapshot.metadata.index,
                        digest=_snapshot_digest(snapshot.data),
                    )
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
                return Report()
            case _:
                assert_never(command)


def route(message: Message) -> Link:
    """A Raft message goes from its sender to its recipient."""
    return (message.from_id, message.to_id)


def report_snapshot(message: Message, delivered: bool) -> tuple[NodeId, Any] | None:
    """etcd's ``ReportSnapshot``: the sender of a ``MsgSnap`` learns whether it arrived."""
    if isinstance(message, MsgSnap):
        return message.from_id, SnapshotStatusReported(node_id=message.to_id, failed=not delivered)
    return None


@final
@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """The fixed parameters of a run's cluster, derived from its :class:`RaftSetup`."""

    setup: RaftSetup
    node_configs: dict[NodeId, RaftConfig]
    initial_conf: ConfState
    max_in_flight: int
    machines: MachinesConfig

    @property
    def node_ids(self) -> tuple[NodeId, ...]:
        return tuple(sorted(self.node_configs))


def cluster_config(setup: RaftSetup, max_in_flight: int | None = None) -> ClusterConfig:
    """Node configurations for ``setup``: voters ``1..nodes``, spare slots after them; the
    network holds ``max_in_flight`` messages (default: the setup's)."""
    assert 1 <= setup.nodes <= 9, "a cluster has 1 to 9 initial voters"
    assert 0 <= setup.spare_nodes <= 9 - setup.nodes, "at most 9 node slots"
    capacity = setup.max_in_flight if max_in_flight is None else max_in_flight
    assert capacity >= 1
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
    hosts = {node_id: RaftHost(config, initial_conf) for node_id, config in configs.items()}
    network = MachinesConfig(
        hosts=hosts, route=route, max_in_flight=capacity, transport_report=report_snapshot
    )
    return ClusterConfig(setup, configs, initial_conf, capacity, network)


def initial_state(config: ClusterConfig) -> ClusterApplied:
    """Every node slot started fresh with the bootstrap configuration."""
    return machines.start(config.machines)


def deliverable(config: ClusterConfig, state: ClusterState, message_id: int) -> bool:
    """Whether the message can arrive now: its destination is up and its link is not cut."""
    return machines.deliverable(config.machines, state, message_id)


def apply_action(
    config: ClusterConfig, state: ClusterState, action: ClusterAction
) -> ClusterApplied | NotEnabled:
    """Apply one action (see the module docstring for the semantics)."""
    network = config.machines
    match action:
        case (
            Deliver()
            | Drop()
            | Duplicate()
            | Tick()
            | Crash()
            | Restart()
            | Partition()
            | Heal()
            | DrawRandom()
        ):
            return machines.apply_environment(network, state, action)
        case Propose(node=node_id, value=value):
            return machines.inject(network, state, node_id, ProposeEvent(data=value.encode()))
        case Compact(node=node_id):
            return _compact(config, state, node_id)
        case ChangeMembership(node=node_id, changes=changes, transition=transition):
            singles = tuple(ConfChangeSingle(type=c.type, node_id=c.node) for c in changes)
            change = ConfChangeV2(transition=transition, changes=singles)
            return machines.inject(network, state, node_id, ProposeConfChange(change=change))
        case LeaveJoint(node=node_id):
            leave = ProposeConfChange(change=ConfChangeV2())
            return machines.inject(network, state, node_id, leave)
        case RequestReadIndex(node=node_id, context=context):
            read = ReadIndexRequested(context=context.encode())
            return machines.inject(network, state, node_id, read)
        case _:
            assert_never(action)


def _compact(
    config: ClusterConfig, state: ClusterState, node_id: NodeId
) -> ClusterApplied | NotEnabled:
    """The node's application snapshots its applied state; the node compacts its log."""
    refusal = machines.up_node_refusal(state, node_id)
    if refusal is not None:
        return NotEnabled(refusal)
    slot = state.nodes[node_id]
    application = slot.application
    if application.applied_index <= slot.storage.snapshot.metadata.index:
        return NotEnabled(f"node {node_id} has applied nothing beyond its snapshot")
    event = CreateSnapshot(index=application.applied_index, data=application.digest.encode())
    return machines.inject(config.machines, state, node_id, event)


def persisted_after(
    storage: PersistedState, command: PersistHardState | PersistEntries | PersistSnapshot
) -> PersistedState:
    """What a node's storage holds after one of its persistence commands (any host of
    ``impl.raft``, an etcd member too, writes its storage this way)."""
    match command:
        case PersistHardState(term=term, vote=vote, commit_index=commit_index):
            return msgspec.structs.replace(storage, term=term, vote=vote, commit_index=commit_index)
        case PersistEntries(entries=entries):
            return _append(storage, entries)
        case PersistSnapshot(snapshot=snapshot):
            return _store_snapshot(storage, snapshot)
        case _:
            assert_never(command)


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


def _apply_entries(application: RaftApplication, entries: tuple[Entry, ...]) -> RaftApplication:
    digest = application.digest
    index = application.applied_index
    for entry in entries:
        assert entry.index == index + 1, "entries are applied in order, without gaps"
        digest = _chain(digest, entry)
        index = entry.index
    return RaftApplication(applied_index=index, digest=digest)


def _snapshot_digest(data: bytes) -> str:
    return data.decode() if data else EMPTY_APPLICATION_DIGEST
