"""Every step of ``impl.raft`` satisfies the node relations of the unbounded proofs.

Hypothesis drives three ``impl.raft`` nodes (ticks, deliveries in any order, drops, proposals,
restarts), with and without PreVote; the simulator's own seeded runs (drops, duplicates,
partitions, crashes) are checked step by step too. Each step is checked by z3 against the
relations of ``proofs.raft.node_relations`` composed as ``proofs.raft.safety_tie`` maps the
event. ``impl.raft``'s mutants must break a relation, naming it and the field.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.raft import Event, RaftMutant, RaftNodeState
from proofs.raft.node_relations import ETCD
from proofs.raft.safety_tie import StepCheck, check_restart, check_step
from tests.proofs.impl_cluster import VOTERS, Run, actions, checking_node_steps


def _run(mutant: RaftMutant | None = None, *, pre_vote: bool = False) -> Run[StepCheck]:
    return Run(check_step=check_step, check_restart=check_restart, mutant=mutant, pre_vote=pre_vote)


def _failures(checks: list[StepCheck]) -> list[str]:
    return [f"{' + '.join(c.relations)}: {', '.join(c.failed)}" for c in checks if not c.holds]


def _relations(checks: list[StepCheck]) -> Counter[str]:
    return Counter(name for check in checks for name in check.relations)


@settings(max_examples=150, deadline=None)
@given(actions(duplicates=True), st.booleans())
def test_every_impl_step_satisfies_the_relations(
    random_actions: list[tuple[str, int]], pre_vote: bool
) -> None:
    run = _run(pre_vote=pre_vote)
    # Warm up: elect a leader and replicate entries, so random actions start from logs.
    run.settle(5)
    for number in range(3):
        run.act("propose", number)
    for kind, number in random_actions:
        run.act(kind, number)
    assert _failures(run.checks) == []


@pytest.mark.parametrize("pre_vote", [False, True])
def test_a_scripted_run_exercises_every_relation(pre_vote: bool) -> None:
    run = _run(pre_vote=pre_vote)
    for _ in range(4):
        run.settle(6)
        run.act("propose", 0)
        run.act("propose", 1)
        while run.in_flight:
            run.act("deliver", 0)
    run.restart(1)
    run.settle(12)
    assert _failures(run.checks) == []
    seen = _relations(run.checks)
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
        "heartbeat_commit",
        "step_down (restart)",
    ):
        assert seen[relation] > 0, f"{relation} never checked: {seen}"
    if pre_vote:
        # PreVote adds no transition to the model: a pre-vote request changes nothing.
        assert seen["unchanged (pre-vote)"] > 0, seen


def _simulation_checks(seed: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[StepCheck], str]:
    """Every node step of one seeded simulator run, checked; and the run's PreVote setting."""
    import random

    import msgspec

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
    with checking_node_steps(monkeypatch, VOTERS, check_step, check_restart) as checks:
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

    def check(
        voters: tuple[int, ...],
        before: RaftNodeState,
        event: Event,
        after: RaftNodeState,
        commands: tuple[object, ...],
    ) -> StepCheck:
        return check_step(voters, before, event, after, commands, rules)

    with (
        pytest.MonkeyPatch.context() as patch,
        checking_node_steps(patch, voters, check, check_restart) as checks,
    ):
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
