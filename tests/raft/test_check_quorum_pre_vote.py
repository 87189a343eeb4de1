"""CheckQuorum (leader step-down, leader lease) and PreVote (Ongaro thesis 9.6; etcd)."""

from __future__ import annotations

from models.raft import MsgPreVote, MsgVote
from spec.raft import invariants as names
from tests.raft.builders import deliver, node, sent, stored
from tests.raft.cluster import Cluster


def test_isolated_leader_steps_down_within_two_election_timeouts() -> None:
    """Every election timeout the leader checks a quorum was active since the last check; the
    first check after the isolation still sees the earlier answers, the second does not."""
    cluster = Cluster.create([1, 2, 3])
    checker = cluster.checked()
    cluster.elect(1)
    term = cluster.state(1).term
    cluster.isolate(1)
    cluster.tick(1, 10)
    cluster.drop_all()
    assert cluster.state(1).role == "leader"
    cluster.tick(1, 10)
    assert (cluster.state(1).role, cluster.state(1).term) == ("follower", term)
    assert names.CHECK_QUORUM_STEP_DOWN in checker.history.sometimes_seen
    assert checker.violations == []


def test_leader_without_check_quorum_stays() -> None:
    cluster = Cluster.create([1, 2, 3], check_quorum=False)
    cluster.elect(1)
    cluster.isolate(1)
    cluster.tick(1, 50)
    assert cluster.state(1).role == "leader"


def test_leader_lease_ignores_disruptive_votes() -> None:
    """With CheckQuorum, a follower that heard from its leader within the election timeout
    ignores a vote request of a higher term: no answer, no term change (etcd)."""
    config, follower = node(2, stored([1], term=1))
    from models.raft import MsgHeartbeat

    follower = deliver(config, follower, MsgHeartbeat(from_id=1, to_id=2, term=1)).state
    request = MsgVote(from_id=3, to_id=2, term=5, last_log_index=1, last_log_term=1)
    step = deliver(config, follower, request)
    assert step.state.term == 1
    assert sent(step) == []
    # Without CheckQuorum there is no lease: the term moves and the vote is granted.
    config, follower = node(2, stored([1], term=1), check_quorum=False)
    follower = deliver(config, follower, MsgHeartbeat(from_id=1, to_id=2, term=1)).state
    step = deliver(config, follower, request)
    assert (step.state.term, step.state.vote) == (5, 3)


def test_pre_vote_keeps_a_partitioned_node_from_disrupting() -> None:
    """A partitioned node with PreVote never raises its term; when the partition heals the
    leader keeps its term and the node rejoins as follower."""
    cluster = Cluster.create([1, 2, 3], pre_vote=True)
    checker = cluster.checked()
    cluster.elect(1)
    term = cluster.state(1).term
    cluster.isolate(3)
    for _ in range(60):
        cluster.tick(3)
        cluster.tick(1)
        cluster.deliver_all()
    assert cluster.state(3).term == term
    assert cluster.state(3).role == "pre_candidate"
    assert any(isinstance(m, MsgPreVote) for m in cluster.sent(3))
    cluster.heal()
    cluster.tick(1)
    cluster.deliver_all()
    assert cluster.leaders() == [1]
    assert cluster.state(1).term == term
    assert cluster.state(3).role == "follower"
    assert checker.violations == []


def test_without_pre_vote_a_partitioned_node_inflates_its_term() -> None:
    cluster = Cluster.create([1, 2, 3], check_quorum=False)
    cluster.elect(1)
    term = cluster.state(1).term
    cluster.isolate(3)
    for _ in range(60):
        cluster.tick(3)
        cluster.drop_all()
    assert cluster.state(3).term > term + 1
    cluster.heal()
    # Node 3's next campaign carries its inflated term: the leader steps down (thesis 9.6).
    for _ in range(20):
        cluster.tick(3)
        cluster.tick(1)
        cluster.deliver_all()
    assert cluster.state(1).term > term + 1


def test_pre_vote_election_raises_the_term_once() -> None:
    cluster = Cluster.create([1, 2, 3], pre_vote=True)
    cluster.elect(1)
    assert cluster.leaders() == [1]
    assert cluster.state(1).term == 1
    assert [type(m).__name__ for m in cluster.sent(1)][:2] == ["MsgPreVote", "MsgPreVote"]
