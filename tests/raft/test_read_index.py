"""ReadIndex (Ongaro thesis section 6.4; etcd ReadOnlySafe)."""

from __future__ import annotations

from models.raft import (
    Campaign,
    MsgHeartbeat,
    MsgReadIndex,
    MsgReadIndexResp,
    Propose,
    ReadIndexDropped,
    ReadIndexReady,
    ReadIndexRequested,
)
from tests.raft.builders import campaign, elected, node, of_type, run
from tests.raft.cluster import Cluster


def ready(cluster: Cluster, node_id: int) -> list[ReadIndexReady]:
    return [c for c in cluster.commands[node_id] if isinstance(c, ReadIndexReady)]


def test_leader_confirms_with_a_heartbeat_round() -> None:
    cluster = Cluster.create([1, 2, 3])
    cluster.elect(1)
    cluster.step(1, Propose(data=b"x"))
    cluster.deliver_all()
    commit = cluster.state(1).commit_index
    assert commit == 2
    cluster.step(1, ReadIndexRequested(context=b"r1"))
    beats = [m for m in cluster.queue if isinstance(m, MsgHeartbeat)]
    assert {(m.to_id, m.context) for m in beats} == {(2, b"r1"), (3, b"r1")}
    assert ready(cluster, 1) == []
    # One acknowledgement makes a quorum with the leader.
    cluster.deliver_all()
    assert ready(cluster, 1) == [ReadIndexReady(context=b"r1", index=commit)]


def test_not_served_before_a_current_term_entry_commits() -> None:
    cluster = Cluster.create([1, 2, 3])
    cluster.step(1, Campaign())
    cluster.deliver_all_until(lambda: cluster.leaders() == [1])
    cluster.step(1, ReadIndexRequested(context=b"early"))
    assert cluster.state(1).pending_read_index != ()
    assert not any(isinstance(m, MsgHeartbeat) and m.context for m in cluster.queue)
    cluster.deliver_all()  # the empty entry of term 1 commits; then the heartbeat round
    assert ready(cluster, 1) == [ReadIndexReady(context=b"early", index=1)]


def test_follower_forwards_and_receives_the_index() -> None:
    cluster = Cluster.create([1, 2, 3])
    cluster.elect(1)
    cluster.step(2, ReadIndexRequested(context=b"f"))
    assert [m for m in cluster.queue if isinstance(m, MsgReadIndex)] == [
        MsgReadIndex(from_id=2, to_id=1, term=0, context=b"f")
    ]
    cluster.deliver_all()
    assert any(isinstance(m, MsgReadIndexResp) for m in cluster.sent(1))
    assert ready(cluster, 2) == [ReadIndexReady(context=b"f", index=1)]
    assert ready(cluster, 1) == []


def test_dropped_without_a_leader() -> None:
    config, state = node(1)
    state = campaign(config, state).state
    step = run(config, state, ReadIndexRequested(context=b"c"))
    assert of_type(step, ReadIndexDropped) == [ReadIndexDropped(context=b"c", reason="no leader")]


def test_single_voter_answers_at_once() -> None:
    config, state = node(1, voters=(1,))
    state = run(config, state, Campaign()).state
    assert state.role == "leader"
    step = run(config, state, ReadIndexRequested(context=b"s"))
    assert of_type(step, ReadIndexReady) == [ReadIndexReady(context=b"s", index=1)]


def test_requests_are_dropped_when_leadership_is_lost() -> None:
    config, state = node(1)
    state = elected(config, state)
    state = run(config, state, ReadIndexRequested(context=b"lost")).state
    from models.raft import MessageReceived, MsgApp

    higher = MsgApp(from_id=2, to_id=1, term=9, prev_log_index=0, prev_log_term=0)
    step = run(config, state, MessageReceived(message=higher))
    assert of_type(step, ReadIndexDropped) == [
        ReadIndexDropped(context=b"lost", reason="leadership changed")
    ]
