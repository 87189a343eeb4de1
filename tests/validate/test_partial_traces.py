"""Fields and events an implementation does not log are unknown, not guessed: a simulator run
with its receives, its states, its entry terms or its persists left out still validates, and a
double vote is still caught when receives are not logged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.cli.worlds import WORLDS
from runner.raft.simulator import SimulationOptions, simulate
from runner.raft.trace_export import node_events
from runner.raft.trace_writers import kubeoracle_lines
from runner.sim.trace import parse_trace
from spec.raft_validation import Summary, Violation
from tests.validate.helpers import TRACES, validate_lines

Record = dict[str, Any]


def without_receives(record: Record) -> Record | None:
    return None if record.get("kind") == "receive" else record


def without_states(record: Record) -> Record | None:
    if record.get("kind") != "init":
        record.pop("state", None)
    return record


def with_entry_counts(record: Record) -> Record | None:
    message = record.get("message", {})
    if "entry_terms" in message:
        message["entry_count"] = len(message.pop("entry_terms"))
    record.get("state", {}).pop("last_log_term", None)
    return record


def without_persists(record: Record) -> Record | None:
    return None if record.get("kind") == "persist" else record


@pytest.fixture(scope="module")
def simulated() -> list[str]:
    result = simulate(SimulationOptions(seed=12, nodes=3, safety_steps=600, liveness_steps=600))
    return kubeoracle_lines(
        node_events(parse_trace(result.trace.content(), "seed-12", WORLDS)), "seed 12"
    )


@pytest.mark.parametrize(
    "strip", [without_receives, without_states, with_entry_counts, without_persists]
)
def test_partial_trace_validates(
    strip: Callable[[Record], Record | None], simulated: list[str], tmp_path: Path
) -> None:
    kept = [strip(json.loads(line)) for line in simulated[1:]]
    lines = [json.dumps(record) for record in kept if record is not None]
    assert len(lines) > 100
    assert isinstance(validate_lines(lines, tmp_path, "partial.jsonl"), Summary)


def test_double_vote_caught_without_receives(tmp_path: Path) -> None:
    lines = (TRACES / "double_vote.jsonl").read_text().splitlines()
    kept = [line for line in lines if '"kind": "receive"' not in line]
    verdict = validate_lines(kept, tmp_path, "double_vote.jsonl")
    assert isinstance(verdict, Violation)
    assert verdict.rule.name == "one-vote-per-term"
    assert kept[verdict.line - 1] == lines[-1]  # the second grant
