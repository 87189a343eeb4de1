"""Leadership transfer (Ongaro thesis section 3.10; etcd MsgTransferLeader, MsgTimeoutNow)."""

from __future__ import annotations

from models.raft import (
    MsgTimeoutNow,
    MsgTransferLeader,
    MsgVote,
    ProposalAccepted,
    ProposalRejected,
    Propose,
    TransferLeadership,
)
from tests.raft.cluster import Cluster


def test_transfer_to_an_up_to_date_follower() -> None:
    """The transferee campaigns at once in the next term, and wins even though the other
    follower has a live leader (the vote is marked as a transfer, bypassing the lease)."""
    cluster = Cluster.create([1, 2, 3])
    checker = cluster.checked()
    cluster.elect(1)
    cluster.tick(1)
    cluster.deliver_all()
    cluster.step(1, TransferLeadership(transferee=2))
    assert [m for m in cluster.queue if isinstance(m, MsgTimeoutNow)] == [
        MsgTimeoutNow(from_id=1, to_id=2, term=1)
    ]
    cluster.deliver_all()
    assert cluster.leaders() == [2]
    assert cluster.state(2).term == 2
    assert all(m.leader_transfer for m in cluster.sent(2) if isinstance(m, MsgVote))
    assert cluster.state(1).role == "follower"
    assert checker.violations == []


def test_transfer_waits_for_catch_up_and_blocks_proposals() -> None:
    cluster = Cluster.create([1, 2, 3])
    checker = cluster.checked()
    cluster.elect(1)
    cluster.isolate(2)
    cluster.step(1, Propose(data=b"x"))
    cluster.deliver_all()
    cluster.step(1, TransferLeadership(transferee=2))
    assert cluster.state(1).lead_transferee == 2
    step = cluster.step(1, Propose(data=b"y"))
    assert [c for c in step.commands if isinstance(c, ProposalRejected)] == [
        ProposalRejected(reason="leadership_transfer_in_progress", leader_hint=1)
    ]
    assert not any(isinstance(m, MsgTimeoutNow) for m in cluster.sent(1))
    cluster.heal()
    for _ in range(3):
        cluster.tick(1)
        cluster.deliver_all()
    assert any(isinstance(m, MsgTimeoutNow) for m in cluster.sent(1))
    assert cluster.leaders() == [2]
    assert cluster.state(2).persisted.log[1].data == b"x"
    assert checker.violations == []


def test_transfer_aborts_after_an_election_timeout() -> None:
    cluster = Cluster.create([1, 2, 3])
    cluster.elect(1)
    cluster.isolate(2)
    cluster.step(1, Propose(data=b"x"))
    cluster.deliver_all()
    cluster.step(1, TransferLeadership(transferee=2))
    cluster.tick(1, 9)
    assert cluster.state(1).lead_transferee == 2
    cluster.tick(1)
    assert cluster.state(1).lead_transferee == 0
    assert cluster.leaders() == [1]
    step = cluster.step(1, Propose(data=b"y"))
    assert any(isinstance(c, ProposalAccepted) for c in step.commands)


def test_transfer_to_self_learner_or_stranger_is_ignored() -> None:
    cluster = Cluster.create([1, 2, 3, 4], voters=[1, 2, 3], learners=[4])
    cluster.elect(1)
    for target in (1, 4, 9):
        cluster.step(1, TransferLeadership(transferee=target))
        assert cluster.state(1).lead_transferee == 0


def test_follower_forwards_the_request_to_its_leader() -> None:
    cluster = Cluster.create([1, 2, 3])
    cluster.elect(1)
    cluster.step(3, TransferLeadership(transferee=2))
    assert [m for m in cluster.queue if isinstance(m, MsgTransferLeader)] == [
        MsgTransferLeader(from_id=3, to_id=1, term=0, transferee=2)
    ]
    cluster.deliver_all()
    assert cluster.leaders() == [2]
