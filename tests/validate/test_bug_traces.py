"""Hand-written traces of known Raft bugs are rejected at the buggy event, naming the rule.

Each trace in ``traces/`` is kubeoracle's event format; the expected line and rule come from
reading the trace against the Raft paper (the comment beside each case says why). Each trace
without its buggy line is a consistent prefix, so the rejection is due to that line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spec.raft_validation import Summary, Violation
from tests.validate.helpers import TRACES, validate_files, validate_lines

CASES = [
    # Node 2 becomes leader of term 1 after node 1 did: two leaders in one term (Figure 3).
    ("two_leaders_one_term.jsonl", 11, "election-safety", "2"),
    # Node 2 accepts an entry of term 2 at index 1, where leader 1 committed an entry of term 1.
    ("committed_entry_overwritten.jsonl", 16, "committed-entry-never-overwritten", "2"),
    # Node 2's log ends (1, term 1); candidate 3's ends (0, term 0): less up-to-date (5.4.1).
    ("vote_for_stale_log.jsonl", 21, "vote-requires-up-to-date-log", "2"),
    # Node 3 already voted for 1 in term 1 and grants 2 as well (Figure 2, RequestVote).
    ("double_vote.jsonl", 12, "one-vote-per-term", "3"),
    # Node 2 reported commit index 1, then 0.
    ("commit_backwards.jsonl", 20, "commit-index-monotonic", "2"),
    # Votes {1, 4} in configuration {1, 2, 3}: only 1 counts, a majority needs 2.
    ("votes_outside_config.jsonl", 11, "leader-needs-quorum", "1"),
    # Figure 8: the leader of term 4 commits an entry of term 2 by counting replicas (5.4.2).
    ("figure8_commit_previous_term.jsonl", 19, "leader-commit-rule", "1"),
    # Entry 1 was committed in term 1; node 3 wins term 2 with an empty log.
    ("leader_without_committed_entry.jsonl", 16, "leader-completeness", "3"),
    # Index 1 committed with term 1 by leader 1, then with term 2 by node 2.
    ("two_entries_committed_at_one_index.jsonl", 13, "state-machine-safety", "2"),
    # Node 2 knows the configuration entry at 1 is committed but has not applied it.
    ("campaign_with_unapplied_config.jsonl", 14, "no-campaign-with-unapplied-config", "2"),
    # No configuration entry exists at all.
    ("config_without_entry.jsonl", 4, "config-from-committed-entry", "1"),
    # The leader's log goes from 2 entries back to 1.
    ("leader_drops_entry.jsonl", 12, "leader-append-only", "1"),
    # Persisted vote 1, restarted with none.
    ("restart_forgets_vote.jsonl", 5, "restart-from-persisted-state", "1"),
    # prevLogTerm 2 at index 1, where node 2 holds term 1: the append must be rejected.
    ("append_without_matching_prev.jsonl", 5, "log-matching", "2"),
    # Pre-votes from {1} of {1, 2, 3}: a real election needs a majority first (thesis 9.6).
    ("pre_candidate_without_pre_vote_quorum.jsonl", 9, "pre-vote-needs-quorum", "1"),
    # The leader of term 2 answers a read index before committing an entry of term 2.
    ("read_index_before_commit_in_term.jsonl", 13, "read-index-rule", "1"),
    # A learner campaigns.
    ("learner_campaigns.jsonl", 3, "role-transitions", "3"),
]


@pytest.mark.parametrize(("name", "line", "rule", "node"), CASES)
def test_bug_trace_is_rejected_at_the_buggy_line(
    name: str, line: int, rule: str, node: str
) -> None:
    verdict = validate_files([TRACES / name])
    assert isinstance(verdict, Violation)
    assert (verdict.source, verdict.line) == (str(TRACES / name), line)
    assert verdict.rule.name == rule
    assert verdict.node == node
    assert verdict.detail
    assert verdict.reference_state.startswith("term=")


@pytest.mark.parametrize(("name", "line", "rule", "node"), CASES)
def test_trace_before_the_buggy_line_is_consistent(
    name: str, line: int, rule: str, node: str, tmp_path: Path
) -> None:
    lines = (TRACES / name).read_text().splitlines()
    verdict = validate_lines(lines[: line - 1], tmp_path, name)
    assert isinstance(verdict, Summary)
    assert verdict.events == line - 2  # every line but the header is one event


def test_vote_outside_configuration_is_named() -> None:
    verdict = validate_files([TRACES / "votes_outside_config.jsonl"])
    assert isinstance(verdict, Violation)
    assert "['4'] are outside the configuration" in verdict.detail


def test_every_rule_is_broken_by_some_test_trace() -> None:
    """No rule is vacuous: each one names the violation of a trace here or an edit of
    etcd-io/raft's example (``test_etcd_example.EDITS``)."""
    from spec.raft_validation import ALL_RULES
    from tests.validate.test_etcd_example import EDITS

    named = {rule for _, _, rule, _ in CASES} | {rule for _, _, _, rule in EDITS}
    assert {rule.name for rule in ALL_RULES} == named
