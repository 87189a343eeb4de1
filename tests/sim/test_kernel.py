"""The simulation kernel runs any world: a small non-Raft world (``toy_world``) simulates,
replays bit for bit and gets its deliberately broken variant caught; replay checks the recorded
deltas, not only the fingerprints; traces of an older format version or of an unknown world are
refused with a clear reason."""

from __future__ import annotations

import json
import random

import pytest

from runner.cli.worlds import WORLDS
from runner.errors import InputError
from runner.raft.simulator import SimulationOptions, simulate
from runner.sim.replay import replay
from runner.sim.simulate import RunOptions, SimulationResult
from runner.sim.simulate import simulate as simulate_world
from runner.sim.trace import parse_trace
from tests.sim.toy_world import TOY, TOY_WORLDS, ToySetup


def toy_run(seed: int, forget: bool) -> SimulationResult[ToySetup]:
    options = RunOptions(seed=seed, safety_steps=400, liveness_steps=200)

    def draw(prng: random.Random, swarm: object) -> ToySetup:
        return ToySetup(nodes=3 + prng.randrange(3), forget=forget)

    return simulate_world(TOY, options, draw, "test")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_toy_world_runs_and_replays(seed: int) -> None:
    result = toy_run(seed, forget=False)
    assert result.result.status == "pass"
    assert set(result.coverage) == {"count_rises"}
    assert result.coverage["count_rises"] is not None
    assert result.trace.content() == toy_run(seed, forget=False).trace.content()
    parsed = parse_trace(result.trace.content(), "toy.jsonl", TOY_WORLDS)
    assert parsed.header.world == "toy"
    report = replay(parsed)
    assert report.reproduced
    assert report.steps_replayed == result.result.steps


def test_the_toy_world_catches_its_broken_variant() -> None:
    """Counts that are not persisted go back on a restart: a seed whose swarm crashes nodes
    catches it, and the trace replays to the same violation."""
    for seed in range(1, 21):
        result = toy_run(seed, forget=True)
        if result.result.status == "violation":
            break
    else:
        pytest.fail("the forgetting counter survived 20 seeds")
    assert result.result.property == "count_never_decreases"
    assert "crash" in result.header.swarm.faults
    report = replay(parse_trace(result.trace.content(), "toy.jsonl", TOY_WORLDS))
    assert report.reproduced
    assert report.recorded.property == "count_never_decreases"


def raft_trace_lines() -> list[str]:
    result = simulate(SimulationOptions(seed=3, nodes=3, safety_steps=200, liveness_steps=800))
    assert result.result.status == "pass"
    return result.trace.content().decode().splitlines()


def test_a_false_delta_does_not_replay() -> None:
    """The fingerprint is left alone; only the recorded new value of one changed field is
    wrong. Replay must not call that trace reproduced."""
    lines = raft_trace_lines()
    for number, line in enumerate(lines):
        record = json.loads(line)
        changes = record.get("delta") or []
        small = [c for c in changes if isinstance(c.get("value"), int)]
        if record["record"] == "step" and small:
            small[0]["value"] += 1
            lines[number] = json.dumps(record, sort_keys=True, separators=(",", ":"))
            break
    else:
        pytest.fail("no step changed an integer field")
    report = replay(parse_trace(("\n".join(lines) + "\n").encode(), "t.jsonl", WORLDS))
    assert report.divergence is not None
    assert report.divergence.step == record["index"]
    assert report.divergence.line == number + 1
    assert "delta is false" in report.divergence.reason
    assert [d.path for d in report.divergence.differences] == [small[0]["path"]]


def test_a_missing_delta_entry_does_not_replay() -> None:
    lines = raft_trace_lines()
    for number, line in enumerate(lines):
        record = json.loads(line)
        if record["record"] == "step" and len(record.get("delta") or []) >= 2:
            record["delta"] = record["delta"][1:]
            lines[number] = json.dumps(record, sort_keys=True, separators=(",", ":"))
            break
    report = replay(parse_trace(("\n".join(lines) + "\n").encode(), "t.jsonl", WORLDS))
    assert report.divergence is not None
    assert report.divergence.line == number + 1


def test_an_older_trace_version_is_refused_clearly() -> None:
    lines = raft_trace_lines()
    header = json.loads(lines[0])
    header["version"] = 1
    lines[0] = json.dumps(header)
    with pytest.raises(InputError) as caught:
        parse_trace(("\n".join(lines) + "\n").encode(), "old.jsonl", WORLDS)
    assert (caught.value.line, caught.value.field) == (1, "version")
    assert "version 1 was written by an older kubeoracle" in caught.value.reason
    assert "record the run again" in caught.value.reason


def test_a_trace_of_an_unknown_world_is_refused() -> None:
    lines = raft_trace_lines()
    with pytest.raises(InputError) as caught:
        parse_trace(("\n".join(lines) + "\n").encode(), "t.jsonl", TOY_WORLDS)
    assert (caught.value.line, caught.value.field) == (1, "world")
    assert "unknown world 'raft'" in caught.value.reason
