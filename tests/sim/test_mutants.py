"""Every mutant the simulator is stated to catch is caught within its stated number of seeds
(from seed 1, default options), and its trace replays to the same violation at the same step."""

from __future__ import annotations

import pytest

from runner.cli.simulate import MUTANT_SEEDS
from runner.cli.worlds import WORLDS
from runner.raft.simulator import SimulationOptions, simulate
from runner.sim.replay import replay
from runner.sim.trace import parse_trace

CAUGHT = sorted(name for name, bound in MUTANT_SEEDS.items() if bound is not None)


def test_every_mutant_has_a_stated_bound() -> None:
    from models.raft import RaftMutant

    assert sorted(mutant.value for mutant in RaftMutant) == CAUGHT


@pytest.mark.parametrize("mutant", CAUGHT)
def test_the_mutant_is_caught_within_its_bound_and_replays(mutant: str) -> None:
    bound = MUTANT_SEEDS[mutant]
    assert bound is not None
    for seed in range(1, bound + 1):
        result = simulate(SimulationOptions(seed=seed, mutant=mutant), "test")
        if result.result.status == "violation":
            break
    else:
        pytest.fail(f"{mutant} survived seeds 1..{bound}")
    assert result.result.property is not None
    report = replay(parse_trace(result.trace.content(), "mutant.jsonl", WORLDS))
    assert report.divergence is None
    assert report.recorded.property == result.result.property
    assert report.steps_replayed == result.result.index
