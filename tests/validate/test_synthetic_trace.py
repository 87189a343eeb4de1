"""The synthetic etcd-raft trace (the benchmark's input) is consistent with Raft, across
elections and clusters of 3 and 5 nodes, and breaking one of its leader commits is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.raft.synthetic_trace import synthetic_etcd_trace
from spec.raft_validation import Summary, Violation
from tests.validate.helpers import validate_lines


@pytest.mark.parametrize("nodes", [3, 5])
def test_synthetic_trace_validates_clean(nodes: int, tmp_path: Path) -> None:
    lines = synthetic_etcd_trace(3000, nodes, seed=7)
    verdict = validate_lines(lines, tmp_path)
    assert isinstance(verdict, Summary)
    leaders = sum(json.loads(line)["event"]["name"] == "BecomeLeader" for line in lines)
    assert leaders > 1
    assert verdict.leaders == leaders
    assert len(verdict.nodes) == nodes


def test_commit_before_a_quorum_is_caught(tmp_path: Path) -> None:
    lines = synthetic_etcd_trace(3000, 3, seed=7)
    records = [json.loads(line) for line in lines]
    # The leader's first Commit after its self-acknowledgement, before any follower answered:
    # only the leader holds the new entry, so advancing the commit index there breaks the rule.
    position = next(
        index
        for index, record in enumerate(records)
        if record["event"]["name"] == "Commit"
        and records[index - 1]["event"]["name"] == "ReceiveAppendEntriesResponse"
        and records[index - 1]["event"]["msg"]["from"] == record["event"]["nid"]
        and record["event"]["log"] > record["event"]["state"]["commit"]
    )
    records[position]["event"]["state"]["commit"] = records[position]["event"]["log"]
    broken = [json.dumps(record) for record in records]
    verdict = validate_lines(broken, tmp_path)
    assert isinstance(verdict, Violation)
    assert verdict.line == position + 1
    assert verdict.rule.name == "leader-commit-rule"
