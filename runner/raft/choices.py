"""The Raft world's safety-phase choices: which actions are enabled in a state, one per kind.

The kernel picks a kind by its swarm weight among those enabled (``runner.sim.swarm``), then
calls that choice's ``make`` with the run's PRNG. So that a step stays cheap, kinds whose
weight is 0 in this run are never considered, and the lists a choice draws from (ready
messages, in-flight messages, membership changes) are built only when that choice is made.

Targeted scenarios are kinds like any other, offered when their moment comes:
``crash_leader_after_commit`` (a leader whose commit index just advanced, with the messages it
has not yet delivered lost: the moment paper Figure 8 is about), ``crash_leader_after_append``
(its new entries stay on it alone), ``crash_after_vote`` (a node that just granted a vote: the
vote must survive the restart), ``isolate_leader``, ``joint_split`` (a partition along a joint
configuration: incoming majority with the leader, outgoing majority on the other side) and
``swap_voter`` (a voter replaced through an explicit joint configuration). Nothing here
depends on the mutant that runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final, final

from models.environment import (
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    Heal,
    NodeId,
    Partition,
    Restart,
    Tick,
)
from models.raft import (
    Command,
    CommitAdvanced,
    ConfState,
    MsgVoteResp,
    ProposalAccepted,
    SendMessage,
)
from models.raft_world import ChangeMembership, ClusterAction, Compact, LeaveJoint, Propose
from models.trace import SwarmOptions
from runner.raft import faults
from runner.raft.cluster import ClusterApplied, ClusterConfig, ClusterState, NodeSlot
from runner.sim import machines
from runner.sim.world import Choice

COMPACT_AFTER_ENTRIES: Final = 6
"""A node may compact once it applied this many entries beyond its snapshot."""
LEADER_PROPOSAL_PROBABILITY: Final = 0.8
"""A client proposal goes to an up leader with this probability, otherwise to any up node."""

Make = Callable[[random.Random], ClusterAction]


@final
class SafetyChoices:
    """Offers the enabled actions; remembers what the scheduler did (never used in replay):
    how many values were proposed, which node ids a membership change removed."""

    def __init__(self, config: ClusterConfig, swarm: SwarmOptions) -> None:
        self.config = config
        self.setup = config.setup
        self.on = frozenset(kind for kind, weight in swarm.weights.items() if weight > 0)
        self.faults_on = bool(swarm.faults)
        self.node_ids = config.node_ids
        self.voters_min = min(3, len(config.initial_conf.voters))
        self.proposals = 0
        self.removed: set[NodeId] = set()

    def choices(self, state: ClusterState, last: ClusterApplied) -> list[Choice[ClusterAction]]:
        """The enabled actions of ``state``, in the catalogue's order. Written for speed: it
        runs at every step, so a kind that is off builds nothing."""
        up: list[NodeId] = []
        down: list[NodeId] = []
        waiting: list[NodeId] = []
        compactable: list[NodeId] = []
        leader: NodeSlot | None = None
        leaders: list[NodeId] = []
        nodes = state.nodes
        for node_id in self.node_ids:
            slot = nodes[node_id]
            node = slot.state
            if node is None:
                down.append(node_id)
                continue
            up.append(node_id)
            if slot.random_request is not None:
                waiting.append(node_id)
            applied = slot.application.applied_index
            if applied - slot.storage.snapshot.metadata.index >= COMPACT_AFTER_ENTRIES:
                compactable.append(node_id)
            if node.role == "leader":
                leaders.append(node_id)
                if leader is None or leader.state is None or node.term > leader.state.term:
                    leader = slot
        out: list[Choice[ClusterAction]] = []
        on = self.on
        config = self.config
        in_flight = state.in_flight
        if "deliver" in on and _any_ready(state):
            out.append(Choice("deliver", lambda p: _deliver(config, state, p)))
        if up:
            if "tick" in on:
                out.append(Choice("tick", lambda p: Tick(node=p.choice(up))))
            if waiting and "random" in on:
                out.append(Choice("random", lambda p: _draw(state, p.choice(waiting), p)))
            if "propose" in on:
                out.append(Choice("propose", lambda p: self._propose(leaders, up, p)))
        if compactable and "compact" in on:
            out.append(Choice("compact", lambda p: Compact(node=p.choice(compactable))))
        if in_flight:
            if "drop" in on:
                out.append(Choice("drop", lambda p: Drop(message=p.choice(sorted(in_flight)))))
            if "duplicate" in on and len(in_flight) < self.setup.max_in_flight:
                copy: Make = lambda p: Duplicate(message=p.choice(sorted(in_flight)))  # noqa: E731
                out.append(Choice("duplicate", copy))

        def add(kind: str, enabled: object, make: Make) -> None:
            if enabled and kind in on:
                out.append(Choice(kind, make))

        self._fault_choices(state, last, up, down, leader, add)
        return out

    def _fault_choices(
        self,
        state: ClusterState,
        last: ClusterApplied,
        up: list[NodeId],
        down: list[NodeId],
        leader: NodeSlot | None,
        add: Callable[[str, object, Make], None],
    ) -> None:
        if not self.faults_on:
            return
        node_ids = self.node_ids
        asymmetric = self.setup.asymmetric_partitions
        can_cut = not state.cut_links and len(node_ids) >= 2
        add("partition", can_cut, lambda p: faults.random_partition(p, node_ids, asymmetric))
        add("heal", state.cut_links, lambda _: Heal())
        room = len(down) < self.setup.max_crashed
        add("crash", up and room, lambda p: Crash(node=p.choice(up)))
        add("restart", down, lambda p: Restart(node=p.choice(down)))
        if room and "crash_after_vote" in self.on:
            voted = sorted({node for node, command in last.outputs if _grants_vote(command)})
            voted = [node for node in voted if state.nodes[node].state is not None]
            add("crash_after_vote", voted, lambda p: Crash(node=p.choice(voted)))
        if leader is not None:
            self._leader_choices(state, last, leader, room, add)

    def _leader_choices(
        self,
        state: ClusterState,
        last: ClusterApplied,
        leader: NodeSlot,
        room: bool,
        add: Callable[[str, object, Make], None],
    ) -> None:
        """The choices that need a leader: targeted crashes and splits, membership changes."""
        assert leader.state is not None
        leader_id = leader.node_id
        mine = [command for node, command in last.outputs if node == leader_id]
        advanced = any(isinstance(command, CommitAdvanced) for command in mine)
        appended = any(isinstance(command, ProposalAccepted) for command in mine)
        add("crash_leader_after_commit", room and advanced, lambda _: Crash(node=leader_id))
        add("crash_leader_after_append", room and appended, lambda _: Crash(node=leader_id))
        others = [node for node in self.node_ids if node != leader_id]
        alone: Make = lambda _: _alone(leader_id, others)  # noqa: E731
        add("isolate_leader", not state.cut_links and others, alone)
        add("isolate_leader_after_commit", advanced and others, alone)
        add("isolate_leader_after_append", appended and others, alone)
        conf = leader.state.conf_state
        if "joint_split" in self.on:  # it replaces any cut in place
            split = faults.configuration_split(leader_id, conf, self.node_ids)
            if split is not None and _behind_configuration(state, split, leader_id):
                cut: Partition = split
                add("joint_split", True, lambda _: cut)
        if leader.state.pending_conf_index > leader.state.applied_index:
            return  # like an operator, wait until the previous change is applied
        if conf.is_joint() and not conf.auto_leave:
            add("leave_joint", True, lambda _: LeaveJoint(node=leader_id))
            return
        self._membership_choices(leader_id, conf, add)

    def _membership_choices(
        self, leader_id: NodeId, conf: ConfState, add: Callable[[str, object, Make], None]
    ) -> None:
        if "conf_change" not in self.on and "swap_voter" not in self.on:
            return
        candidates = tuple(node for node in self.node_ids if node not in self.removed)
        voters_min = self.voters_min
        add(
            "conf_change",
            faults.can_change(leader_id, conf, candidates, voters_min),
            lambda p: self._retire(
                faults.random_conf_change(p, leader_id, conf, candidates, voters_min)
            ),
        )
        add(
            "swap_voter",
            faults.can_swap(leader_id, conf, candidates),
            lambda p: self._retire(faults.voter_swap(p, leader_id, conf, candidates)),
        )

    def _retire(self, change: ChangeMembership) -> ChangeMembership:
        """Remember the nodes this change removes: their ids are never offered again."""
        self.removed.update(item.node for item in change.changes if item.type == "remove_node")
        return change

    def _propose(self, leaders: list[NodeId], up: list[NodeId], prng: random.Random) -> Propose:
        """A client sends a value to a node it believes leads: any up leader (a stale one on
        the minority side of a partition too), or now and then any up node."""
        self.proposals += 1
        to_leader = bool(leaders) and prng.random() < LEADER_PROPOSAL_PROBABILITY
        target = prng.choice(leaders) if to_leader else prng.choice(up)
        return Propose(node=target, value=f"v{self.proposals}")


def _any_ready(state: ClusterState) -> bool:
    """Whether some in-flight message can arrive now (stops at the first)."""
    nodes = state.nodes
    cut = state.cut_links
    for flight in state.in_flight.values():
        message = flight.message
        if nodes[message.to_id].state is not None and (
            not cut or (message.from_id, message.to_id) not in cut
        ):
            return True
    return False


def _deliver(config: ClusterConfig, state: ClusterState, prng: random.Random) -> Deliver:
    return Deliver(message=prng.choice(machines.ready_messages(config.machines, state)))


def _alone(leader_id: NodeId, others: list[NodeId]) -> Partition:
    """Cut every link to and from the leader."""
    links = {(leader_id, node) for node in others} | {(node, leader_id) for node in others}
    return Partition(links=tuple(sorted(links)))


def _grants_vote(command: Command) -> bool:
    """Whether a node sent a vote granted in a real election (not a pre-vote)."""
    return (
        isinstance(command, SendMessage)
        and isinstance(command.message, MsgVoteResp)
        and not command.message.reject
    )


def _draw(state: ClusterState, node_id: NodeId, prng: random.Random) -> DrawRandom:
    request = state.nodes[node_id].random_request
    assert request is not None
    return DrawRandom(node=node_id, value=prng.randrange(request.low, request.high))


def _behind_configuration(state: ClusterState, split: Partition, leader_id: NodeId) -> bool:
    """Whether every up node cut off from the leader's side still uses a configuration that
    is not joint (it has not applied the joint configuration the leader applied)."""
    cut_off = {destination for source, destination in split.links if source == leader_id}
    slots = [state.nodes[node] for node in sorted(cut_off)]
    return all(slot.state is None or not slot.state.conf_state.is_joint() for slot in slots)
