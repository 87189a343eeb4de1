"""Unit tests of single handlers on a single node, beyond the paper's scenarios: flow control,
heartbeat answers, unreachable reports, pre-vote terms, misrouted messages, non-voters."""

from __future__ import annotations

import msgspec

from models.raft import (
    Campaign,
    ConfState,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgPreVote,
    MsgPreVoteResp,
    MsgVote,
    MsgVoteResp,
    Progress,
    ProposalRejected,
    Propose,
    RaftNodeState,
    Snapshot,
    SnapshotMetadata,
    Tick,
    UnreachableReported,
)
from tests.raft.builders import deliver, elected, node, of_type, run, sent, stored


def progress_of(state: RaftNodeState, node_id: int) -> Progress:
    return next(p for p in state.progress if p.node_id == node_id)


def test_probe_sends_one_append_until_answered() -> None:
    """Probe state: one MsgApp in flight; a heartbeat response unblocks the next (etcd)."""
    config, state = node(1)
    state = elected(config, state)
    step = run(config, state, Propose(data=b"a"), Propose(data=b"b"))
    # Followers never answered the first MsgApp: paused, so the proposals send nothing.
    assert [m for m in sent(step) if isinstance(m, MsgApp)] == []
    state = step.state
    step = deliver(config, state, MsgHeartbeatResp(from_id=2, to_id=1, term=1))
    [append] = [m for m in sent(step) if isinstance(m, MsgApp)]
    assert (append.to_id, append.prev_log_index, [e.index for e in append.entries]) == (
        2,
        0,
        [1, 2, 3],
    )


def test_replicate_window_is_bounded() -> None:
    config, state = node(1, max_inflight_appends=2, max_entries_per_append=1)
    state = elected(config, state)
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=1)).state
    step = run(config, state, *[Propose(data=b"%d" % n) for n in range(4)])
    to_two = [m for m in sent(step) if isinstance(m, MsgApp) and m.to_id == 2]
    assert [m.entries[0].index for m in to_two] == [2, 3]
    # A heartbeat answer with a full window frees one slot (etcd 3.4).
    step = deliver(config, step.state, MsgHeartbeatResp(from_id=2, to_id=1, term=1))
    [more] = [m for m in sent(step) if isinstance(m, MsgApp)]
    assert more.entries[0].index == 4


def test_unreachable_follower_goes_back_to_probing() -> None:
    config, state = node(1)
    state = elected(config, state)
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=1)).state
    assert progress_of(state, 2).state == "replicate"
    state = run(config, state, UnreachableReported(node_id=2)).state
    assert progress_of(state, 2).state == "probe"


def test_heartbeat_commit_is_capped_by_match() -> None:
    config, state = node(1)
    state = elected(config, state)
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=1)).state
    assert state.commit_index == 1
    beats = [m for m in sent(run(config, state, Tick())) if isinstance(m, MsgHeartbeat)]
    assert {m.to_id: m.commit_index for m in beats} == {2: 1, 3: 0}


def test_follower_answers_heartbeat_and_learns_commit() -> None:
    config, state = node(2, stored([1, 1, 1], term=1))
    step = deliver(
        config, state, MsgHeartbeat(from_id=1, to_id=2, term=1, commit_index=2, context=b"c")
    )
    assert step.state.commit_index == 2
    assert step.state.lead == 1
    assert sent(step) == [MsgHeartbeatResp(from_id=2, to_id=1, term=1, context=b"c")]


def test_follower_rejects_proposal_with_leader_hint() -> None:
    config, state = node(2, stored([1], term=1))
    state = deliver(config, state, MsgHeartbeat(from_id=1, to_id=2, term=1)).state
    step = run(config, state, Propose(data=b"x"))
    assert of_type(step, ProposalRejected) == [ProposalRejected(reason="not_leader", leader_hint=1)]


def test_pre_vote_changes_no_term() -> None:
    """A pre-candidate asks for term + 1 without moving its own term; a voter grants a
    pre-vote of a later term without adopting it (Ongaro thesis 9.6)."""
    config, state = node(1, stored([1], term=3), pre_vote=True)
    step = run(config, state, Campaign())
    assert (step.state.role, step.state.term) == ("pre_candidate", 3)
    assert {m.term for m in sent(step) if isinstance(m, MsgPreVote)} == {4}
    voter_config, voter = node(2, stored([1], term=3), pre_vote=True)
    request = MsgPreVote(from_id=1, to_id=2, term=4, last_log_index=1, last_log_term=1)
    answer = deliver(voter_config, voter, request)
    assert answer.state.term == 3
    assert answer.state.vote == 0
    assert sent(answer) == [MsgPreVoteResp(from_id=2, to_id=1, term=4, reject=False)]
    # With the grant the pre-candidate campaigns for real, in term 4.
    won = deliver(config, step.state, MsgPreVoteResp(from_id=2, to_id=1, term=4, reject=False))
    assert (won.state.role, won.state.term) == ("candidate", 4)
    assert {m.term for m in sent(won) if isinstance(m, MsgVote)} == {4}


def test_stale_pre_vote_is_rejected_with_current_term() -> None:
    config, state = node(2, stored([1], term=5), pre_vote=True)
    request = MsgPreVote(from_id=1, to_id=2, term=3, last_log_index=1, last_log_term=1)
    step = deliver(config, state, request)
    assert sent(step) == [MsgPreVoteResp(from_id=2, to_id=1, term=5, reject=True)]


def test_misrouted_message_is_ignored() -> None:
    config, state = node(1)
    step = deliver(
        config, state, MsgVote(from_id=2, to_id=3, term=4, last_log_index=0, last_log_term=0)
    )
    assert step.state == state
    assert step.commands == ()


def test_non_voter_never_campaigns() -> None:
    config, state = node(4, stored([], term=0, voters=(1, 2, 3)))
    step = run(config, state, *[Tick()] * 40, Campaign())
    assert step.state.role == "follower"
    assert not any(isinstance(m, MsgVote) for m in sent(step))


def test_stale_vote_response_is_ignored() -> None:
    config, state = node(1, stored([1], term=1))
    state = run(config, state, Campaign()).state  # candidate in term 2
    stale = MsgVoteResp(from_id=2, to_id=1, term=1, reject=False)
    assert deliver(config, state, stale).state == state


def test_learner_can_vote() -> None:
    """etcd-io/raft TestLearnerCanVote: a learner answers a vote request like a voter (its
    vote counts only where it is a voter, e.g. in the other half of a joint config)."""
    conf = ConfState(voters=(1, 2, 3), learners=(4,))
    persisted = stored([1], term=1)
    persisted = msgspec.structs.replace(
        persisted, snapshot=Snapshot(metadata=SnapshotMetadata(conf_state=conf))
    )
    config, learner = node(4, persisted)
    assert learner.conf_state.learners == (4,)
    request = MsgVote(from_id=1, to_id=4, term=2, last_log_index=1, last_log_term=1)
    step = deliver(config, learner, request)
    assert sent(step) == [MsgVoteResp(from_id=4, to_id=1, term=2, reject=False)]


def test_proposals_beyond_the_uncommitted_limit_are_rejected() -> None:
    # The new leader's own empty entry 1 is committed once 2 holds it; a limit of 2 then admits
    # entries 2 and 3 (two uncommitted) and refuses the next (it would make three).
    config, state = node(1, max_uncommitted_entries=2)
    state = elected(config, state)
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=1)).state
    assert (state.persisted.last_index(), state.commit_index) == (1, 1)
    step = run(config, state, Propose(data=b"a"), Propose(data=b"b"), Propose(data=b"c"))
    assert of_type(step, ProposalRejected) == [
        ProposalRejected(reason="too_many_uncommitted_entries", leader_hint=1)
    ]
    assert step.state.persisted.last_index() == 3


def test_a_rejection_sends_a_replicating_member_back_to_probing() -> None:
    config, state = node(1)
    state = elected(config, state)
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=1)).state
    # Entries 2 and 3 go to 2 pipelined: MsgApp after 1, then MsgApp after 2.
    state = run(config, state, Propose(data=b"a"), Propose(data=b"b")).state
    assert progress_of(state, 2).state == "replicate"
    # 2 refuses the append after entry 2 (it holds only 1; a rejection at or below the match
    # index would be stale): back to probing from its hint.
    reject = MsgAppResp(from_id=2, to_id=1, term=1, index=2, reject=True, reject_hint=1)
    state = deliver(config, state, reject).state
    assert progress_of(state, 2).state == "probe"


def test_a_heartbeat_answer_from_an_up_to_date_member_sends_no_append() -> None:
    config, state = node(1)
    state = elected(config, state)
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=1)).state
    assert progress_of(state, 2).match_index == state.persisted.last_index()
    step = deliver(config, state, MsgHeartbeatResp(from_id=2, to_id=1, term=1))
    assert [m for m in sent(step) if isinstance(m, MsgApp)] == []
    # A member behind the leader's log gets what it is missing.
    step = deliver(config, state, MsgHeartbeatResp(from_id=3, to_id=1, term=1))
    [append] = [m for m in sent(step) if isinstance(m, MsgApp)]
    assert append.to_id == 3
