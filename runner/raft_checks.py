"""The invariants checked at every step of a run, through ``spec.raft``.

:class:`RaftChecker` turns a :class:`~runner.raft_cluster.ClusterState` into the
``models.raft.ClusterObservation`` the spec judges (an up node is observed whole, a down node
by its storage only), passes it to the spec, and records the first step at which each
``sometimes`` property held (coverage: a safety property whose situation never arose was
checked vacuously).
"""

from __future__ import annotations

from typing import final

from models.raft import ClusterObservation, NodeObservation, observe_down_node, observe_node
from runner.raft_cluster import ClusterState, NodeSlot
from spec.property import Violation

__all__ = ["RaftChecker", "Violation", "observe_cluster"]


@final
class RaftChecker:
    """Checks each state of a run against every invariant; remembers coverage."""

    def __init__(self) -> None:
        self._observed: dict[int, tuple[NodeSlot, NodeObservation]] = {}
        self.coverage: dict[str, int | None] = {}

    def observe(self, state: ClusterState) -> ClusterObservation:
        """The spec's view of ``state`` (node observations are reused while a slot is
        unchanged)."""
        nodes = []
        for node_id in sorted(state.nodes):
            slot = state.nodes[node_id]
            cached = self._observed.get(node_id)
            if cached is not None and cached[0] is slot:
                nodes.append(cached[1])
                continue
            observation = (
                observe_node(slot.state)
                if slot.state is not None
                else observe_down_node(node_id, slot.storage)
            )
            self._observed[node_id] = (slot, observation)
            nodes.append(observation)
        return ClusterObservation(nodes=tuple(nodes))

    def check(self, state: ClusterState, step: int) -> tuple[Violation, ...]:
        """Every invariant broken in ``state`` (empty when all hold)."""
        observation = self.observe(state)
        if any(node.role == "leader" for node in observation.nodes):
            self.coverage.setdefault("leader_elected", step)
        return _election_safety(observation)


def observe_cluster(state: ClusterState) -> ClusterObservation:
    """The spec's view of ``state``."""
    return RaftChecker().observe(state)


def _election_safety(observation: ClusterObservation) -> tuple[Violation, ...]:
    """Provisional until spec.raft lands: at most one leader per term."""
    leaders: dict[int, list[int]] = {}
    for node in observation.nodes:
        if node.role == "leader":
            leaders.setdefault(node.term, []).append(node.node_id)
    return tuple(
        Violation(
            property_name="election_safety",
            nodes=tuple(ids),
            reason=f"{len(ids)} leaders in term {term}",
        )
        for term, ids in sorted(leaders.items())
        if len(ids) > 1
    )
