"""etcd-io/raft's own trace (tla/example.ndjson) validates clean, and edits that break Raft are
caught at the edited line with the rule they break.

Expected values come from reading the trace (``/tmp``-free: the file is in ``corpus/``): node 2
wins term 2 (lines 76-102) in configuration {1,2,3,4,5}; at line 126 only nodes 2 and 3 hold
entry 6; node 4 reports commit 6 at line 162; node 3 receives a MsgApp with commit 5 at 112.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spec.raft_validation import Summary, Violation
from tests.validate.helpers import ETCD_EXAMPLE, edited, etcd_example_lines, validate_files
from tests.validate.helpers import validate_lines as run_lines


def test_example_validates_clean() -> None:
    verdict = validate_files([ETCD_EXAMPLE])
    assert isinstance(verdict, Summary)
    events = [json.loads(line)["event"] for line in etcd_example_lines()]
    assert verdict.nodes == tuple(sorted({event["nid"] for event in events}))
    assert len(verdict.nodes) == 10
    assert verdict.leaders == 1  # one BecomeLeader in the trace
    assert verdict.highest_term == max(event["state"]["term"] for event in events)
    assert verdict.committed_entries == max(event["state"]["commit"] for event in events)


def test_example_split_per_node_merges_back_by_timestamp(tmp_path: Path) -> None:
    by_node: dict[str, list[str]] = {}
    for line in etcd_example_lines():
        by_node.setdefault(json.loads(line)["event"]["nid"], []).append(line)
    paths = []
    for node, lines in sorted(by_node.items()):
        path = tmp_path / f"node-{node}.ndjson"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    verdict = validate_files(paths)
    assert isinstance(verdict, Summary)
    whole = validate_files([ETCD_EXAMPLE])
    assert isinstance(whole, Summary)
    assert verdict.committed_entries == whole.committed_entries


EDITS: list[tuple[str, int, dict[str, Any], str]] = [
    ("leader commits entry 6 held by 2 of 5", 126, {"state.commit": 6}, "leader-commit-rule"),
    ("commit index goes back from 6 to 5", 163, {"state.commit": 5}, "commit-index-monotonic"),
    ("MsgApp received that was never sent", 129, {"msg.logTerm": 2}, "message-was-sent"),
    ("term jumps without a message", 140, {"state.term": 3}, "term-rules"),
    ("vote granted to a node that did not ask", 94, {"msg.to": "3"}, "vote-needs-request"),
    ("follower becomes leader", 99, {"name": "BecomeLeader"}, "role-transitions"),
    ("follower commits past leaderCommit", 113, {"state.commit": 6}, "follower-commit-rule"),
    ("follower log does not take the entry", 113, {"log": 5}, "state-matches-reference"),
    ("vote request with a wrong last index", 77, {"msg.index": 4}, "message-matches-sender"),
]


@pytest.mark.parametrize(("what", "line", "change", "rule"), EDITS, ids=[e[0] for e in EDITS])
def test_edit_breaking_raft_is_caught(
    what: str, line: int, change: dict[str, Any], rule: str, tmp_path: Path
) -> None:
    verdict = run_lines(edited(etcd_example_lines(), line, change), tmp_path)
    assert isinstance(verdict, Violation), what
    assert verdict.line == line
    assert verdict.rule.name == rule
