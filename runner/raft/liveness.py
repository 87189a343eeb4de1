"""The Raft world's liveness phase: a fair, fault-free schedule that must lead to progress."""

from __future__ import annotations

import random
from typing import Final, final

from models.environment import Deliver, DrawRandom, Heal, NodeId, Restart, Tick
from models.raft import Command, ProposalAccepted
from models.raft_world import ClusterAction, Compact, Propose
from runner.raft.cluster import ClusterConfig, ClusterState, NodeSlot
from runner.raft.statistics import LIVENESS_PREFIX
from runner.sim import machines
from runner.sim.world import Applied

DELIVERIES_PER_ROUND_MAX: Final = 200
REPROPOSE_AFTER_STEPS: Final = 200
"""A value accepted but not committed after this many steps (its leader lost leadership) is
proposed again."""


def leader_of(state: ClusterState) -> NodeSlot | None:
    """The up leader with the highest term, if any."""
    best: NodeSlot | None = None
    for node_id in sorted(state.nodes):
        slot = state.nodes[node_id]
        if slot.state is None or slot.state.role != "leader":
            continue
        if best is None or best.state is None or slot.state.term > best.state.term:
            best = slot
    return best


@final
class LivenessDriver:
    """Chooses liveness-phase actions: a fair, fault-free schedule in rounds.

    Before anything else: heal the network, restart crashed nodes, answer random requests.
    Then each round ticks every node once and delivers messages, oldest first, until none is
    ready or ``DELIVERIES_PER_ROUND_MAX`` were delivered (so a message ping-pong cannot stop
    time). Once a leader is known it is asked to commit a value starting with ``liveness:``
    (again if a value it accepted stays uncommitted for ``REPROPOSE_AFTER_STEPS``). A leader
    that must send a snapshot first takes a fresh one, as an application would, so the
    snapshot holds the current configuration.
    """

    def __init__(self, config: ClusterConfig, prng: random.Random) -> None:
        self.config = config
        self.prng = prng
        self.delivered = 0
        self.ticked = 0
        self.accepted_at: int | None = None

    def observe(self, index: int, applied: Applied[ClusterState, tuple[NodeId, Command]]) -> None:
        """Note a proposal the leader accepted."""
        if any(isinstance(command, ProposalAccepted) for _, command in applied.outputs):
            self.accepted_at = index

    def next_action(self, state: ClusterState, index: int) -> ClusterAction:
        """The next action of the fair schedule."""
        repair = _repair(state, self.prng)
        if repair is not None:
            return repair
        node_ids = sorted(state.nodes)
        if self.ticked >= len(node_ids) and self.delivered < DELIVERIES_PER_ROUND_MAX:
            ready = machines.ready_messages(self.config.machines, state)
            if ready:
                self.delivered += 1
                return Deliver(message=ready[0])
        leader = leader_of(state)
        if leader is not None and _needs_fresh_snapshot(leader):
            return Compact(node=leader.node_id)
        retry = self.accepted_at is None or index - self.accepted_at > REPROPOSE_AFTER_STEPS
        if leader is not None and retry:
            self.accepted_at = index
            return Propose(node=leader.node_id, value=f"{LIVENESS_PREFIX}{index}")
        if self.ticked >= len(node_ids):
            self.ticked = 0
            self.delivered = 0
        self.ticked += 1
        return Tick(node=node_ids[self.ticked - 1])


def _repair(state: ClusterState, prng: random.Random) -> ClusterAction | None:
    """Heal, restart the lowest down node, or answer the lowest pending random request."""
    if state.cut_links:
        return Heal()
    for node_id in sorted(state.nodes):
        slot = state.nodes[node_id]
        if slot.state is None:
            return Restart(node=node_id)
        if slot.random_request is not None:
            request = slot.random_request
            return DrawRandom(node=node_id, value=prng.randrange(request.low, request.high))
    return None


def _needs_fresh_snapshot(leader: NodeSlot) -> bool:
    """A follower waits for a snapshot and the leader has applied entries beyond its last one
    (an old snapshot may predate the follower's membership, and the follower refuses it)."""
    state = leader.state
    assert state is not None
    waiting = any(progress.state == "snapshot" for progress in state.progress)
    return waiting and leader.application.applied_index > leader.storage.snapshot.metadata.index
