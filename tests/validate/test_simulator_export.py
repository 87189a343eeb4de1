"""Simulator runs exported to kubeoracle's format and to etcd-io/raft's format validate clean
(mutant runs: ``test_mutant_traces``).

The runs are short (3 nodes, a few hundred steps) to keep the suite fast; the seeds exercise
elections, replication, restarts and, with the swarm fault mix, membership changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.raft.simulator import SimulationOptions, simulate
from runner.raft.trace_export import node_events
from runner.raft.trace_writers import etcd_lines, kubeoracle_lines
from runner.sim.trace import parse_trace
from spec.raft_validation import Summary
from tests.validate.helpers import validate_lines


def exported(seed: int, mutant: str = "none", steps: int = 400) -> tuple[list[str], list[str]]:
    result = simulate(
        SimulationOptions(seed=seed, nodes=3, safety_steps=steps, liveness_steps=600, mutant=mutant)
    )
    events = node_events(parse_trace(result.trace.content(), f"seed-{seed}", WORLDS))
    return kubeoracle_lines(events, f"simulator seed {seed}"), etcd_lines(events)


@pytest.mark.parametrize("seed", [1, 6, 16])
def test_simulator_run_validates_clean_in_both_formats(seed: int, tmp_path: Path) -> None:
    ours, etcd = exported(seed)
    for name, lines in (("run.jsonl", ours), ("run.ndjson", etcd)):
        verdict = validate_lines(lines, tmp_path, name)
        assert isinstance(verdict, Summary), (name, verdict)
        assert verdict.leaders >= 1


def test_export_command_writes_both_formats(tmp_path: Path) -> None:
    result = simulate(SimulationOptions(seed=4, nodes=3, safety_steps=300, liveness_steps=600))
    trace = tmp_path / "run.trace.jsonl"
    result.trace.write_to(trace)
    ours, etcd = tmp_path / "events.jsonl", tmp_path / "events.ndjson"
    assert main(["export", "raft", str(trace), "--to", str(ours)]) == 0
    assert main(["export", "raft", str(trace), "--format", "etcd-raft", "--to", str(etcd)]) == 0
    assert json.loads(ours.read_text().splitlines()[0])["format"] == "kubeoracle-raft-events"
    assert json.loads(etcd.read_text().splitlines()[0])["tag"] == "trace"
    missing = tmp_path / "missing.jsonl"
    assert main(["export", "raft", str(missing), "--to", str(ours)]) == 2
