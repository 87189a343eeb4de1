"""The seeded Raft simulator: one PRNG decides everything, every invariant checked each step.

Theory of operation (after TigerBeetle's VOPR). The seed makes one ``random.Random``. It first
draws the run's options: the fault mix and action weights (:func:`runner.raft.faults.draw_swarm`),
PreVote and CheckQuorum. Then, step by step, it picks the next action among those enabled
(with probability proportional to the kind's weight, then uniformly within the kind) and the
random values the nodes ask for. Nothing else is random, so the seed (or the trace header plus
its actions) reproduces the run exactly.

A run has two phases:

- **safety**: ``safety_steps`` actions with the drawn faults; after every step every invariant of
  ``spec.raft`` is checked, and the first violation ends the run;
- **liveness**: faults stop, partitions heal, crashed nodes restart, messages are delivered in
  order and nodes tick in turn; a leader must be elected and a new value committed within
  ``liveness_steps`` steps, otherwise the run fails with ``liveness``. Invariants are still
  checked.

Everything goes to a trace (``docs/trace-format.md``): a header with the seed and every drawn
option, a line per step, snapshots at checkpoints and on failure, a result line.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, final

import msgspec

from models.raft import Command, ProposalAccepted
from models.trace import (
    STEPS_MAX,
    TRACE_FORMAT,
    TRACE_VERSION,
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
    Partition,
    Propose,
    RaftSetup,
    Restart,
    SnapshotReason,
    SwarmOptions,
    Tick,
    TraceHeader,
    TracePhase,
    TraceResult,
    TraceSnapshot,
    TraceStep,
)
from runner.raft.checks import Violation
from runner.raft.cluster import ClusterState, NodeSlot, deliverable
from runner.raft.faults import (
    configuration_split,
    draw_swarm,
    election_timeout,
    entries_per_append,
    inflight_appends,
    random_conf_change,
    random_partition,
)
from runner.raft.run import LIVENESS_PREFIX, RaftRun, StepOutcome
from runner.sim.fingerprint import encode
from runner.sim.trace import TraceWriter

COMPACT_AFTER_ENTRIES: Final = 6
"""A node may compact once it applied this many entries beyond its snapshot."""
DELIVERIES_PER_ROUND_MAX: Final = 200


REPROPOSE_AFTER_STEPS: Final = 200
"""In the liveness phase, a value accepted but not committed after this many steps (its leader
lost leadership) is proposed again."""


@final
@dataclass(frozen=True, slots=True)
class SimulationOptions:
    """What the user chose; everything else is drawn from ``seed``."""

    seed: int
    nodes: int = 5
    safety_steps: int = 2500
    liveness_steps: int = 10000
    faults: tuple[str, ...] | None = None
    """``None``: the seed picks the fault mix (swarm testing)."""
    mutant: str = "none"
    checkpoint_interval_steps: int = 500
    spare_nodes: int | None = None
    """Empty node slots membership changes can add; default ``min(2, 9 - nodes)``."""


@final
@dataclass(frozen=True, slots=True)
class SimulationResult:
    """The outcome of a run: its trace records' result, statistics and coverage."""

    header: TraceHeader
    result: TraceResult
    statistics: dict[str, object]
    coverage: dict[str, int | None]
    trace: TraceWriter
    liveness_steps_used: int | None


def make_header(options: SimulationOptions, prng: random.Random, code_version: str) -> TraceHeader:
    """Draw the run's options from the PRNG (swarm, PreVote, CheckQuorum) into a header."""
    assert 1 <= options.nodes <= 9
    assert 0 < options.safety_steps + options.liveness_steps <= STEPS_MAX
    swarm = draw_swarm(prng, options.nodes, options.faults, options.mutant)
    spare = min(2, 9 - options.nodes) if options.spare_nodes is None else options.spare_nodes
    setup = RaftSetup(
        nodes=options.nodes,
        spare_nodes=spare if "membership" in swarm.faults else 0,
        election_timeout_ticks=election_timeout(prng, options.mutant),
        heartbeat_interval_ticks=1,
        pre_vote=prng.random() < 0.5,
        check_quorum=prng.random() < 0.5,
        max_entries_per_append=entries_per_append(prng, options.mutant),
        max_inflight_appends=inflight_appends(prng, options.mutant),
        mutant=options.mutant,
        safety_steps=options.safety_steps,
        liveness_steps=options.liveness_steps,
    )
    return TraceHeader(
        format=TRACE_FORMAT,
        version=TRACE_VERSION,
        target="raft",
        seed=options.seed,
        code_version=code_version,
        setup=setup,
        swarm=swarm,
        checkpoint_interval_steps=options.checkpoint_interval_steps,
    )


def _leader(state: ClusterState) -> NodeSlot | None:
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
class ActionChooser:
    """Picks the next safety-phase action from the PRNG, among the enabled ones."""

    def __init__(
        self,
        prng: random.Random,
        swarm: SwarmOptions,
        node_ids: tuple[int, ...],
        initial_voters: tuple[int, ...],
    ) -> None:
        self.prng = prng
        self.swarm = swarm
        self.node_ids = node_ids
        self.proposals = 0
        self.removed: set[int] = set()
        self.leader_commit = (0, 0)
        """(leader, commit index) at the previous choice."""
        self.voters_min = min(3, len(initial_voters))

    def choose(self, state: ClusterState) -> ClusterAction:
        """One enabled action; there is always one (a tick at an up node, or a restart)."""
        options = self._options(state)
        total = sum(weight for weight, _ in options)
        assert total > 0, "no action is enabled"
        point = self.prng.random() * total
        for weight, make in options:
            point -= weight
            if point < 0:
                return make()
        return options[-1][1]()

    def _options(self, state: ClusterState) -> list[tuple[int, Callable[[], ClusterAction]]]:
        swarm, prng = self.swarm, self.prng
        up = [n for n in sorted(state.nodes) if state.nodes[n].state is not None]
        down = [n for n in sorted(state.nodes) if state.nodes[n].state is None]
        in_flight = sorted(state.in_flight)
        ready = _ready(state, in_flight, set(up))
        waiting = [n for n in up if state.nodes[n].random_request is not None]
        compactable = [
            n
            for n in up
            if state.nodes[n].applied_index - state.nodes[n].storage.snapshot.metadata.index
            >= COMPACT_AFTER_ENTRIES
        ]
        options: list[tuple[int, Callable[[], ClusterAction]]] = []

        def add(weight: int, enabled: bool, make: Callable[[], ClusterAction]) -> None:
            if weight > 0 and enabled:
                options.append((weight, make))

        add(swarm.deliver_weight, bool(ready), lambda: Deliver(message=prng.choice(ready)))
        add(swarm.tick_weight, bool(up), lambda: Tick(node=prng.choice(up)))
        add(swarm.random_weight, bool(waiting), lambda: self._draw(state, prng.choice(waiting)))
        add(swarm.propose_weight, bool(up), lambda: self._propose(state, up))
        add(swarm.compact_weight, bool(compactable), lambda: Compact(node=prng.choice(compactable)))
        add(swarm.drop_weight, bool(in_flight), lambda: Drop(message=prng.choice(in_flight)))
        add(
            swarm.duplicate_weight,
            bool(in_flight) and len(in_flight) < swarm.max_in_flight,
            lambda: Duplicate(message=prng.choice(in_flight)),
        )
        add(
            swarm.partition_weight,
            not state.cut_links and len(self.node_ids) >= 2,
            lambda: random_partition(prng, self.node_ids, swarm.asymmetric_partitions),
        )
        add(swarm.heal_weight, bool(state.cut_links), Heal)
        add(
            swarm.crash_weight,
            bool(up) and len(down) < swarm.max_crashed,
            lambda: Crash(node=prng.choice(up)),
        )
        add(swarm.restart_weight, bool(down), lambda: Restart(node=prng.choice(down)))
        self._add_leader_crash(state, len(down), options)
        self._add_membership(state, options)
        return options

    def _add_leader_crash(
        self,
        state: ClusterState,
        down: int,
        options: list[tuple[int, Callable[[], ClusterAction]]],
    ) -> None:
        """With ``crash_leader_on_commit``: right after a leader's commit index advanced, a
        crash of that leader is likely."""
        leader = _leader(state)
        if leader is None or leader.state is None:
            return
        previous = self.leader_commit
        self.leader_commit = (leader.node_id, leader.state.commit_index)
        advanced = previous[0] == leader.node_id and leader.state.commit_index > previous[1]
        if self.swarm.crash_leader_on_commit and advanced and down < self.swarm.max_crashed:
            crash = Crash(node=leader.node_id)
            options.append((20 * max(1, self.swarm.crash_weight), lambda: crash))

    def _add_membership(
        self, state: ClusterState, options: list[tuple[int, Callable[[], ClusterAction]]]
    ) -> None:
        leader = _leader(state)
        if self.swarm.conf_change_weight == 0 or leader is None or leader.state is None:
            return
        leader_id = leader.node_id
        conf = leader.state.conf_state
        split = (
            configuration_split(self.prng, leader_id, conf, self.node_ids)
            if self.swarm.joint_swaps and not state.cut_links and self.swarm.partition_weight
            else None
        )
        if split is not None and _behind_configuration(state, split):
            options.append((20 * self.swarm.partition_weight, lambda: split))
        if conf.is_joint() and not conf.auto_leave:
            options.append((self.swarm.conf_change_weight, lambda: LeaveJoint(node=leader_id)))
            return
        candidates = tuple(node for node in self.node_ids if node not in self.removed)
        change = random_conf_change(
            self.prng,
            leader_id,
            conf,
            candidates,
            self.voters_min,
            swap=self.swarm.joint_swaps,
        )
        if change is not None:
            options.append((self.swarm.conf_change_weight, lambda: self._retire(change)))

    def _retire(self, change: ChangeMembership) -> ChangeMembership:
        """Remember the nodes this change removes: their ids are never offered again."""
        self.removed.update(item.node for item in change.changes if item.type == "remove_node")
        return change

    def _draw(self, state: ClusterState, node_id: int) -> DrawRandom:
        request = state.nodes[node_id].random_request
        assert request is not None
        return DrawRandom(node=node_id, value=self.prng.randrange(request.low, request.high))

    def _propose(self, state: ClusterState, up: list[int]) -> Propose:
        self.proposals += 1
        leader = _leader(state)
        target = leader.node_id if leader is not None and self.prng.random() < 0.8 else None
        return Propose(node=target or self.prng.choice(up), value=f"v{self.proposals}")


@final
class LivenessDriver:
    """Chooses liveness-phase actions: a fair, fault-free schedule in rounds.

    Before anything else: heal the network, restart crashed nodes, answer random requests.
    Then each round ticks every node once and delivers messages, oldest first, until none is
    ready or ``DELIVERIES_PER_ROUND_MAX`` were delivered (so a message ping-pong cannot stop
    time). Once a leader is known it is asked to commit a value
    starting with ``liveness:`` (again if a value it accepted stays uncommitted for
    ``REPROPOSE_AFTER_STEPS``). A leader that must send a snapshot first takes a fresh one, as
    an application would, so the snapshot holds the current configuration.
    """

    def __init__(self, prng: random.Random) -> None:
        self.prng = prng
        self.delivered = 0
        self.ticked = 0
        self.accepted_at: int | None = None

    def observe(self, run: RaftRun, commands: tuple[tuple[int, Command], ...]) -> None:
        """Note a proposal the leader accepted."""
        if any(isinstance(command, ProposalAccepted) for _, command in commands):
            self.accepted_at = run.steps

    def next_action(self, run: RaftRun) -> ClusterAction:
        """The next action of the fair schedule."""
        state = run.state
        repair = _repair(state, self.prng)
        if repair is not None:
            return repair
        node_ids = sorted(state.nodes)
        if self.ticked >= len(node_ids) and self.delivered < DELIVERIES_PER_ROUND_MAX:
            ready = [m for m in sorted(state.in_flight) if deliverable(state, m)]
            if ready:
                self.delivered += 1
                return Deliver(message=ready[0])
        leader = _leader(state)
        if leader is not None and _needs_fresh_snapshot(leader):
            return Compact(node=leader.node_id)
        retry = self.accepted_at is None or run.steps - self.accepted_at > REPROPOSE_AFTER_STEPS
        if leader is not None and retry:
            self.accepted_at = run.steps
            return Propose(node=leader.node_id, value=f"{LIVENESS_PREFIX}{run.steps}")
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


def _ready(state: ClusterState, in_flight: list[int], up: set[int]) -> list[int]:
    """The in-flight messages that can arrive now (as ``deliverable``, for many at once)."""
    cut = set(state.cut_links)
    ready = []
    for message_id in in_flight:
        message = state.in_flight[message_id].message
        if message.to_id in up and (message.from_id, message.to_id) not in cut:
            ready.append(message_id)
    return ready


def _behind_configuration(state: ClusterState, split: Partition) -> bool:
    """Whether every up node cut off from the leader's side still uses a configuration that
    is not joint (it has not applied the joint configuration the leader applied)."""
    cut_off = {destination for _, destination in split.links}
    slots = [state.nodes[node] for node in sorted(cut_off)]
    return all(slot.state is None or not slot.state.conf_state.is_joint() for slot in slots)


def _needs_fresh_snapshot(leader: NodeSlot) -> bool:
    """A follower waits for a snapshot and the leader has applied entries beyond its last one
    (an old snapshot may predate the follower's membership, and the follower refuses it)."""
    state = leader.state
    assert state is not None
    waiting = any(progress.state == "snapshot" for progress in state.progress)
    return waiting and leader.applied_index > leader.storage.snapshot.metadata.index


@final
class Simulation:
    """One run: header, safety phase, liveness phase, result; everything into the trace."""

    def __init__(
        self, options: SimulationOptions, code_version: str, header: TraceHeader | None = None
    ) -> None:
        """``header``: run this setup instead of drawing one from the seed (a directed
        schedule whose caller chooses every action through :meth:`advance`)."""
        self.options = options
        self.prng = random.Random(options.seed)
        self.header = make_header(options, self.prng, code_version) if header is None else header
        self.run = RaftRun(self.header.setup, self.header.swarm)
        self.trace = TraceWriter()
        self.trace.add(self.header)
        self._snapshot("initial")

    def _snapshot(self, reason: SnapshotReason) -> None:
        state = msgspec.Raw(encode(self.run.state))
        snapshot = TraceSnapshot(
            index=self.run.steps,
            reason=reason,
            fingerprint=self.run.fingerprint,
            state=state,
        )
        self.trace.add(snapshot)

    def advance(self, action: ClusterAction) -> StepOutcome:
        """Apply an enabled action, check every invariant, and write its step line."""
        outcome = self.run.step(action)
        assert isinstance(outcome, StepOutcome), f"the simulator chose a disabled action: {outcome}"
        step = TraceStep(
            index=self.run.steps,
            action=action,
            fingerprint=outcome.fingerprint,
            delta=outcome.delta,
        )
        self.trace.add(step)
        interval = self.header.checkpoint_interval_steps
        if interval and self.run.steps % interval == 0 and not outcome.violations:
            self._snapshot("checkpoint")
        return outcome

    def finish(self, result: TraceResult) -> SimulationResult:
        """Write the last snapshot and the result line."""
        self._snapshot("failure" if result.status != "pass" else "final")
        self.trace.add(result)
        started = self.run.liveness_started_at
        reached = self.run.liveness_reached_at
        used = None if started is None or reached is None else reached - started
        return SimulationResult(
            header=self.header,
            result=result,
            statistics=self.run.statistics.summary(),
            coverage=dict(sorted(self.run.checker.coverage.items())),
            trace=self.trace,
            liveness_steps_used=used,
        )

    def _violation(self, violations: tuple[Violation, ...]) -> SimulationResult:
        first = violations[0]
        return self.finish(violation_result(first, self.run.steps))

    def execute(self) -> SimulationResult:
        """Run both phases to the end or to the first violation."""
        if self.run.initial_violations:
            return self._violation(self.run.initial_violations)
        chooser = ActionChooser(
            self.prng,
            self.header.swarm,
            self.run.config.node_ids,
            self.run.config.initial_conf.voters,
        )
        for _ in range(self.header.setup.safety_steps):
            outcome = self.advance(chooser.choose(self.run.state))
            if outcome.violations:
                return self._violation(outcome.violations)
        self.run.start_liveness()
        self.trace.add(TracePhase(index=self.run.steps, phase="liveness"))
        driver = LivenessDriver(self.prng)
        for _ in range(self.header.setup.liveness_steps):
            outcome = self.advance(driver.next_action(self.run))
            if outcome.violations:
                return self._violation(outcome.violations)
            if self.run.liveness_reached_at is not None:
                return self.finish(TraceResult(status="pass", steps=self.run.steps))
            driver.observe(self.run, outcome.commands)
        return self.finish(liveness_failure(self.run))


def violation_result(violation: Violation, steps: int) -> TraceResult:
    """The result line for an invariant broken after step ``steps``."""
    return TraceResult(
        status="violation",
        steps=steps,
        property=violation.property_name,
        index=steps,
        nodes=violation.nodes,
        message=violation.reason,
    )


def liveness_failure(run: RaftRun) -> TraceResult:
    """The result line for a liveness phase that ran out of steps."""
    bound = run.setup.liveness_steps
    return TraceResult(
        status="liveness_failure",
        steps=run.steps,
        property="leader_elected_and_value_committed",
        index=run.steps,
        message=f"no value proposed in the liveness phase was committed within {bound} steps",
    )


def simulate(options: SimulationOptions, code_version: str = "unknown") -> SimulationResult:
    """Run one simulation."""
    return Simulation(options, code_version).execute()
