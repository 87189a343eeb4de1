"""The Raft paper's behaviours (sections 5.1-5.4), one scenario each, after the list of
etcd raft's ``raft_paper_test.go``. Expected values come from the paper's rules, computed by
hand in each test's comments."""

from __future__ import annotations

import pytest

from impl.raft import init
from models.raft import (
    ApplyEntries,
    Campaign,
    CommitAdvanced,
    ConfState,
    Entry,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgVote,
    MsgVoteResp,
    PersistEntries,
    PersistHardState,
    ProposalAccepted,
    Propose,
    RaftConfig,
    RandomDrawn,
    RequestRandom,
    Tick,
)
from tests.raft.builders import (
    campaign,
    deliver,
    elected,
    log_of,
    node,
    of_type,
    run,
    sent,
    stored,
)
from tests.raft.cluster import Cluster

# -- section 5.1: terms ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["follower", "candidate", "leader"])
def test_update_term_from_message(role: str) -> None:
    """A server that sees a higher term adopts it; a candidate or leader reverts to follower
    (section 5.1). MsgApp names the sender as leader."""
    config, state = node(1)
    if role == "candidate":
        state = campaign(config, state).state
    elif role == "leader":
        state = elected(config, state)
    assert state.role == role
    message = MsgApp(from_id=2, to_id=1, term=5, prev_log_index=0, prev_log_term=0)
    after = deliver(config, state, message).state
    assert (after.role, after.term, after.lead) == ("follower", 5, 2)
    assert after.vote == 0


def test_reject_stale_term_message_is_ignored() -> None:
    """A request with a stale term is ignored (section 5.1; etcd ignores it when neither
    CheckQuorum nor PreVote is on)."""
    config, state = node(1, stored([1, 2], term=2), check_quorum=False)
    message = MsgApp(from_id=2, to_id=1, term=1, prev_log_index=2, prev_log_term=2)
    step = deliver(config, state, message)
    assert step.state == state
    assert step.commands == ()


def test_stale_leader_learns_newer_term_with_check_quorum() -> None:
    """With CheckQuorum, a stale MsgApp is answered with the current term so the old leader
    steps down (etcd)."""
    config, state = node(1, stored([1, 2], term=2))
    message = MsgApp(from_id=2, to_id=1, term=1, prev_log_index=2, prev_log_term=2)
    step = deliver(config, state, message)
    assert sent(step) == [MsgAppResp(from_id=1, to_id=2, term=2, index=0)]


# -- section 5.2: leader election --------------------------------------------------------------


def test_start_as_follower() -> None:
    _config, state = node(1)
    assert (state.role, state.term, state.lead) == ("follower", 0, 0)


def test_start_requests_a_random_election_timeout() -> None:
    """The randomized timeout is an input: [election_timeout, 2 * election_timeout)."""
    step = init(RaftConfig(node_id=1), None, ConfState(voters=(1, 2, 3)))
    assert of_type(step, RequestRandom) == [RequestRandom(low=10, high=20)]
    assert step.state.random_requested


def test_leader_bcast_beat() -> None:
    """On each heartbeat tick the leader sends MsgHeartbeat, without entries, to every
    follower, with commit min(follower match, commit) (section 5.2; etcd)."""
    config, state = node(1)
    state = elected(config, state)
    step = run(config, state, Tick())
    beats = [m for m in sent(step) if isinstance(m, MsgHeartbeat)]
    # Nobody acknowledged the new leader's entry yet: match 0, so commit 0 is sent.
    assert beats == [
        MsgHeartbeat(from_id=1, to_id=2, term=1, commit_index=0),
        MsgHeartbeat(from_id=1, to_id=3, term=1, commit_index=0),
    ]


@pytest.mark.parametrize("role", ["follower", "candidate"])
def test_start_election_after_timeout(role: str) -> None:
    """After the election timeout a follower (or a candidate without a majority) increments
    its term, becomes candidate, votes for itself and sends RequestVote to all (5.2)."""
    config, state = node(1, stored([1, 1], term=1))
    if role == "candidate":
        state = campaign(config, state).state
    start_term = state.term
    step = campaign(config, state)
    after = step.state
    assert (after.role, after.term, after.vote) == ("candidate", start_term + 1, 1)
    votes = [m for m in sent(step) if isinstance(m, MsgVote)]
    assert votes == [
        MsgVote(from_id=1, to_id=to, term=start_term + 1, last_log_index=2, last_log_term=1)
        for to in (2, 3)
    ]


@pytest.mark.parametrize(
    ("size", "responses", "role"),
    [
        (1, {}, "leader"),
        (3, {2: True, 3: True}, "leader"),
        (3, {2: True}, "leader"),
        (5, {2: True, 3: True, 4: True, 5: True}, "leader"),
        (5, {2: True, 3: True}, "leader"),
        (3, {}, "candidate"),
        (5, {2: True}, "candidate"),
        (5, {2: True, 3: False, 4: False}, "candidate"),
        (3, {2: False, 3: False}, "follower"),
        (5, {2: False, 3: False, 4: False}, "follower"),
    ],
)
def test_leader_election_in_one_round(size: int, responses: dict[int, bool], role: str) -> None:
    """One RequestVote round: win with a majority (self included), lose when a majority
    refused, otherwise stay candidate (5.2)."""
    voters = tuple(range(1, size + 1))
    config, state = node(1, voters=voters)
    state = campaign(config, state).state
    for voter, granted in responses.items():
        reply = MsgVoteResp(from_id=voter, to_id=1, term=1, reject=not granted)
        state = deliver(config, state, reply).state
    assert state.role == role


@pytest.mark.parametrize(
    ("vote", "candidate", "granted"),
    [(0, 2, True), (0, 3, True), (2, 2, True), (3, 3, True), (2, 3, False), (3, 2, False)],
)
def test_follower_vote(vote: int, candidate: int, granted: bool) -> None:
    """At most one vote per term, first come first served (5.2)."""
    config, state = node(1, stored([], term=1, vote=vote))
    request = MsgVote(from_id=candidate, to_id=1, term=1, last_log_index=0, last_log_term=0)
    step = deliver(config, state, request)
    assert sent(step) == [
        MsgVoteResp(from_id=1, to_id=candidate, term=1, reject=not granted),
    ]
    assert step.state.vote == (candidate if granted else vote)


@pytest.mark.parametrize("term", [1, 2])
def test_candidate_fallback(term: int) -> None:
    """A candidate that receives AppendEntries from a leader of term >= its own becomes a
    follower of that leader (5.2)."""
    config, state = node(1)
    state = campaign(config, state).state
    assert (state.role, state.term) == ("candidate", 1)
    message = MsgApp(from_id=2, to_id=1, term=term, prev_log_index=0, prev_log_term=0)
    after = deliver(config, state, message).state
    assert (after.role, after.term, after.lead) == ("follower", term, 2)


@pytest.mark.parametrize("draw", [10, 13, 19])
@pytest.mark.parametrize("role", ["follower", "candidate"])
def test_election_timeout_is_the_random_draw(draw: int, role: str) -> None:
    """The election timeout is the drawn value: nothing happens for draw - 1 ticks, an
    election starts at tick ``draw`` (5.2)."""
    config, state = node(1)
    if role == "candidate":
        state = campaign(config, state).state
    term = state.term
    state = run(config, state, RandomDrawn(value=draw)).state
    quiet = run(config, state, *[Tick()] * (draw - 1))
    assert quiet.state.term == term
    assert not any(isinstance(m, MsgVote) for m in sent(quiet))
    fired = run(config, quiet.state, Tick())
    assert fired.state.term == term + 1
    assert fired.state.role == "candidate"


def test_election_timeouts_nonconflict() -> None:
    """With distinct draws, the node with the smallest timeout starts the only election and
    wins before anyone else times out (5.2)."""
    cluster = Cluster.create([1, 2, 3])
    cluster.random_values.update({1: 19, 2: 10, 3: 19})
    # Re-draw: start each node's timer from a fresh reset (a restart from its stored state).
    for node_id in (1, 2, 3):
        cluster.restart(node_id)
    for _ in range(10):
        for node_id in (1, 2, 3):
            cluster.tick(node_id)
        cluster.deliver_all()
    assert cluster.leaders() == [2]
    candidates = [
        node_id for node_id in (1, 3) if any(isinstance(m, MsgVote) for m in cluster.sent(node_id))
    ]
    assert candidates == []


def test_vote_request_carries_last_log_position() -> None:
    """RequestVote carries the candidate's last log index and term, sent to all (5.4.1)."""
    config, state = node(1, stored([1, 2, 2], term=2, voters=(1, 2, 3, 4)))
    step = campaign(config, state)
    assert [m for m in sent(step) if isinstance(m, MsgVote)] == [
        MsgVote(from_id=1, to_id=to, term=3, last_log_index=3, last_log_term=2) for to in (2, 3, 4)
    ]


@pytest.mark.parametrize(
    ("voter_log", "last_index", "last_term", "granted"),
    [
        # Same last term: the longer (or equal) log wins.
        ([1, 1], 2, 1, True),
        ([1, 1], 3, 1, True),
        ([1, 1], 1, 1, False),
        # A higher last term wins regardless of length.
        ([1, 1], 1, 2, True),
        ([2, 2], 5, 1, False),
        ([2, 2], 1, 3, True),
    ],
)
def test_voter_denies_less_up_to_date_candidate(
    voter_log: list[int], last_index: int, last_term: int, granted: bool
) -> None:
    """Section 5.4.1: a vote is denied if the voter's log is more up-to-date."""
    config, state = node(1, stored(voter_log, term=2))
    request = MsgVote(
        from_id=2, to_id=1, term=3, last_log_index=last_index, last_log_term=last_term
    )
    step = deliver(config, state, request)
    assert sent(step) == [MsgVoteResp(from_id=1, to_id=2, term=3, reject=not granted)]


# -- section 5.3: log replication --------------------------------------------------------------


def test_leader_start_replication() -> None:
    """A proposal is appended to the leader's log and sent to every follower with the
    preceding entry's index and term (5.3)."""
    config, state = node(1)
    state = elected(config, state)
    # Let the followers accept the leader's empty entry (index 1) so they are replicating.
    for follower in (2, 3):
        ack = MsgAppResp(from_id=follower, to_id=1, term=1, index=1)
        state = deliver(config, state, ack).state
    step = run(config, state, Propose(data=b"x"))
    entry = Entry(term=1, index=2, data=b"x")
    assert step.state.persisted.log[-1] == entry
    assert of_type(step, ProposalAccepted) == [ProposalAccepted(index=2, term=1)]
    assert of_type(step, PersistEntries) == [PersistEntries(entries=(entry,))]
    assert sent(step) == [
        MsgApp(
            from_id=1,
            to_id=to,
            term=1,
            prev_log_index=1,
            prev_log_term=1,
            entries=(entry,),
            commit_index=1,
        )
        for to in (2, 3)
    ]


def test_leader_commit_entry_and_announce_commit() -> None:
    """Once replicated on a majority the entry is committed and applied; the leader sends the
    new commit index in later AppendEntries (5.3)."""
    config, state = node(1)
    state = elected(config, state)
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=1)).state
    state = run(config, state, Propose(data=b"x")).state
    step = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=1, index=2))
    assert step.state.commit_index == 2
    assert of_type(step, CommitAdvanced) == [CommitAdvanced(commit_index=2)]
    assert of_type(step, ApplyEntries) == [
        ApplyEntries(entries=(Entry(term=1, index=2, data=b"x"),))
    ]
    # Node 2 is replicating: it is told the new commit index at once. Node 3 never answered
    # its probe, so it is paused until a heartbeat response (etcd).
    to_two = [m for m in sent(step) if isinstance(m, MsgApp) and m.to_id == 2]
    assert [m.commit_index for m in to_two] == [2]
    assert not [m for m in sent(step) if m.to_id == 3]


@pytest.mark.parametrize(
    ("size", "acceptors", "committed"),
    [
        (1, set(), True),
        (3, set(), False),
        (3, {2}, True),
        (3, {2, 3}, True),
        (5, {2}, False),
        (5, {2, 3}, True),
        (5, {2, 3, 4, 5}, True),
    ],
)
def test_leader_acknowledge_commit(size: int, acceptors: set[int], committed: bool) -> None:
    """An entry is committed once the leader has replicated it on a majority (5.3)."""
    config, state = node(1, voters=tuple(range(1, size + 1)))
    state = elected(config, state)
    for follower in sorted(acceptors):
        state = deliver(config, state, MsgAppResp(from_id=follower, to_id=1, term=1, index=1)).state
    assert (state.commit_index == 1) is committed


def test_leader_commit_preceding_entries() -> None:
    """Committing an entry of the current term commits every preceding entry, including
    those of earlier leaders (5.3)."""
    config, state = node(1, stored([1, 2], term=2))
    state = elected(config, state)  # term 3, empty entry at index 3
    step = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=3, index=3))
    assert step.state.commit_index == 3
    [applied] = of_type(step, ApplyEntries)
    assert isinstance(applied, ApplyEntries)
    assert [(e.index, e.term) for e in applied.entries] == [(1, 1), (2, 2), (3, 3)]


def test_follower_commit_entry() -> None:
    """A follower applies the entries it learns are committed, in log order, up to
    min(leader commit, index of last new entry) (5.3, Figure 2)."""
    config, state = node(1)
    entries = (Entry(term=1, index=1, data=b"a"), Entry(term=1, index=2, data=b"b"))
    message = MsgApp(
        from_id=2,
        to_id=1,
        term=1,
        prev_log_index=0,
        prev_log_term=0,
        entries=entries,
        commit_index=5,
    )
    step = deliver(config, state, message)
    assert step.state.commit_index == 2
    assert of_type(step, ApplyEntries) == [ApplyEntries(entries=entries)]


@pytest.mark.parametrize(
    ("prev_term", "prev_index", "accepted", "hint", "hint_term"),
    [
        (0, 0, True, 0, 0),
        (1, 1, True, 0, 0),
        (2, 2, True, 0, 0),
        # No entry at index 2 with term 1: the follower's term there is 2 > 1, so it hints
        # the largest index with term <= 1: index 1 (term 1).
        (1, 2, False, 1, 1),
        # Index 3 is beyond its log (last index 2): hint its last index and that term.
        (3, 3, False, 2, 2),
    ],
)
def test_follower_check_msg_app(
    prev_term: int, prev_index: int, accepted: bool, hint: int, hint_term: int
) -> None:
    """A follower rejects AppendEntries unless it holds (prev index, prev term) (5.3), and
    hints where the logs may match (etcd fast back-off)."""
    config, state = node(1, stored([1, 2], term=2, commit_index=1))
    message = MsgApp(
        from_id=2,
        to_id=1,
        term=2,
        prev_log_index=prev_index,
        prev_log_term=prev_term,
        commit_index=1,
    )
    [response] = sent(deliver(config, state, message))
    assert isinstance(response, MsgAppResp)
    if accepted:
        # A prev index below the commit index is answered with the commit index.
        assert response == MsgAppResp(from_id=1, to_id=2, term=2, index=max(prev_index, 1))
    else:
        assert response == MsgAppResp(
            from_id=1,
            to_id=2,
            term=2,
            index=prev_index,
            reject=True,
            reject_hint=hint,
            log_term=hint_term,
        )


@pytest.mark.parametrize(
    ("prev_index", "prev_term", "new_terms", "expected_terms", "persisted_from"),
    [
        # Conflicting entry at index 3 (term 3 vs 2) is deleted with what follows.
        (2, 2, [3], [1, 2, 3], 3),
        (1, 1, [3, 4], [1, 3, 4], 2),
        # Already present entries are kept (nothing to persist).
        (0, 0, [1], [1, 2], 0),
        (2, 2, [], [1, 2], 0),
    ],
)
def test_follower_append_entries(
    prev_index: int,
    prev_term: int,
    new_terms: list[int],
    expected_terms: list[int],
    persisted_from: int,
) -> None:
    """A conflicting suffix is deleted, new entries appended and written to stable storage
    before the answer is sent (5.3)."""
    config, state = node(1, stored([1, 2], term=2))
    entries = tuple(
        Entry(term=term, index=prev_index + 1 + offset) for offset, term in enumerate(new_terms)
    )
    message = MsgApp(
        from_id=2,
        to_id=1,
        term=4,
        prev_log_index=prev_index,
        prev_log_term=prev_term,
        entries=entries,
    )
    step = deliver(config, state, message)
    assert [e.term for e in step.state.persisted.log] == expected_terms
    persisted = of_type(step, PersistEntries)
    if persisted_from:
        assert isinstance(persisted[0], PersistEntries)
        assert persisted[0].entries[0].index == persisted_from
        assert step.commands.index(persisted[0]) < next(
            i for i, c in enumerate(step.commands) if type(c).__name__ == "SendMessage"
        )
    else:
        assert persisted == []
    assert isinstance(step.commands[0], PersistHardState | PersistEntries)


# Figure 7: the leader of term 8 holds 1 1 1 4 4 5 5 6 6 6; each follower's log, and the
# number of rejections the leader's first MsgApp (prev = (10, 6), the entry before the new
# leader's empty entry at 11) gets with fast back-off, computed by hand in the module notes.
LEADER_LOG = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
FIGURE_7 = {
    "a": ([1, 1, 1, 4, 4, 5, 5, 6, 6], 1),
    "b": ([1, 1, 1, 4], 1),
    "c": ([1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], 0),
    "d": ([1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], 0),
    "e": ([1, 1, 1, 4, 4, 4, 4], 1),
    "f": ([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], 1),
}


@pytest.mark.parametrize("case", sorted(FIGURE_7))
def test_leader_sync_follower_log_figure_7(case: str) -> None:
    """Figure 7 (section 5.3): the leader brings each divergent follower log into
    consistency with its own. Rejections: (a) no entry 10 -> hint 9 (term 6), one retry;
    (b) hint 4 (term 4), one retry; (c)/(d) hold (10, 6): accepted at once and the extra
    entries are overwritten; (e) hint 7 (term 4) -> the leader skips to its last term-4
    entry, index 5, one retry; (f) hint 10 (term 3) -> leader has no term <= 3 entry after
    index 3, one retry from index 4."""
    follower_log, rejections = FIGURE_7[case]
    persisted = {
        1: stored(LEADER_LOG, term=8),
        2: stored(follower_log, term=8),
        3: stored(LEADER_LOG, term=8),
    }
    cluster = Cluster.create([1, 2, 3], persisted=persisted, check_quorum=False)
    cluster.step(1, Campaign())
    cluster.deliver_all()
    assert cluster.leaders() == [1]
    cluster.step(1, Propose(data=b"after"))
    cluster.deliver_all()
    cluster.tick(1)
    cluster.deliver_all()
    leader, follower = cluster.state(1), cluster.state(2)
    assert follower.persisted.log == leader.persisted.log
    assert [e.term for e in leader.persisted.log] == [*LEADER_LOG, 9, 9]
    assert follower.commit_index == leader.commit_index == 12
    rejected = [m for m in cluster.sent(2) if isinstance(m, MsgAppResp) and m.reject]
    assert len(rejected) == rejections


# -- section 5.4.2: committing entries from previous terms ------------------------------------


def test_leader_only_commits_log_from_current_term() -> None:
    """Only entries of the leader's current term are committed by counting replicas; earlier
    ones commit with them (5.4.2)."""
    config, state = node(1, stored([1, 2], term=2))
    state = elected(config, state)  # term 3; empty entry at index 3
    # A majority (1, 2) holds index 2 (term 2): not committed, it is a previous term.
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=3, index=2)).state
    assert state.commit_index == 0
    state = deliver(config, state, MsgAppResp(from_id=2, to_id=1, term=3, index=3)).state
    assert state.commit_index == 3


def test_log_of_builder_is_consecutive() -> None:
    assert [(e.index, e.term) for e in log_of([1, 2], start=4)] == [(4, 1), (5, 2)]
