"""The Raft world's checker: every invariant of ``spec.raft`` at every step.

:class:`RaftChecker` (a :class:`runner.sim.world.Checker`) turns a
:class:`~runner.raft.cluster.ClusterState` into the ``models.raft.ClusterObservation`` the spec
judges (an up node is observed whole, a down node by its storage only), passes it to the spec,
and records the first step at which each ``sometimes`` property held (coverage: a safety
property whose situation never arose was checked vacuously).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, final

from models.environment import NodeId
from models.raft import (
    ClusterObservation,
    Command,
    NodeObservation,
    PersistedState,
    RaftNodeState,
    observe_down_node,
    observe_node,
)
from models.raft_world import ClusterAction
from runner.raft.cluster import ClusterState
from runner.sim.machines import MachinesState
from spec.property import Violation
from spec.raft import COMPANIONS, SAFETY, RaftHistory, check_step

__all__ = ["RaftChecker", "Violation", "observe_cluster"]


@final
class RaftChecker:
    """Checks each state of a run against every safety property of ``spec.raft``; remembers
    the first step each ``sometimes`` companion was seen."""

    def __init__(self, raft_of: Callable[[Any], RaftNodeState] | None = None) -> None:
        """``raft_of``: the Raft node inside a slot's machine state, for a component that
        hosts one (an etcd member); by default the slot holds the Raft node itself."""
        self._raft_of = raft_of
        self._observed: dict[int, tuple[object, NodeObservation]] = {}
        self.history = RaftHistory()
        self.sometimes_at: dict[str, int | None] = {prop.name: None for prop in COMPANIONS}
        self.invariants: tuple[str, ...] = tuple(prop.name for prop in SAFETY)

    def observe(self, state: MachinesState[Any, PersistedState, Any, Any]) -> ClusterObservation:
        """The spec's view of ``state`` (node observations are reused while a slot is
        unchanged). The network counts as partitioned while any link is cut."""
        nodes = []
        for node_id in sorted(state.nodes):
            slot = state.nodes[node_id]
            cached = self._observed.get(node_id)
            if cached is not None and cached[0] is slot:
                nodes.append(cached[1])
                continue
            raft = slot.state
            if raft is not None and self._raft_of is not None:
                raft = self._raft_of(raft)
            observation = (
                observe_node(raft) if raft is not None else observe_down_node(node_id, slot.storage)
            )
            self._observed[node_id] = (slot, observation)
            nodes.append(observation)
        return ClusterObservation(nodes=tuple(nodes), partitioned=bool(state.cut_links))

    def start(self, state: ClusterState) -> tuple[Violation, ...]:
        """The initial state's violations."""
        return self.check(state, 0)

    def step(
        self,
        index: int,
        action: ClusterAction,
        before: ClusterState,
        after: ClusterState,
        outputs: tuple[tuple[NodeId, Command], ...],
    ) -> tuple[Violation, ...]:
        """The violations after step ``index``."""
        del action, before, outputs
        return self.check(after, index)

    def finish(self, state: ClusterState, index: int) -> tuple[Violation, ...]:
        """Nothing is judged on a Raft run as a whole: every invariant is a state property."""
        del state, index
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        """The first step each ``sometimes`` companion held at."""
        return self.sometimes_at

    def check(
        self, state: MachinesState[Any, PersistedState, Any, Any], step: int
    ) -> tuple[Violation, ...]:
        """Every safety property broken in ``state`` (empty when all hold). Call once per
        step, in order: the spec keeps a history (votes cast, entries committed)."""
        seen_before = self.history.sometimes_seen
        self.history, violations = check_step(self.history, self.observe(state))
        for name in self.history.sometimes_seen - seen_before:
            if self.sometimes_at.get(name) is None:
                self.sometimes_at[name] = step
        return violations


def observe_cluster(state: ClusterState) -> ClusterObservation:
    """The spec's view of ``state``."""
    return RaftChecker().observe(state)
