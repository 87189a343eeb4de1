"""The API server world on the simulation kernel: seeded runs of clients, the machine and the
reference etcd with faults (etcd leader loss, API server restarts, dropped slow watchers) pass
every API property, exercise each one's companion, replay bit for bit, and catch, at the step,
a server that lists stale, skips watch events or ignores resourceVersion."""

from __future__ import annotations

import json
import random
from pathlib import Path

import msgspec
import pytest

from models.trace import SwarmOptions
from runner.apiserver.world import APISERVER, ApiSetup, draw_setup
from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, SimulationResult, simulate
from runner.sim.trace import parse_trace
from runner.sim.world import check_world_kind
from spec.apiserver.properties import SOMETIMES

SEEDS = range(1, 9)


def run(seed: int, mutant: str = "") -> SimulationResult[ApiSetup]:
    def setup(prng: random.Random, swarm: SwarmOptions) -> ApiSetup:
        return msgspec.structs.replace(draw_setup(prng, swarm), mutant=mutant)

    options = RunOptions(seed=seed, safety_steps=300, liveness_steps=200)
    return simulate(APISERVER, options, setup)


def test_the_world_kind_is_well_formed_and_registered() -> None:
    check_world_kind(APISERVER)
    assert WORLDS["apiserver"] is APISERVER


def test_seeded_runs_pass_and_exercise_every_property() -> None:
    held: set[str] = set()
    faults: set[str] = set()
    for seed in SEEDS:
        result = run(seed)
        assert result.result.status == "pass", result.result.message
        held |= {name for name, step in result.coverage.items() if step is not None}
        faults |= set(result.header.swarm.faults)
    assert held == {name for name, _, _ in SOMETIMES}
    assert faults == set(APISERVER.fault_kinds)


def test_a_run_replays_bit_for_bit() -> None:
    result = run(4)
    report = replay(parse_trace(result.trace.content(), "apiserver.jsonl", WORLDS))
    assert report.reproduced
    assert report.steps_replayed == result.result.steps


@pytest.mark.parametrize(
    ("mutant", "caught_by"),
    [
        ("ignore-resource-version", {"no_lost_update", "write_versions_increase",
                                     "linearizable", "list_consistent"}),
        ("skip-watch-event", {"watch_ordered_gap_free"}),
        ("stale-list", {"list_consistent", "linearizable", "finalizer_blocks_deletion"}),
    ],
)  # fmt: skip
def test_broken_servers_are_caught_at_the_step(mutant: str, caught_by: set[str]) -> None:
    results = [run(seed, mutant).result for seed in SEEDS]
    found = {result.property for result in results}
    assert found & caught_by
    assert found <= caught_by | {None}
    # Judged after every step: the run stops at the step that broke the property, well
    # before the safety phase's end, rather than at the final judgement.
    assert all(r.index is not None and r.index < 300 for r in results if r.property)


def test_the_cli_runs_passes_and_catches_a_mutant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "apiserver", "--seed", "2", "--steps", "200"]) == 0
    assert "PASS: every API property held after every step" in capsys.readouterr().out
    trace = tmp_path / "stale.jsonl"
    argv = ["simulate", "apiserver", "--mutant", "stale-list", "--trace", str(trace), "-o", "json"]
    assert main(argv) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["result"]["property"] in {"list_consistent", "linearizable"}
    assert main(["replay", str(trace)]) == 0
    assert main(["simulate", "apiserver", "--faults", "disk-full"]) == 2
