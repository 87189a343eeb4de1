"""Simulator runs of every Raft mutant (``models.raft.RaftMutant``), exported to both formats,
are rejected at the event where the mutant departs from Raft, naming the rule it breaks.

For each mutant the seeds from 1 on are tried (5 nodes, 1500 safety steps) until a run shows
the mutation; it must within ``SEEDS_BOUND`` seeds. What makes the flagged event the right one is
checked on the trace itself, not on the validator's words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli.worlds import WORLDS
from runner.raft.simulator import SimulationOptions, simulate
from runner.raft.trace_export import node_events
from runner.raft.trace_writers import etcd_lines, kubeoracle_lines
from runner.sim.trace import parse_trace
from spec.raft_validation import Violation
from tests.validate.helpers import validate_lines

SEEDS_BOUND = 10
CASES = [
    ("vote_twice", "one-vote-per-term"),
    ("skip_consistency_check", "log-matching"),
    ("joint_counts_new_only", "leader-commit-rule"),
    ("commit_previous_term_by_counting", "leader-commit-rule"),
    ("vote_not_persisted", "restart-from-persisted-state"),
]
ALSO_BROKEN = {
    "joint_counts_new_only": {"leader-needs-quorum"},
    "skip_consistency_check": {"state-matches-reference"},
}
"""Other rules the same mutation breaks at the same place, whichever a run shows first:
counting only the incoming majority wins elections as well as commits; in etcd's format every
line carries the node's state, so an append accepted without the check shows there as a log
the reference does not have (on the line right after the receive)."""


def exported(mutant: str, seed: int) -> tuple[list[str], list[str]]:
    result = simulate(
        SimulationOptions(seed=seed, nodes=5, safety_steps=1500, liveness_steps=1000, mutant=mutant)
    )
    events = node_events(parse_trace(result.trace.content(), f"{mutant}-{seed}", WORLDS))
    return kubeoracle_lines(events, f"{mutant} seed {seed}"), etcd_lines(events)


def check_right_event(mutant: str, records: list[dict[str, Any]], line: int) -> None:
    """What the flagged kubeoracle event shows, read from the trace."""
    flagged = records[line - 1]
    before = [record for record in records[1 : line - 1] if record["node"] == flagged["node"]]
    states = [record["state"] for record in before if "state" in record]
    if mutant == "vote_twice":
        message = flagged["message"]
        assert flagged["kind"] == "send"
        assert message["type"] in ("vote_response", "pre_vote_response")
        assert message["granted"]
        # Before this grant the node had reported a vote for someone else in the same term.
        votes = [state["vote"] for state in states if state["term"] == message["term"]]
        assert votes
        assert votes[-1] not in (None, message["destination"])
    elif mutant == "skip_consistency_check":
        received = [record for record in before if record["kind"] == "receive"]
        assert received[-1]["message"]["type"] == "append_request"
    elif mutant == "vote_not_persisted":
        assert flagged["kind"] == "init"
        assert flagged["state"]["vote"] is None
        persisted = [
            record for record in before if record["kind"] == "persist" and "state" in record
        ]
        assert persisted[-1]["state"]["vote"] is not None
    elif flagged["kind"] == "become_leader":
        assert mutant == "joint_counts_new_only"
        assert states[-1]["config"].get("outgoing_voters")  # elected in a joint configuration
    else:
        assert flagged["kind"] == "commit"
        assert states[-1]["role"] == "leader"
        if mutant == "joint_counts_new_only":
            assert states[-1]["config"].get("outgoing_voters")  # a joint configuration


@pytest.mark.parametrize(("mutant", "rule"), CASES)
def test_mutant_run_is_rejected_at_the_mutation(mutant: str, rule: str, tmp_path: Path) -> None:
    for seed in range(1, SEEDS_BOUND + 1):
        ours, etcd = exported(mutant, seed)
        verdict = validate_lines(ours, tmp_path, "run.jsonl")
        if isinstance(verdict, Violation):
            break
    else:
        pytest.fail(f"no run of {mutant} within {SEEDS_BOUND} seeds was rejected")
    allowed = {rule} | ALSO_BROKEN.get(mutant, set())
    assert verdict.rule.name in allowed, (seed, verdict.detail)
    check_right_event(mutant, [json.loads(line) for line in ours], verdict.line)
    etcd_verdict = validate_lines(etcd, tmp_path, "run.ndjson")
    assert isinstance(etcd_verdict, Violation)
    assert etcd_verdict.rule.name in allowed
