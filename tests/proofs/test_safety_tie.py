"""Every step of ``impl.raft`` satisfies the node relations of the unbounded proofs.

Hypothesis drives three ``impl.raft`` nodes (ticks, deliveries in any order, drops, proposals,
restarts), with and without PreVote; the simulator's own seeded runs (drops, duplicates,
partitions, crashes) are checked step by step too. Each step is checked by z3 against the
relations of ``proofs.raft.node_relations`` composed as ``proofs.raft.safety_tie`` maps the
event. ``impl.raft``'s mutants must break a relation, naming it and the field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.raft import init, on_event
from models.raft import (
    ConfState,
    Event,
    Message,
    MessageReceived,
    Propose,
    RaftConfig,
    RaftMutant,
    RaftNodeState,
    RandomDrawn,
    RequestRandom,
    SendMessage,
    Tick,
)
from proofs.raft.safety_tie import StepCheck, check_restart, check_step

VOTERS = (1, 2, 3)


@dataclass
class Run:
    """Three nodes, one bag of messages in flight, and the check of every step taken."""

    mutant: RaftMutant | None = None
    pre_vote: bool = False
    states: dict[int, RaftNodeState] = field(default_factory=dict)
    in_flight: list[Message] = field(default_factory=list)
    checks: list[StepCheck] = field(default_factory=list)

    def __post_init__(self) -> None:
        for node in VOTERS:
            step = init(self.config(node), None, ConfState(voters=VOTERS))
            self.states[node] = step.state
            self.absorb(node, step.commands)

    def config(self, node: int) -> RaftConfig:
        return RaftConfig(
            node_id=node, election_timeout_ticks=3, mutant=self.mutant, pre_vote=self.pre_vote
        )

    def absorb(self, node: int, commands: tuple[object, ...]) -> None:
        for command in commands:
            if isinstance(command, SendMessage):
                self.in_flight.append(command.message)
            elif isinstance(command, RequestRandom):
                # Node n waits n extra ticks, so timeouts differ and elections settle.
                self.step(node, RandomDrawn(value=min(command.low + node - 1, command.high - 1)))

    def step(self, node: int, event: Event) -> None:
        before = self.states[node]
        result = on_event(self.config(node), before, event)
        self.checks.append(check_step(VOTERS, before, event, result.state, result.commands))
        self.states[node] = result.state
        self.absorb(node, result.commands)

    def restart(self, node: int) -> None:
        before = self.states[node]
        result = init(self.config(node), before.persisted, ConfState(voters=VOTERS))
        self.checks.append(check_restart(VOTERS, before, result.state))
        self.in_flight = [m for m in self.in_flight if m.to_id != node]
        self.states[node] = result.state
        self.absorb(node, result.commands)

    def act(self, kind: str, number: int) -> None:
        node = VOTERS[number % len(VOTERS)]
        if kind == "tick":
            for ticked in VOTERS:
                self.step(ticked, Tick())
        elif kind == "propose":
            self.step(node, Propose(data=b"x"))
        elif kind == "restart":
            self.restart(node)
        elif self.in_flight:
            message = self.in_flight.pop(number % len(self.in_flight))
            if kind == "deliver":
                self.step(message.to_id, MessageReceived(message=message))
            elif kind == "duplicate":
                self.in_flight.append(message)
                self.step(message.to_id, MessageReceived(message=message))

    def failures(self) -> list[str]:
        return [
            f"{' + '.join(c.relations)}: {', '.join(c.failed)}" for c in self.checks if not c.holds
        ]

    def relations(self) -> Counter[str]:
        return Counter(name for check in self.checks for name in check.relations)


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            (
                "tick",
                "tick",
                "tick",
                "deliver",
                "deliver",
                "deliver",
                "deliver",
                "duplicate",
                "drop",
                "propose",
                "restart",
            )
        ),
        st.integers(0, 50),
    ),
    max_size=50,
)


def _warm(run: Run) -> Run:
    """Elect a leader and replicate entries, so random actions start from a cluster with logs."""
    for _ in range(5):
        run.act("tick", 0)
        while run.in_flight:
            run.act("deliver", 0)
    for number in range(3):
        run.act("propose", number)
    return run


@settings(max_examples=150, deadline=None)
@given(ACTIONS, st.booleans())
def test_every_impl_step_satisfies_the_relations(
    actions: list[tuple[str, int]], pre_vote: bool
) -> None:
    run = _warm(Run(pre_vote=pre_vote))
    for kind, number in actions:
        run.act(kind, number)
    assert run.failures() == []


def _scripted(mutant: RaftMutant | None = None, *, pre_vote: bool = False) -> Run:
    run = Run(mutant=mutant, pre_vote=pre_vote)
    for _ in range(4):
        for _ in range(6):
            run.act("tick", 0)
            while run.in_flight:
                run.act("deliver", 0)
        run.act("propose", 0)
        run.act("propose", 1)
        while run.in_flight:
            run.act("deliver", 0)
    run.restart(1)
    for _ in range(12):
        run.act("tick", 0)
        while run.in_flight:
            run.act("deliver", 0)
    return run


@pytest.mark.parametrize("pre_vote", [False, True])
def test_a_scripted_run_exercises_every_relation(pre_vote: bool) -> None:
    run = _scripted(pre_vote=pre_vote)
    assert run.failures() == []
    seen = run.relations()
    for relation in (
        "campaign",
        "observe_term",
        "grant_vote",
        "record_grant",
        "become_leader",
        "propose",
        "record_ack",
        "leader_commit",
        "append_keep",
        "append_truncate",
        "heartbeat_commit",
        "step_down (restart)",
    ):
        assert seen[relation] > 0 or relation == "append_truncate", (
            f"{relation} never checked: {seen}"
        )


def _simulation_checks(seed: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[StepCheck], str]:
    """Every node step of one seeded simulator run, checked; and the run's PreVote setting."""
    import random

    import msgspec

    import impl.raft
    from runner.raft.simulator import SimulationOptions, make_header
    from runner.raft.world import RAFT
    from runner.sim.simulate import Simulation

    options = SimulationOptions(
        seed=seed,
        nodes=3,
        safety_steps=600,
        liveness_steps=400,
        faults=("crash", "drop", "duplicate", "partition"),
        spare_nodes=0,
    )
    prng = random.Random(seed)
    header = make_header(options, prng, "test")
    # Compaction (snapshots) is not modelled; everything else the swarm draws is.
    weights = {**header.swarm.weights, "compact": 0}
    header = msgspec.structs.replace(
        header, swarm=msgspec.structs.replace(header.swarm, weights=weights)
    )
    checks: list[StepCheck] = []
    last: dict[int, RaftNodeState] = {}
    on_event_real, init_real = impl.raft.on_event, impl.raft.init

    def on_event(config: RaftConfig, state: RaftNodeState, event: Event):  # type: ignore[no-untyped-def]
        step = on_event_real(config, state, event)
        checks.append(check_step(VOTERS, state, event, step.state, step.commands))
        last[config.node_id] = step.state
        return step

    def init(config: RaftConfig, persisted: object, conf: ConfState):  # type: ignore[no-untyped-def]
        step = init_real(config, persisted, conf)  # type: ignore[arg-type]
        if config.node_id in last:
            checks.append(check_restart(VOTERS, last[config.node_id], step.state))
        last[config.node_id] = step.state
        return step

    monkeypatch.setattr(impl.raft, "on_event", on_event)
    monkeypatch.setattr(impl.raft, "init", init)
    result = Simulation(RAFT, header, prng).execute()
    assert result.result.status == "pass", result.result
    return checks, f"pre_vote={header.setup.pre_vote} check_quorum={header.setup.check_quorum}"


SIMULATOR_SEEDS = range(1, 21)


def test_every_step_of_simulator_runs_satisfies_the_relations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: Counter[str] = Counter()
    steps = 0
    for seed in SIMULATOR_SEEDS:
        with monkeypatch.context() as patch:
            checks, setup = _simulation_checks(seed, patch)
        failures = [
            f"{' + '.join(c.relations)}: {', '.join(c.failed)}" for c in checks if not c.holds
        ]
        assert failures == [], (seed, setup)
        steps += len(checks)
        seen.update(name for check in checks for name in check.relations)
    # The runs reach every kind of step the model has, PreVote among them.
    for relation in (
        "campaign",
        "observe_term",
        "grant_vote",
        "record_grant",
        "become_leader",
        "propose",
        "record_ack",
        "leader_commit",
        "append_keep",
        "append_truncate",
        "append_below_commit",
        "heartbeat_commit",
        "step_down (restart)",
        "step_down (CheckQuorum)",
        "unchanged (pre-vote)",
    ):
        assert seen[relation] > 0, (relation, seen)
    assert steps > 10000


def _trace_checks(name: str, rules_for: str | None) -> list[StepCheck]:
    """The node steps of the exported trace of mutant ``name``, checked against the etcd
    relations (``rules_for`` None) or the relations with that mutant's switch."""

    import impl.raft
    from proofs.raft.node_relations import ETCD
    from proofs.raft.safety import MUTANT_RULES
    from runner.cli.worlds import WORLDS
    from runner.raft.world import RAFT
    from runner.sim.run import Run as KernelRun
    from runner.sim.trace import parse_trace
    from tests.proofs import mutant_runs

    parsed = parse_trace(mutant_runs.exported(name).content, name, WORLDS)
    size = mutant_runs.execution(name).voters
    rules = ETCD if rules_for is None else MUTANT_RULES[rules_for]
    voters = tuple(range(1, size + 1))
    checks: list[StepCheck] = []
    last: dict[int, RaftNodeState] = {}
    on_event_real, init_real = impl.raft.on_event, impl.raft.init

    def on_event(config: RaftConfig, state: RaftNodeState, event: Event):  # type: ignore[no-untyped-def]
        step = on_event_real(config, state, event)
        checks.append(check_step(voters, state, event, step.state, step.commands, rules))
        last[config.node_id] = step.state
        return step

    def init(config: RaftConfig, persisted: object, conf: ConfState):  # type: ignore[no-untyped-def]
        step = init_real(config, persisted, conf)  # type: ignore[arg-type]
        if config.node_id in last:
            checks.append(check_restart(voters, last[config.node_id], step.state))
        last[config.node_id] = step.state
        return step

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(impl.raft, "on_event", on_event)
        patch.setattr(impl.raft, "init", init)
        run = KernelRun(RAFT.build(parsed.header.setup, parsed.header.swarm))
        for _, step in parsed.steps:
            run.step(step.action)
    return checks


MUTANT_FIELDS = {
    "double-voting": "grant_vote: vote",
    "no-consistency-check": ": accepted",
    "figure-8-commit-by-counting": "leader_commit: rule",
    "vote-without-up-to-date-check": "grant_vote: vote",
    "truncate-committed-entry": "append_truncate: log",
}


@pytest.mark.parametrize("name", sorted(MUTANT_FIELDS))
def test_a_mutant_trace_is_an_execution_of_the_mutated_model_only(name: str) -> None:
    failing = [f for c in _trace_checks(name, None) for f in c.failed]
    assert failing, f"{name}: the etcd relations accept every step of the mutant's trace"
    assert any(MUTANT_FIELDS[name] in f for f in failing), failing
    mutated = [f for c in _trace_checks(name, name) for f in c.failed]
    assert mutated == []
