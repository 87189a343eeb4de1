"""Simulator runs of Raft mutants (``models.raft.RaftMutant``), exported to both formats, are
rejected at the event where the mutant departs from Raft, naming the rule it breaks.

The seeds are runs (5 nodes, 1500 safety steps) in which the mutation shows; what makes the
flagged event the right one is checked on the trace itself, not on the validator's words.
(``commit_previous_term_by_counting`` did not show in the seeds tried; the Figure 8 trace in
``traces/`` covers it.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.raft_trace_export import node_events
from runner.raft_trace_writers import etcd_lines, kubeoracle_lines
from runner.simulator import SimulationOptions, simulate
from runner.trace import parse_trace
from spec.raft_validation import Violation
from tests.validate.helpers import validate_lines

CASES = [
    ("vote_twice", 1, "one-vote-per-term"),
    ("skip_consistency_check", 1, "log-matching"),
    ("joint_counts_new_only", 7, "leader-commit-rule"),
]


def exported(mutant: str, seed: int) -> tuple[list[str], list[str]]:
    result = simulate(
        SimulationOptions(seed=seed, nodes=5, safety_steps=1500, liveness_steps=1000, mutant=mutant)
    )
    events = node_events(parse_trace(result.trace.content(), f"{mutant}-{seed}"))
    return kubeoracle_lines(events, f"{mutant} seed {seed}"), etcd_lines(events)


def check_right_event(mutant: str, records: list[dict[str, Any]], line: int) -> None:
    """What the flagged kubeoracle event shows, read from the trace."""
    flagged = records[line - 1]
    before = [record for record in records[1 : line - 1] if record["node"] == flagged["node"]]
    if mutant == "vote_twice":
        message = flagged["message"]
        assert (flagged["kind"], message["type"], message["granted"]) == (
            "send",
            "vote_response",
            True,
        )
        # Before this grant the node had reported a vote for someone else in the same term.
        votes = [
            record["state"]["vote"]
            for record in before
            if "state" in record and record["state"]["term"] == message["term"]
        ]
        assert votes
        assert votes[-1] not in (None, message["destination"])
    elif mutant == "skip_consistency_check":
        received = [record for record in before if record["kind"] == "receive"]
        assert received[-1]["message"]["type"] == "append_request"
    else:
        assert flagged["kind"] == "commit"
        configs = [record["state"]["config"] for record in before if "state" in record]
        assert configs[-1].get("outgoing_voters")  # the leader is in a joint configuration


@pytest.mark.parametrize(("mutant", "seed", "rule"), CASES)
def test_mutant_run_is_rejected_at_the_mutation(
    mutant: str, seed: int, rule: str, tmp_path: Path
) -> None:
    ours, etcd = exported(mutant, seed)
    verdict = validate_lines(ours, tmp_path, "run.jsonl")
    assert isinstance(verdict, Violation)
    assert verdict.rule.name == rule
    check_right_event(mutant, [json.loads(line) for line in ours], verdict.line)
    etcd_verdict = validate_lines(etcd, tmp_path, "run.ndjson")
    assert isinstance(etcd_verdict, Violation)
    assert etcd_verdict.rule.name == rule
