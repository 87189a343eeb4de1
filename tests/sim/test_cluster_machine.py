"""A hypothesis state machine drives a Raft cluster through arbitrary deliveries, drops,
duplications, partitions, crashes and restarts, ticks, proposals, compactions and membership
changes; after every action every ``spec.raft`` invariant must hold, each up node's storage
must hold exactly what its state says is persisted, and the incremental fingerprint must equal
the one computed from scratch."""

from __future__ import annotations

import random

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from models.raft_world import (
    ChangeMembership,
    ClusterAction,
    Compact,
    ConfChangeItem,
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    Heal,
    LeaveJoint,
    Partition,
    Propose,
    Restart,
    Tick,
)
from runner.raft.cluster import deliverable
from runner.raft.faults import FAULT_KINDS
from runner.raft.simulator import SimulationOptions, make_header
from runner.raft.world import RAFT, RaftWorld
from runner.sim.fingerprint import fingerprint_of
from runner.sim.run import Run, StepOutcome

NODE_IDS = (1, 2, 3, 4)
"""Three voters and one spare slot."""
nodes = st.sampled_from(NODE_IDS)
picks = st.integers(0, 10**6)
links = st.sets(
    st.tuples(nodes, nodes).filter(lambda link: link[0] != link[1]), min_size=1, max_size=6
)
changes = st.lists(
    st.builds(
        ConfChangeItem,
        type=st.sampled_from(["add_node", "remove_node", "add_learner_node"]),
        node=nodes,
    ),
    min_size=1,
    max_size=2,
    unique_by=lambda item: item.node,
)


class ClusterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        options = SimulationOptions(seed=0, nodes=3, faults=FAULT_KINDS, spare_nodes=1)
        header = make_header(options, random.Random(0), "test")
        self.world: RaftWorld = RAFT.build(header.setup, header.swarm)
        self.run = Run(self.world)
        assert self.run.initial_violations == ()
        self.leaders_seen = 0

    def apply(self, action: ClusterAction) -> None:
        outcome = self.run.step(action)
        assert isinstance(outcome, StepOutcome), outcome
        assert outcome.violations == (), outcome.violations
        for slot in self.run.state.nodes.values():
            if slot.state is not None:
                assert slot.state.persisted == slot.storage
                self.leaders_seen += slot.state.role == "leader"

    def up(self) -> list[int]:
        return [n for n in sorted(self.run.state.nodes) if self.run.state.nodes[n].state]

    def ready(self) -> list[int]:
        state = self.run.state
        return [m for m in sorted(state.in_flight) if deliverable(self.world.config, state, m)]

    @precondition(lambda self: bool(self.ready()))
    @rule(pick=picks)
    def deliver(self, pick: int) -> None:
        ready = self.ready()
        self.apply(Deliver(message=ready[pick % len(ready)]))

    @rule()
    def deliver_everything_ready(self) -> None:
        for _ in range(200):
            ready = self.ready()
            if not ready:
                return
            self.apply(Deliver(message=ready[0]))

    @precondition(lambda self: len(self.run.state.in_flight) > 0)
    @rule(pick=picks)
    def drop(self, pick: int) -> None:
        in_flight = sorted(self.run.state.in_flight)
        self.apply(Drop(message=in_flight[pick % len(in_flight)]))

    @precondition(lambda self: 0 < len(self.run.state.in_flight) < self.world.config.max_in_flight)
    @rule(pick=picks)
    def duplicate(self, pick: int) -> None:
        in_flight = sorted(self.run.state.in_flight)
        self.apply(Duplicate(message=in_flight[pick % len(in_flight)]))

    @rule(node=nodes, times=st.integers(1, 12))
    def tick(self, node: int, times: int) -> None:
        for _ in range(times):
            if self.run.state.nodes[node].state is None:
                return
            self.apply(Tick(node=node))

    @rule(times=st.integers(1, 12))
    def tick_every_node(self, times: int) -> None:
        for _ in range(times):
            for node in self.up():
                self.apply(Tick(node=node))

    @initialize(rounds=st.integers(0, 30), pick=picks)
    def start_quietly(self, rounds: int, pick: int) -> None:
        self.settle(rounds, pick)

    @rule(rounds=st.integers(1, 30), pick=picks)
    def settle(self, rounds: int, pick: int) -> None:
        """Normal operation: nodes get their random draws (``pick`` spreads them), every up
        node ticks, then everything ready is delivered."""
        for _ in range(rounds):
            for node in self.up():
                request = self.run.state.nodes[node].random_request
                if request is not None:
                    value = request.low + (pick + 7 * node) % (request.high - request.low)
                    self.apply(DrawRandom(node=node, value=value))
                self.apply(Tick(node=node))
            self.deliver_everything_ready()

    @rule(node=nodes, value=st.sampled_from(["a", "b", "c"]))
    def propose(self, node: int, value: str) -> None:
        if self.run.state.nodes[node].state is not None:
            self.apply(Propose(node=node, value=value))

    @rule(node=nodes)
    def crash(self, node: int) -> None:
        if self.run.state.nodes[node].state is not None:
            self.apply(Crash(node=node))

    @rule(node=nodes)
    def restart(self, node: int) -> None:
        if self.run.state.nodes[node].state is None:
            self.apply(Restart(node=node))

    @rule(cut=links)
    def partition(self, cut: set[tuple[int, int]]) -> None:
        self.apply(Partition(links=tuple(sorted(cut))))

    @rule()
    def heal(self) -> None:
        self.apply(Heal())

    @rule(node=nodes, pick=picks)
    def draw_random(self, node: int, pick: int) -> None:
        request = self.run.state.nodes[node].random_request
        if request is not None and self.run.state.nodes[node].state is not None:
            value = request.low + pick % (request.high - request.low)
            self.apply(DrawRandom(node=node, value=value))

    @rule(node=nodes)
    def compact(self, node: int) -> None:
        slot = self.run.state.nodes[node]
        if (
            slot.state is not None
            and slot.application.applied_index > slot.storage.snapshot.metadata.index
        ):
            self.apply(Compact(node=node))

    @rule(
        node=nodes,
        items=changes,
        transition=st.sampled_from(["auto", "implicit", "explicit"]),
    )
    def change_membership(self, node: int, items: list[ConfChangeItem], transition: str) -> None:
        if self.run.state.nodes[node].state is not None:
            action = ChangeMembership(
                node=node,
                changes=tuple(items),
                transition=transition,  # type: ignore[arg-type]
            )
            self.apply(action)

    @rule(node=nodes)
    def leave_joint(self, node: int) -> None:
        if self.run.state.nodes[node].state is not None:
            self.apply(LeaveJoint(node=node))

    def teardown(self) -> None:
        event("a leader was elected" if self.leaders_seen else "no leader was elected")

    @invariant()
    def fingerprint_is_the_one_from_scratch(self) -> None:
        assert self.run.fingerprint == fingerprint_of(self.run.state)


ClusterMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, derandomize=True
)
TestClusterMachine = ClusterMachine.TestCase
