"""Simulation runs: determinism (every seed run twice gives the same trace bytes), replay of
recorded traces (match; an edited action or fingerprint diverges at exactly that step), the
liveness phase on healthy seeds, and the stated seed bound of every caught mutant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.raft_world import RaftSetup
from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.exit_codes import ExitCode
from runner.raft.simulator import SimulationOptions, SimulationResult, simulate
from runner.sim.replay import replay
from runner.sim.trace import parse_trace

Recorded = SimulationResult[RaftSetup]
SEEDS = (1, 2, 3, 4)
SHORT = {"safety_steps": 500, "liveness_steps": 4000}


def run(seed: int, **options: object) -> Recorded:
    settings: dict[str, object] = {"seed": seed, **SHORT, **options}
    return simulate(SimulationOptions(**settings), "test")  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seed_run_twice_gives_the_same_trace(seed: int) -> None:
    first = run(seed, nodes=3 + seed % 3)
    second = run(seed, nodes=3 + seed % 3)
    assert first.trace.content() == second.trace.content()
    fingerprints = [line for line in first.trace.lines if b'"record":"step"' in line]
    assert len(fingerprints) == first.result.steps


def test_different_seeds_give_different_runs() -> None:
    assert run(1).trace.content() != run(2).trace.content()


def step_line(lines: list[str], index: int) -> int:
    for number, line in enumerate(lines):
        record = json.loads(line)
        if record["record"] == "step" and record["index"] == index:
            return number
    raise AssertionError(f"no step {index}")


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    result = run(5, nodes=5, faults=("crash", "drop", "duplicate", "membership", "partition"))
    assert result.result.status == "pass"
    return result


def test_a_recorded_trace_replays(recorded: Recorded) -> None:
    report = replay(parse_trace(recorded.trace.content(), "t.jsonl", WORLDS))
    assert report.divergence is None
    assert report.steps_replayed == recorded.result.steps


def edited(recorded: Recorded, index: int, change: str) -> tuple[bytes, int]:
    lines = recorded.trace.content().decode().splitlines()
    number = step_line(lines, index)
    record = json.loads(lines[number])
    if change == "fingerprint":
        record["fingerprint"] = "0" * 32
    else:
        # Tick another node than the one the run ticked, or deliver another message.
        action = record["action"]
        assert action["action"] in ("tick", "deliver"), action
        field = "node" if action["action"] == "tick" else "message"
        action[field] = action[field] + 1 if field == "message" else action[field] % 5 + 1
    lines[number] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return ("\n".join(lines) + "\n").encode(), number + 1


def first_tick_or_delivery(recorded: Recorded, after: int) -> int:
    for line in recorded.trace.lines:
        record = json.loads(line)
        is_step = record["record"] == "step" and record["index"] > after
        if is_step and record["action"]["action"] in ("tick", "deliver"):
            return int(record["index"])
    raise AssertionError("no tick or delivery")


@pytest.mark.parametrize("change", ["action", "fingerprint"])
def test_an_edited_step_diverges_at_that_step(recorded: Recorded, change: str) -> None:
    index = first_tick_or_delivery(recorded, 200)
    content, line = edited(recorded, index, change)
    report = replay(parse_trace(content, "t.jsonl", WORLDS))
    assert report.divergence is not None
    assert (report.divergence.step, report.divergence.line) == (index, line)
    assert report.steps_replayed == index - 1


def test_an_edited_action_names_the_fields_that_differ(
    recorded: Recorded,
) -> None:
    index = first_tick_or_delivery(recorded, 300)
    content, _ = edited(recorded, index, "action")
    report = replay(parse_trace(content, "t.jsonl", WORLDS))
    assert report.divergence is not None
    differences = report.divergence.differences
    if "cannot happen" not in report.divergence.reason:
        assert differences, report.divergence.reason
        assert all(d.expected != d.got for d in differences)


@pytest.mark.parametrize("faults", [(), ("crash", "drop", "duplicate", "membership", "partition")])
@pytest.mark.parametrize("seed", [1, 2])
def test_liveness_is_reached_on_healthy_seeds(seed: int, faults: tuple[str, ...]) -> None:
    result = run(seed, nodes=3, faults=faults)
    assert result.result.status == "pass"
    assert result.liveness_steps_used is not None
    assert result.liveness_steps_used <= SHORT["liveness_steps"]


def test_the_cli_simulates_and_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.jsonl"
    arguments = ["simulate", "raft", "--nodes", "3", "--seed", "3", "--steps", "300"]
    assert main([*arguments, "--trace", str(trace)]) == ExitCode.PASS
    assert "PASS" in capsys.readouterr().out
    assert main(["replay", str(trace), "-o", "json"]) == ExitCode.PASS
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "reproduced"
    assert report["steps_replayed"] == report["steps_in_trace"]


def test_list_mutants_names_every_raft_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    from models.raft import RaftMutant

    assert main(["simulate", "raft", "--list-mutants", "-o", "json"]) == ExitCode.PASS
    listed = {m["name"] for m in json.loads(capsys.readouterr().out)["mutants"]}
    assert listed == {mutant.value for mutant in RaftMutant}


def test_an_unknown_mutant_is_a_usage_error() -> None:
    assert main(["simulate", "raft", "--mutant", "nope"]) == ExitCode.USAGE
