"""Learners, pre-vote quorums and ReadIndex in kubeoracle's event format, where they are traced:
each rule passes the behaviour Raft allows and names the one it does not (the failing cases are
also in ``traces/``, see ``test_bug_traces``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spec.raft_validation import Summary, Violation
from tests.validate.helpers import TRACES, validate_lines


def lines_of(name: str) -> list[str]:
    return (TRACES / name).read_text().splitlines()


def with_event(lines: list[str], line: int, event: dict[str, Any]) -> list[str]:
    """``lines`` with line ``line`` (1-based) replaced."""
    copy = list(lines)
    copy[line - 1] = json.dumps(event)
    return copy


def test_pre_candidate_with_a_majority_of_pre_votes_campaigns(tmp_path: Path) -> None:
    lines = [
        line.replace('"granted": false', '"granted": true').replace(
            '"term": 0, "granted"', '"term": 1, "granted"'
        )
        for line in lines_of("pre_candidate_without_pre_vote_quorum.jsonl")
    ]
    verdict = validate_lines(lines, tmp_path, "prevote.jsonl")
    assert isinstance(verdict, Summary), getattr(verdict, "detail", "")


def committed_read_index_trace(read_index: int) -> list[str]:
    """The read index trace with the leader's entry 2 acknowledged and committed first."""
    lines = lines_of("read_index_before_commit_in_term.jsonl")[:10]
    append = {
        "type": "append_request",
        "source": "1",
        "destination": "2",
        "term": 2,
        "prev_log_index": 1,
        "prev_log_term": 1,
        "entry_terms": [2],
        "leader_commit": 1,
    }
    ack = {
        "type": "append_response",
        "source": "2",
        "destination": "1",
        "term": 2,
        "success": True,
        "match_index": 2,
    }
    request = {"type": "read_index_request", "source": "2", "destination": "1", "term": 2}
    answer = {
        "type": "read_index_response",
        "source": "1",
        "destination": "2",
        "term": 2,
        "read_index": read_index,
    }
    events = [
        {"kind": "send", "node": "1", "message": append},
        {"kind": "receive", "node": "2", "message": append, "state": {"last_log_index": 2}},
        {"kind": "send", "node": "2", "message": ack},
        {"kind": "receive", "node": "1", "message": ack},
        {"kind": "commit", "node": "1", "commit_index": 2},
        {"kind": "send", "node": "2", "message": request},
        {"kind": "receive", "node": "1", "message": request},
        {"kind": "send", "node": "1", "message": answer},
    ]
    return lines + [json.dumps(event) for event in events]


def test_read_index_after_committing_an_entry_of_the_term(tmp_path: Path) -> None:
    verdict = validate_lines(committed_read_index_trace(2), tmp_path, "read.jsonl")
    assert isinstance(verdict, Summary), getattr(verdict, "detail", "")


def test_read_index_above_the_commit_index_is_rejected(tmp_path: Path) -> None:
    lines = committed_read_index_trace(3)
    verdict = validate_lines(lines, tmp_path, "read.jsonl")
    assert isinstance(verdict, Violation)
    assert (verdict.line, verdict.rule.name) == (len(lines), "read-index-rule")


def test_a_learner_receives_entries_but_its_vote_does_not_count(tmp_path: Path) -> None:
    config = {"voters": ["1", "2"], "learners": ["3"]}
    state = {
        "term": 1,
        "vote": None,
        "role": "follower",
        "commit_index": 0,
        "last_log_index": 0,
        "config": config,
    }
    request = {
        "type": "vote_request",
        "source": "1",
        "destination": "3",
        "term": 2,
        "last_log_index": 0,
        "last_log_term": 0,
    }
    grant = {"type": "vote_response", "source": "3", "destination": "1", "term": 2, "granted": True}
    append = {
        "type": "append_request",
        "source": "1",
        "destination": "3",
        "term": 2,
        "prev_log_index": 0,
        "prev_log_term": 0,
        "entry_terms": [2],
        "leader_commit": 0,
    }
    events: list[dict[str, Any]] = [
        {"kind": "init", "node": "1", "state": state},
        {"kind": "init", "node": "3", "state": state},
        {"kind": "become_candidate", "node": "1", "state": {"term": 2, "vote": "1"}},
        # etcd-io/raft lets a learner vote (raft.go:1215-1232): it may have been promoted.
        {"kind": "send", "node": "1", "message": request},
        {"kind": "receive", "node": "3", "message": request},
        {"kind": "send", "node": "3", "message": grant, "state": {"vote": "1"}},
        {"kind": "receive", "node": "1", "message": grant},
    ]
    lines = [json.dumps(event) for event in events]
    elected = [*lines, json.dumps({"kind": "become_leader", "node": "1"})]
    verdict = validate_lines(elected, tmp_path, "learner.jsonl")
    assert isinstance(verdict, Violation)
    assert (verdict.line, verdict.rule.name) == (len(elected), "leader-needs-quorum")
    assert "['3'] are outside the configuration" in verdict.detail
    follower = [
        *lines[:2],
        json.dumps(
            {
                "kind": "receive",
                "node": "3",
                "message": append,
                "state": {"term": 2, "last_log_index": 1},
            }
        ),
    ]
    assert isinstance(validate_lines(follower, tmp_path, "learner.jsonl"), Summary)


def test_a_node_demoted_by_a_committed_entry_is_a_learner(tmp_path: Path) -> None:
    """Leader 1 appends ``add_learner 3`` (a demotion), replicates and commits it; node 3
    applies it and then may not campaign."""
    voters = {"voters": ["1", "2", "3"]}
    leader = {
        "term": 1,
        "vote": "1",
        "role": "leader",
        "commit_index": 0,
        "last_log_index": 0,
        "config": voters,
    }
    follower = {
        "term": 1,
        "vote": "1",
        "role": "follower",
        "commit_index": 0,
        "last_log_index": 0,
        "config": voters,
    }
    append = {
        "type": "append_request",
        "source": "1",
        "destination": "3",
        "term": 1,
        "prev_log_index": 0,
        "prev_log_term": 0,
        "entry_count": 1,
        "leader_commit": 0,
    }
    ack = {
        "type": "append_response",
        "source": "3",
        "destination": "1",
        "term": 1,
        "success": True,
        "match_index": 1,
    }
    beat = {"type": "heartbeat", "source": "1", "destination": "3", "term": 1, "leader_commit": 1}
    events: list[dict[str, Any]] = [
        {"kind": "init", "node": "1", "state": leader},
        {"kind": "init", "node": "3", "state": follower},
        {"kind": "append", "node": "1", "changes": [{"action": "add_learner", "node": "3"}]},
        {"kind": "send", "node": "1", "message": append},
        {"kind": "receive", "node": "3", "message": append, "state": {"last_log_index": 1}},
        {"kind": "send", "node": "3", "message": ack},
        {"kind": "receive", "node": "1", "message": ack},
        {"kind": "commit", "node": "1", "commit_index": 1},
        {"kind": "send", "node": "1", "message": beat},
        {"kind": "receive", "node": "3", "message": beat},
        {"kind": "commit", "node": "3", "commit_index": 1},
        # The reported state says the change was simple, not a joint configuration.
        {
            "kind": "apply_config",
            "node": "3",
            "config": {"voters": ["1", "2"]},
            "state": {"config": {"voters": ["1", "2"]}},
        },
    ]
    lines = [json.dumps(event) for event in events]
    assert isinstance(validate_lines(lines, tmp_path, "demoted.jsonl"), Summary)
    campaign = json.dumps({"kind": "become_candidate", "node": "3"})
    verdict = validate_lines([*lines, campaign], tmp_path, "demoted.jsonl")
    assert isinstance(verdict, Violation)
    assert (verdict.rule.name, verdict.line) == ("role-transitions", len(lines) + 1)
    assert "is a learner" in verdict.detail
