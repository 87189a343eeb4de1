"""``simulate controllers``: a faulty run passes every safety property and ESR and replays bit
for bit; each mutant is caught by the property that guards what it breaks (the mutants and
their properties follow the Kubernetes docs: expectations stop duplicate creates, status
counts only non-terminating available pods, Orphan propagation keeps the dependents)."""

from __future__ import annotations

import pytest

from models.controllers.world import ControllersSetup
from runner.cli.worlds import WORLDS
from runner.controllers.world_kind import CONTROLLERS
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, SimulationResult, simulate
from runner.sim.trace import parse_trace

STEPS = 300


def run(seed: int, mutant: str = "") -> SimulationResult[ControllersSetup]:
    options = RunOptions(seed=seed, safety_steps=STEPS, liveness_steps=3000)
    return simulate(
        CONTROLLERS, options, lambda _prng, _swarm: ControllersSetup(seed=seed, mutant=mutant)
    )


def test_a_faulty_run_reconciles_and_replays() -> None:
    result = run(3)
    assert result.result.status == "pass", result.result
    assert {"crash", "watch"} <= set(result.header.swarm.faults)
    coverage = result.coverage
    assert coverage["replicaset.full"] is not None
    assert coverage["deployment.surged"] is not None
    report = replay(parse_trace(result.trace.content(), "controllers.jsonl", WORLDS))
    assert report.reproduced, report.divergence
    assert report.steps_replayed == result.result.steps


@pytest.mark.parametrize(
    ("mutant", "seed", "caught_by"),
    [
        ("replicaset-ignores-expectations", 1, "replicaset.no_excess_pods"),
        ("replicaset-counts-terminating-available", 1, "replicaset.status_counts_available"),
        ("gc-forgets-orphaning", 3, "gc.orphan_keeps_dependents"),
    ],
)
def test_mutants_are_caught(mutant: str, seed: int, caught_by: str) -> None:
    result = run(seed, mutant)
    assert (result.result.status, result.result.property) == ("violation", caught_by)
    # The reference controllers pass the very same schedule.
    assert run(seed).result.status == "pass"
