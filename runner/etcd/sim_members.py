"""etcd member machines hosted in the kernel's machines world (``runner.sim.machines``).

Theory of operation. :class:`MemberHost` adapts ``impl.etcd.member`` to the machines world: a
slot's state is the member's :class:`~impl.etcd.member_state.MemberState`, its storage the Raft
``PersistedState`` (written only by the member's ``Persist*`` commands, through the same
function as a Raft node's, so a member that forgot to persist loses it on a crash), and its
application the member's clock as it was when the member went down (:class:`MemberClock`: a
restarted member's clock goes on from there; the world sets it at the crash). The network
carries Raft messages and forwarded proposals; a ``MsgSnap`` that arrives or is lost is
reported to its sender, as etcd's transport does. A ``Reply`` only informs the world, which
hands it to the client waiting for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias, assert_never, final

import msgspec

from impl.etcd import member
from impl.etcd.member_state import MemberState
from models.environment import Link, NodeId
from models.etcd_member import (
    ClockTicked,
    MemberCommand,
    MemberConfig,
    MemberEvent,
    PeerMessage,
    PeerMessageReceived,
    RandomValue,
    Reply,
    SendForward,
    TransportReported,
)
from models.etcd_world import EtcdSetup
from models.raft import (
    ConfState,
    MsgSnap,
    PersistedState,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    RaftConfig,
    RequestRandom,
    SendMessage,
    SnapshotStatusReported,
)
from models.step import Step
from runner.raft.cluster import persisted_after
from runner.sim.machines import (
    AwaitRandom,
    Booted,
    Effect,
    MachinesConfig,
    MachinesState,
    Persist,
    Report,
    Send,
    Slot,
)


class MemberClock(msgspec.Struct, frozen=True, kw_only=True):
    """A member's clock when it last went down (its restart continues from it)."""

    now_ms: int = 0


MemberSlot: TypeAlias = Slot[MemberState, PersistedState, MemberClock]
MembersState: TypeAlias = MachinesState[MemberState, PersistedState, MemberClock, PeerMessage]


@final
@dataclass(frozen=True, slots=True)
class MemberHost:
    """``impl.etcd.member`` as a machine of the machines world."""

    config: MemberConfig
    initial_conf: ConfState

    def boot(self) -> Booted[MemberState, PersistedState, MemberClock, MemberCommand]:
        step = member.init(self.config, None, self.initial_conf, 0)
        return Booted(step.state, step.state.raft.persisted, MemberClock(), step.commands)

    def restart(
        self, slot: MemberSlot
    ) -> Booted[MemberState, PersistedState, MemberClock, MemberCommand]:
        now_ms = slot.application.now_ms
        step = member.init(self.config, slot.storage, self.initial_conf, now_ms)
        return Booted(step.state, slot.storage, slot.application, step.commands)

    def handle(self, state: MemberState, event: MemberEvent) -> Step[MemberState, MemberCommand]:
        return member.on_event(self.config, state, event)

    def tick(self) -> MemberEvent:
        return ClockTicked()

    def receive(self, message: PeerMessage) -> MemberEvent:
        return PeerMessageReceived(message=message)

    def random(self, value: int) -> MemberEvent:
        return RandomValue(value=value)

    def effect(self, slot: MemberSlot, command: MemberCommand) -> Effect:
        """Send, persist, wait for a random value; a reply is for the world to hand over."""
        match command:
            case SendMessage(message=message):
                return Send(message)
            case SendForward(message=forward):
                return Send(forward)
            case PersistHardState() | PersistEntries() | PersistSnapshot():
                return Persist(persisted_after(slot.storage, command))
            case RequestRandom(low=low, high=high):
                return AwaitRandom(low, high)
            case Reply():
                return Report()
            case _:
                assert_never(command)


def route(message: PeerMessage) -> Link:
    """A peer message goes from its sender to its recipient."""
    return (message.from_id, message.to_id)


def report_snapshot(message: PeerMessage, delivered: bool) -> tuple[NodeId, Any] | None:
    """etcd's ``ReportSnapshot``: the sender of a ``MsgSnap`` learns whether it arrived."""
    if isinstance(message, MsgSnap):
        report = SnapshotStatusReported(node_id=message.to_id, failed=not delivered)
        return message.from_id, TransportReported(report=report)
    return None


def member_config(setup: EtcdSetup, node_id: NodeId) -> MemberConfig:
    """Member ``node_id``'s configuration from the run's setup."""
    raft = RaftConfig(
        node_id=node_id,
        election_timeout_ticks=setup.election_timeout_ticks,
        heartbeat_interval_ticks=1,
        pre_vote=setup.pre_vote,
        check_quorum=setup.check_quorum,
    )
    return MemberConfig(
        raft=raft,
        tick_ms=setup.tick_ms,
        request_timeout_ms=setup.request_timeout_ms,
        snapshot_every_entries=setup.snapshot_every_entries,
        mutant=setup.etcd_mutant(),
    )


def machines_config(setup: EtcdSetup) -> MachinesConfig:
    """The machines world of the run's members: ids ``1..members``, all voters."""
    conf = ConfState(voters=tuple(range(1, setup.members + 1)))
    hosts = {node: MemberHost(member_config(setup, node), conf) for node in conf.voters}
    return MachinesConfig(
        hosts=hosts,
        route=route,
        max_in_flight=setup.max_in_flight,
        transport_report=report_snapshot,
    )
