"""Each shape etcd-io/raft v3.6.0's instrumentation gives a trace is accepted, and the same trace
made wrong is still rejected (or, where the trace cannot tell, found inconclusive).

The traces are written by hand in etcd-io/raft's format (``etcd_builder``), each following the
source lines cited (``raft.go``, ``bootstrap.go``, ``state_trace.go`` at v3.6.0) the way the real
traces in ``corpus/etcd-raft-v3.6`` do.
"""

from __future__ import annotations

from pathlib import Path

from spec.raft_validation import Summary, Violation
from tests.validate.etcd_builder import EtcdTrace, msg
from tests.validate.helpers import validate_lines

VOTERS = (1, 2, 3)
CONF = (VOTERS, ())


def elected(node3: str) -> tuple[EtcdTrace, dict[str, int]]:
    """Nodes 1-3 start from a snapshot at index 2 (term 1, as rafttest's add-nodes writes);
    node 1 wins term 1 with node 2's vote and replicates its empty entry 3. Node 3 missed the
    election: ``node3`` says whether it then catches up as a follower of term 0 (``follower``),
    as a candidate of term 1 (``candidate``), or hears nothing (``isolated``)."""
    trace = EtcdTrace()
    lines: dict[str, int] = {}
    for node in VOTERS:
        trace.start_from_snapshot(node, 2, VOTERS)
    vote = msg("MsgVote", 1, 1, 2, index=2, log_term=1)
    trace.event("BecomeCandidate", 1, (1, 1, 2), "C", 2, CONF)
    # campaign() votes for itself through a self-addressed MsgVoteResp (raft.go:1059).
    trace.event("SendRequestVoteResponse", 1, (1, 1, 2), "C", 2, CONF, msg("MsgVoteResp", 1, 1, 1))
    trace.event("SendRequestVoteRequest", 1, (1, 1, 2), "C", 2, CONF, vote)
    trace.event("Ready", 1, (1, 1, 2), "C", 2, CONF)
    trace.event(
        "ReceiveRequestVoteResponse", 1, (1, 1, 2), "C", 2, CONF, msg("MsgVoteResp", 1, 1, 1)
    )
    trace.event("ReceiveRequestVoteRequest", 2, (0, 0, 2), "F", 2, CONF, vote)
    trace.event("BecomeFollower", 2, (1, 0, 2), "F", 2, CONF)
    trace.event("SendRequestVoteResponse", 2, (1, 0, 2), "F", 2, CONF, msg("MsgVoteResp", 1, 2, 1))
    trace.event("Ready", 2, (1, 1, 2), "F", 2, CONF)
    if node3 == "candidate":
        trace.event("BecomeCandidate", 3, (1, 3, 2), "C", 2, CONF)
    trace.event(
        "ReceiveRequestVoteResponse", 1, (1, 1, 2), "C", 2, CONF, msg("MsgVoteResp", 1, 2, 1)
    )
    trace.event("BecomeLeader", 1, (1, 1, 2), "L", 2, CONF)
    lines["replicate"] = trace.event("Replicate", 1, (1, 1, 2), "L", 2, CONF)
    ack = msg("MsgAppResp", 1, 1, 1, index=3)
    trace.event("SendAppendEntriesResponse", 1, (1, 1, 2), "L", 3, CONF, ack)
    appends = {n: msg("MsgApp", 1, 1, n, index=2, log_term=1, entries=1, commit=2) for n in (2, 3)}
    trace.event("SendAppendEntriesRequest", 1, (1, 1, 2), "L", 3, CONF, appends[2])
    trace.event("SendAppendEntriesRequest", 1, (1, 1, 2), "L", 3, CONF, appends[3])
    trace.event("Ready", 1, (1, 1, 2), "L", 3, CONF)
    trace.event("ReceiveAppendEntriesResponse", 1, (1, 1, 2), "L", 3, CONF, ack)
    trace.event("Commit", 1, (1, 1, 2), "L", 3, CONF)
    trace.event("ReceiveAppendEntriesRequest", 2, (1, 1, 2), "F", 2, CONF, appends[2])
    acked = msg("MsgAppResp", 1, 2, 1, index=3)
    trace.event("SendAppendEntriesResponse", 2, (1, 1, 2), "F", 3, CONF, acked)
    if node3 == "follower":
        trace.event("ReceiveAppendEntriesRequest", 3, (0, 0, 2), "F", 2, CONF, appends[3])
        lines["step_down"] = trace.event("BecomeFollower", 3, (1, 0, 2), "F", 2, CONF)
        answer = msg("MsgAppResp", 1, 3, 1, index=3)
        trace.event("SendAppendEntriesResponse", 3, (1, 0, 2), "F", 3, CONF, answer)
    if node3 == "candidate":
        trace.event("ReceiveAppendEntriesRequest", 3, (1, 3, 2), "C", 2, CONF, appends[3])
        lines["step_down"] = trace.event("BecomeFollower", 3, (1, 3, 2), "F", 2, CONF)
        answer = msg("MsgAppResp", 1, 3, 1, index=3)
        trace.event("SendAppendEntriesResponse", 3, (1, 3, 2), "F", 3, CONF, answer)
    trace.event("ReceiveAppendEntriesResponse", 1, (1, 1, 2), "L", 3, CONF, acked)
    lines["commit"] = trace.event("Commit", 1, (1, 1, 3), "L", 3, CONF)
    return trace, lines


def verdict_of(lines: list[str], tmp_path: Path) -> Summary | Violation:
    return validate_lines(lines, tmp_path, "shape.ndjson")


def assert_violation(verdict: Summary | Violation, line: int, rule: str) -> None:
    assert isinstance(verdict, Violation), "accepted a trace that breaks Raft"
    assert (verdict.line, verdict.rule.name) == (line, rule), verdict.detail
    assert not verdict.inconclusive


# BecomeFollower mid-Step: Step traces the receive first (raft.go:1086), becomeFollower then
# traces term, vote and role already changed (raft.go:1119 on a higher term, raft.go:1683 for a
# candidate meeting the leader of its term), and handleAppendEntries appends after that
# (raft.go:1795): the log, commit index and configuration of that line are not yet updated.


def test_become_follower_mid_step_on_a_higher_term(tmp_path: Path) -> None:
    trace, _ = elected("follower")
    verdict = verdict_of(trace.lines, tmp_path)
    assert isinstance(verdict, Summary)
    assert (verdict.leaders, verdict.committed_entries) == (1, 3)


def test_become_follower_mid_step_of_a_candidate(tmp_path: Path) -> None:
    trace, _ = elected("candidate")
    assert isinstance(verdict_of(trace.lines, tmp_path), Summary)


def test_become_follower_mid_step_still_checks_term_and_vote(tmp_path: Path) -> None:
    trace, lines = elected("follower")
    step_down = lines["step_down"]
    wrong_term = verdict_of(trace.edited(step_down, {"state.term": 2}), tmp_path)
    assert_violation(wrong_term, step_down, "term-rules")
    wrong_vote = verdict_of(trace.edited(step_down, {"state.vote": "2"}), tmp_path)
    assert_violation(wrong_vote, step_down, "vote-needs-request")


def test_the_log_is_checked_on_the_line_after_the_step(tmp_path: Path) -> None:
    trace, lines = elected("follower")
    answer = lines["step_down"] + 1
    verdict = verdict_of(trace.edited(answer, {"log": 4}), tmp_path)
    assert_violation(verdict, answer, "state-matches-reference")


# The leave-joint entry: traceChangeConfEvent returns early when a change has no changes
# (state_trace.go; called at raft.go:1336) and traceReplicate traces normal entries only
# (raft.go:831), so the empty ConfChangeV2 is appended untraced; the leader's self-acknowledgement
# (raft.go:845) shows its index. With DisableConfChangeValidation (raft.go:1331) the application
# may propose it before the joint configuration is applied. This follows
# testdata/confchange_disable_validation.txt.


ONE = ((1,), ())


def single_voter_leader() -> EtcdTrace:
    """Voter 1 alone (snapshot at 2) wins term 1 and commits its empty entry 3
    (testdata/confchange_disable_validation.txt, up to its first proposal)."""
    trace = EtcdTrace()
    one = ONE
    trace.start_from_snapshot(1, 2, (1,))
    trace.event("BecomeCandidate", 1, (1, 1, 2), "C", 2, one)
    trace.event("SendRequestVoteResponse", 1, (1, 1, 2), "C", 2, one, msg("MsgVoteResp", 1, 1, 1))
    trace.event("Ready", 1, (1, 1, 2), "C", 2, one)
    trace.event(
        "ReceiveRequestVoteResponse", 1, (1, 1, 2), "C", 2, one, msg("MsgVoteResp", 1, 1, 1)
    )
    trace.event("BecomeLeader", 1, (1, 1, 2), "L", 2, one)
    trace.event("Replicate", 1, (1, 1, 2), "L", 2, one)
    ack = msg("MsgAppResp", 1, 1, 1, index=3)
    trace.event("SendAppendEntriesResponse", 1, (1, 1, 2), "L", 3, one, ack)
    trace.event("ReceiveAppendEntriesResponse", 1, (1, 1, 2), "L", 3, one, ack)
    trace.event("Commit", 1, (1, 1, 3), "L", 3, one)
    return trace


def leave_joint_early() -> tuple[EtcdTrace, int]:
    """Single voter 1 proposes ``foo``, a joint change adding learners 2 and 3, and the empty
    change leaving the joint configuration before the first is applied."""
    trace = single_voter_leader()
    one = ONE
    joint = ((1,), (1,))
    trace.event("Replicate", 1, (1, 1, 3), "L", 3, one)
    trace.event(
        "SendAppendEntriesResponse", 1, (1, 1, 3), "L", 4, one, msg("MsgAppResp", 1, 1, 1, index=4)
    )
    learners = {
        "cc": {
            "changes": [{"nid": "2", "action": "AddLearner"}, {"nid": "3", "action": "AddLearner"}]
        }
    }
    trace.event("ChangeConf", 1, (1, 1, 3), "L", 4, one, prop=learners)
    trace.event(
        "SendAppendEntriesResponse", 1, (1, 1, 3), "L", 5, one, msg("MsgAppResp", 1, 1, 1, index=5)
    )
    trace.event(
        "ReceiveAppendEntriesResponse",
        1,
        (1, 1, 3),
        "L",
        5,
        one,
        msg("MsgAppResp", 1, 1, 1, index=5),
    )
    trace.event("Commit", 1, (1, 1, 5), "L", 5, one)
    untraced = trace.event(
        "SendAppendEntriesResponse", 1, (1, 1, 5), "L", 6, one, msg("MsgAppResp", 1, 1, 1, index=6)
    )
    trace.event("ApplyConfChange", 1, (1, 1, 5), "L", 6, one, prop={"cc": {"newconf": ["1"]}})
    trace.event("Commit", 1, (1, 1, 5), "L", 6, joint)
    trace.event(
        "SendAppendEntriesRequest",
        1,
        (1, 1, 5),
        "L",
        6,
        joint,
        msg("MsgApp", 1, 1, 2, index=5, log_term=1, entries=1, commit=5),
    )
    trace.event(
        "ReceiveAppendEntriesResponse",
        1,
        (1, 1, 5),
        "L",
        6,
        joint,
        msg("MsgAppResp", 1, 1, 1, index=6),
    )
    trace.event("Commit", 1, (1, 1, 6), "L", 6, joint)
    trace.event("ApplyConfChange", 1, (1, 1, 6), "L", 6, joint, prop={"cc": {"newconf": ["1"]}})
    trace.event("Commit", 1, (1, 1, 6), "L", 6, one)
    return trace, untraced


def test_leave_joint_entry_before_the_joint_configuration_is_inferred(tmp_path: Path) -> None:
    trace, _ = leave_joint_early()
    verdict = verdict_of(trace.lines, tmp_path)
    assert isinstance(verdict, Summary)
    assert verdict.committed_entries == 6


def test_two_untraced_entries_at_once_are_inconclusive(tmp_path: Path) -> None:
    trace, untraced = leave_joint_early()
    verdict = verdict_of(trace.edited(untraced, {"log": 7, "msg.index": 7}), tmp_path)
    assert isinstance(verdict, Violation)
    assert verdict.inconclusive  # exit code 3, never 1: the trace does not say what they are
    assert verdict.line == untraced


def test_an_untraced_entry_of_a_follower_is_not_inferred(tmp_path: Path) -> None:
    trace, lines = elected("follower")
    answer = lines["step_down"] + 1
    verdict = verdict_of(trace.edited(answer, {"log": 4, "msg.index": 4}), tmp_path)
    assert isinstance(verdict, Violation)
    assert verdict.line == answer
    assert not verdict.inconclusive


# Snapshot restore: restore() resets the progress tracker (raft.go:1920) before switchToConfig
# traces ApplyConfChange (raft.go:1976), so that line reports ``conf [[],[]]``; ``newconf`` is the
# snapshot's (incoming) voters, and the log and commit index are the snapshot's already.


def snapshot_to_node3(index: int = 3) -> tuple[EtcdTrace, dict[str, int]]:
    """Node 3 missed the election; leader 1 sends it a snapshot at its commit index 3."""
    trace, lines = elected("isolated")
    snap = msg("MsgSnap", 1, 1, 3, entries=index)
    lines["send"] = trace.event("SendAppendEntriesRequest", 1, (1, 1, 3), "L", 3, CONF, snap)
    trace.event("ReceiveAppendEntriesRequest", 3, (0, 0, 2), "F", 2, CONF, snap)
    lines["step_down"] = trace.event("BecomeFollower", 3, (1, 0, 2), "F", 2, CONF)
    newconf = {"cc": {"newconf": ["1", "2", "3"]}}
    lines["restore"] = trace.event(
        "ApplyConfChange", 3, (1, 0, index), "F", index, ((), ()), prop=newconf
    )
    answer = msg("MsgAppResp", 1, 3, 1, index=index)
    lines["answer"] = trace.event(
        "SendAppendEntriesResponse", 3, (1, 0, index), "F", index, CONF, answer
    )
    return trace, lines


def test_snapshot_restore_reports_an_empty_configuration(tmp_path: Path) -> None:
    trace, _ = snapshot_to_node3()
    assert isinstance(verdict_of(trace.lines, tmp_path), Summary)


def test_snapshot_configuration_must_match_what_follows(tmp_path: Path) -> None:
    trace, lines = snapshot_to_node3()
    edited = trace.edited(lines["restore"], {"prop.cc.newconf": ["1", "2"]})
    assert_violation(verdict_of(edited, tmp_path), lines["answer"], "config-from-committed-entry")


def test_empty_configuration_without_a_snapshot_is_not_a_free_pass(tmp_path: Path) -> None:
    trace, _ = elected("follower")
    trace.event(
        "ApplyConfChange", 2, (1, 1, 2), "F", 3, ((), ()), prop={"cc": {"newconf": ["1", "2"]}}
    )
    assert_violation(
        verdict_of(trace.lines, tmp_path), len(trace.lines), "config-from-committed-entry"
    )


# Application-sent snapshots (rafttest's send-snapshot builds the MsgSnap itself, so no
# SendAppendEntriesRequest is traced): accepted when the sender has committed that far.


def test_snapshot_sent_by_the_application_is_accepted(tmp_path: Path) -> None:
    trace, lines = snapshot_to_node3()
    without_send = trace.lines[: lines["send"] - 1] + trace.lines[lines["send"] :]
    assert isinstance(verdict_of(without_send, tmp_path), Summary)


def test_unsent_snapshot_beyond_the_senders_commit_index_is_rejected(tmp_path: Path) -> None:
    trace, lines = snapshot_to_node3(index=4)
    without_send = trace.lines[: lines["send"] - 1] + trace.lines[lines["send"] :]
    verdict = verdict_of(without_send, tmp_path)
    assert_violation(verdict, lines["send"], "message-was-sent")


# Bootstrap: a node whose storage holds a snapshot starts with log == commit > 0 (log.go:92
# committed = firstIndex - 1, traced by InitState before the HardState is loaded) and has applied
# it; a node started by Bootstrap (bootstrap.go:50-78: becomeFollower(1), one AddNode entry per
# peer at term 1, committed, applied by hand) applies those entries again through Ready.


def test_snapshot_bootstrap_has_no_configuration_entry_left_to_apply(tmp_path: Path) -> None:
    trace, _ = elected("follower")
    trace.event(
        "ApplyConfChange", 2, (1, 1, 2), "F", 3, CONF, prop={"cc": {"newconf": ["1", "2", "3"]}}
    )
    assert_violation(
        verdict_of(trace.lines, tmp_path), len(trace.lines), "config-from-committed-entry"
    )


def bootstrapped(node: int) -> EtcdTrace:
    """``node`` started by StartNode with peers 1-3 (bootstrap.go) and its first Ready."""
    trace = EtcdTrace()
    empty: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    trace.event("InitState", node, (0, 0, 0), "F", 0, empty)
    trace.event("ApplyConfChange", node, (0, 0, 0), "F", 0, empty, prop={"cc": {}})
    trace.event("BecomeFollower", node, (0, 0, 0), "F", 0, empty)
    trace.event("BecomeFollower", node, (1, 0, 0), "F", 0, empty)
    voters: tuple[int, ...] = ()
    for peer in VOTERS:
        newconf = {"cc": {"newconf": [str(v) for v in (*voters, peer)]}}
        trace.event("ApplyConfChange", node, (1, 0, 3), "F", 3, (voters, ()), prop=newconf)
        voters = (*voters, peer)
    trace.event("Ready", node, (1, 0, 3), "F", 3, CONF)
    return trace


def reapply(trace: EtcdTrace, node: int, times: int) -> None:
    for _ in range(times):
        newconf = {"cc": {"newconf": ["1", "2", "3"]}}
        trace.event("ApplyConfChange", node, (1, 0, 3), "F", 3, CONF, prop=newconf)


def test_start_node_reapplies_its_bootstrap_entries(tmp_path: Path) -> None:
    trace = bootstrapped(1)
    reapply(trace, 1, 3)
    trace.event("BecomeCandidate", 1, (2, 1, 3), "C", 3, CONF)
    assert isinstance(verdict_of(trace.lines, tmp_path), Summary)


def test_start_node_may_not_campaign_before_reapplying(tmp_path: Path) -> None:
    # hup() refuses while committed configuration entries are unapplied (raft.go:983).
    trace = bootstrapped(1)
    reapply(trace, 1, 2)
    line = trace.event("BecomeCandidate", 1, (2, 1, 3), "C", 3, CONF)
    assert_violation(verdict_of(trace.lines, tmp_path), line, "no-campaign-with-unapplied-config")


def test_start_node_bootstrap_entries_are_known(tmp_path: Path) -> None:
    trace = bootstrapped(1)
    reapply(trace, 1, 2)
    line = trace.event(
        "ApplyConfChange", 1, (1, 0, 3), "F", 3, CONF, prop={"cc": {"newconf": ["1", "2"]}}
    )
    assert_violation(verdict_of(trace.lines, tmp_path), line, "config-from-committed-entry")


# Untraced messages: traceSendMessage and traceReceiveMessage (state_trace.go) return early for
# every type but MsgApp, MsgHeartbeat, MsgSnap, their responses, MsgVote and MsgVoteResp.


def test_pre_vote_round_and_step_down_after_an_untraced_pre_vote_response(
    tmp_path: Path,
) -> None:
    # Node 3 (term 0) pre-campaigns: becomePreCandidate is untraced (raft.go:917), its Ready
    # shows the role; a rejection carrying term 1 makes it a follower of term 1 with no traced
    # receive (raft.go:1092-1121: only a granted MsgPreVoteResp keeps the term).
    trace, _ = elected("isolated")
    trace.event("Ready", 3, (0, 0, 2), "P", 2, CONF)
    line = trace.event("BecomeFollower", 3, (1, 0, 2), "F", 2, CONF)
    assert isinstance(verdict_of(trace.lines, tmp_path), Summary)
    invented = verdict_of(trace.edited(line, {"state.term": 4}), tmp_path)
    assert_violation(invented, line, "term-rules")


def test_pre_candidate_becomes_candidate_without_traced_pre_votes(tmp_path: Path) -> None:
    trace, _ = elected("isolated")
    trace.event("Ready", 3, (0, 0, 2), "P", 2, CONF)
    trace.event("BecomeCandidate", 3, (1, 3, 2), "C", 2, CONF)
    assert isinstance(verdict_of(trace.lines, tmp_path), Summary)


def test_leadership_transfer_campaign_after_untraced_timeout_now(tmp_path: Path) -> None:
    # MsgTimeoutNow (stepFollower, raft.go:1753) makes node 2 campaign at once, skipping
    # pre-vote; the vote it then wins is traced as usual.
    trace, _ = elected("follower")
    trace.event("BecomeCandidate", 2, (2, 2, 2), "C", 3, CONF)
    assert isinstance(verdict_of(trace.lines, tmp_path), Summary)
    line = trace.event("BecomeLeader", 2, (2, 2, 2), "L", 3, CONF)
    assert_violation(verdict_of(trace.lines, tmp_path), line, "leader-needs-quorum")
