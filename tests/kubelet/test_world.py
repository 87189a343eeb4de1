"""``simulate kubelet``: a run with every fault kind (apiserver unreachable, reboots, clock
jumps, memory pressure) passes every kubelet property and settles, and replays bit for bit;
each mutant is caught by the property that guards what it breaks."""

from __future__ import annotations

import pytest

from models.kubelet.world import KubeletSetup
from runner.cli.worlds import WORLDS
from runner.kubelet.world_kind import KUBELET
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, SimulationResult, simulate
from runner.sim.trace import parse_trace
from spec.kubelet import properties


def run(seed: int, mutant: str = "") -> SimulationResult[KubeletSetup]:
    options = RunOptions(seed=seed, safety_steps=400, liveness_steps=200)
    return simulate(KUBELET, options, lambda _prng, _swarm: KubeletSetup(seed=seed, mutant=mutant))


def test_a_run_with_every_fault_passes_settles_and_replays() -> None:
    result = run(4)
    assert result.result.status == "pass", result.result
    assert set(result.header.swarm.faults) == {"clock", "partition", "pressure", "reboot"}
    report = replay(parse_trace(result.trace.content(), "kubelet.jsonl", WORLDS))
    assert report.reproduced, report.divergence
    assert report.steps_replayed == result.result.steps


def test_the_seeds_show_every_companion() -> None:
    shown: set[str] = set()
    for seed in (1, 2, 3, 4):
        result = run(seed)
        assert result.result.status == "pass", result.result
        shown |= {name for name, step in result.coverage.items() if step is not None}
    assert shown == set(properties.SOMETIMES)


@pytest.mark.parametrize(
    ("mutant", "seed", "caught_by"),
    [
        ("probe-threshold-off-by-one", 2, "kubelet.probe_thresholds"),
        ("backoff-not-reset", 3, "kubelet.backoff_expires"),
        ("eviction-ignores-priority", 7, "kubelet.eviction_order"),
        ("disk-eviction-ranks-by-memory", 11, "kubelet.eviction_order"),
    ],
)
def test_mutants_are_caught(mutant: str, seed: int, caught_by: str) -> None:
    assert run(seed).result.status == "pass"
    result = run(seed, mutant)
    assert result.result.status == "violation"
    assert result.result.property == caught_by
