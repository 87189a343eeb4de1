"""The etcd member machine (``impl.etcd.member``) against etcd's semantics, driven by the
deterministic ``MemberCluster``: writes go through the Raft log and are applied by every
member; linearizable reads (ranges and read-only txns) use ReadIndex and append nothing; a
member cut off from the leader never answers a linearizable read from its stale state; a read
waiting for its index when a new leader appears gets etcd's "leader changed"; leases expire on
the leader's clock and take their keys; a restarted member rebuilds its store from its log and
snapshot.

Expected values come from etcd's documented behaviour: the store starts at revision 1 and each
write takes the next revision; a lease's TTL is raised to the minimum TTL (1.5 x election
timeout, rounded up: 2 s with 100 ms ticks and a 10-tick election timeout); etcd answers
"etcdserver: request timed out" after its request timeout (7 s here).
"""

from __future__ import annotations

import pytest

from models.etcd import (
    ERROR_LEADER_CHANGED,
    ERROR_REQUEST_TIMEOUT,
    Compare,
    EtcdError,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseRevokeRequest,
    LeaseRevokeResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from models.etcd_auth import AnyResponse
from models.etcd_member import ClientRequest, EtcdMutant
from runner.etcd.member_network import MemberCluster


def value_of(answer: AnyResponse | EtcdError) -> bytes | None:
    assert isinstance(answer, RangeResponse), answer
    return answer.kvs[0].value if answer.kvs else None


@pytest.fixture
def cluster() -> MemberCluster:
    started = MemberCluster(3, seed=5)
    started.wait_for_leader()
    return started


def test_writes_take_consecutive_revisions_and_every_member_applies_them(
    cluster: MemberCluster,
) -> None:
    leader = cluster.wait_for_leader()
    revisions = []
    for number, node in enumerate([leader, *cluster.followers(), leader]):
        answer = cluster.call(node, PutRequest(key=b"k%d" % (number % 2), value=b"%d" % number))
        assert isinstance(answer, PutResponse), answer
        revisions.append(answer.header.revision)
    assert revisions == [2, 3, 4, 5]
    cluster.tick()  # the followers learn the last commit index with the next heartbeat
    stores = [cluster.state(node).etcd for node in (1, 2, 3)]
    assert all(store.revision == 5 for store in stores)
    assert stores[0].history == stores[1].history == stores[2].history


def test_a_txn_and_a_lease_through_the_log(cluster: MemberCluster) -> None:
    follower = cluster.followers()[0]
    granted = cluster.call(follower, LeaseGrantRequest(TTL=60))
    assert isinstance(granted, LeaseGrantResponse)
    assert granted.ID > 0
    create = TxnRequest(
        compare=(Compare(key=b"a", target="CREATE", result="EQUAL", create_revision=0),),
        success=(PutRequest(key=b"a", value=b"1", lease=granted.ID),),
    )
    first, second = cluster.call(follower, create), cluster.call(follower, create)
    assert isinstance(first, TxnResponse)
    assert isinstance(second, TxnResponse)
    assert (first.succeeded, second.succeeded) == (True, False)
    read = cluster.call(follower, RangeRequest(key=b"a"))
    assert isinstance(read, RangeResponse)
    assert read.kvs[0].lease == granted.ID


def test_linearizable_reads_see_the_last_write_and_append_nothing(cluster: MemberCluster) -> None:
    follower = cluster.followers()[0]
    assert isinstance(cluster.call(follower, PutRequest(key=b"x", value=b"1")), PutResponse)
    cluster.tick()
    before = {node: cluster.last_index(node) for node in (1, 2, 3)}
    read_only_txn = TxnRequest(success=(RangeRequest(key=b"x"),))
    for node in (1, 2, 3):
        assert value_of(cluster.call(node, RangeRequest(key=b"x"))) == b"1"
        txn = cluster.call(node, read_only_txn)
        assert isinstance(txn, TxnResponse)
        assert txn.succeeded
        assert value_of(txn.responses[0]) == b"1"
    cluster.tick()
    assert {node: cluster.last_index(node) for node in (1, 2, 3)} == before


def test_a_read_waits_for_its_read_index_before_answering(cluster: MemberCluster) -> None:
    """The read is not answered in the step that receives it, even on a member whose store
    already has the value: the leader must confirm its leadership first (ReadIndex)."""
    follower = cluster.followers()[0]
    assert isinstance(cluster.call(follower, PutRequest(key=b"x", value=b"1")), PutResponse)
    request_id = cluster.request(follower, RangeRequest(key=b"x"))
    assert request_id not in cluster.replies
    cluster.settle()
    assert value_of(cluster.replies[request_id]) == b"1"


def test_a_member_asks_again_for_more_waiting_reads_than_one_step_bound(
    cluster: MemberCluster,
) -> None:
    """A member cut off from the leader asks Raft again for every waiting read on its ticks:
    more reads than ``MAX_RAFT_EVENTS_PER_STEP`` (a 100-node cluster's API server has that
    many in flight) are all asked again in one step, and all answered once it is healed."""
    lonely = cluster.followers()[0]
    assert isinstance(cluster.call(lonely, PutRequest(key=b"x", value=b"1")), PutResponse)
    cluster.tick()
    cluster.isolate(lonely)
    waiting = [cluster.request(lonely, RangeRequest(key=b"x")) for _ in range(100)]
    cluster.tick(20)  # every read is asked again at least once, all in the same tick
    assert not any(request_id in cluster.replies for request_id in waiting)
    cluster.heal()
    cluster.tick_until(lambda: all(r in cluster.replies for r in waiting), "every answer")
    for request_id in waiting:
        answer = cluster.replies[request_id]
        assert answer == ERROR_LEADER_CHANGED or value_of(answer) == b"1"


def test_an_isolated_member_never_serves_a_stale_linearizable_read(
    cluster: MemberCluster,
) -> None:
    leader = cluster.wait_for_leader()
    lonely = cluster.followers()[0]
    assert isinstance(cluster.call(leader, PutRequest(key=b"x", value=b"old")), PutResponse)
    cluster.tick()
    cluster.isolate(lonely)
    assert isinstance(cluster.call(leader, PutRequest(key=b"x", value=b"new")), PutResponse)
    # A serializable read answers from the member's applied state: stale ...
    stale = cluster.call(lonely, RangeRequest(key=b"x", serializable=True))
    assert value_of(stale) == b"old"
    # ... a linearizable read is not answered from it, and times out after 7 s.
    timed_out = cluster.request(lonely, RangeRequest(key=b"x"))
    cluster.tick(69)
    assert timed_out not in cluster.replies
    cluster.tick()
    assert cluster.replies[timed_out] == ERROR_REQUEST_TIMEOUT
    # A read issued while cut off is answered after the heal: with the new value, or with
    # "leader changed" if the heal brought a new leader; never with the old value.
    waiting = cluster.request(lonely, RangeRequest(key=b"x"))
    cluster.tick(20)
    assert waiting not in cluster.replies
    cluster.heal()
    cluster.tick_until(lambda: waiting in cluster.replies, "an answer after the heal")
    answer = cluster.replies[waiting]
    assert answer == ERROR_LEADER_CHANGED or value_of(answer) == b"new"
    assert value_of(cluster.call(lonely, RangeRequest(key=b"x"))) == b"new"


def test_a_read_waiting_for_its_index_gets_leader_changed(cluster: MemberCluster) -> None:
    leader = cluster.wait_for_leader()
    follower = cluster.followers()[0]
    request_id = cluster.request(follower, RangeRequest(key=b"x"))
    cluster.crash(leader)  # the ReadIndex request to it is lost with it
    cluster.tick_until(
        lambda: cluster.leader() not in (None, leader), "a new leader among the survivors"
    )
    cluster.tick_until(lambda: request_id in cluster.replies, "the read's answer")
    assert cluster.replies[request_id] == ERROR_LEADER_CHANGED


def test_an_expired_lease_is_revoked_through_the_log_with_its_keys(
    cluster: MemberCluster,
) -> None:
    follower = cluster.followers()[0]
    granted = cluster.call(follower, LeaseGrantRequest(TTL=1))
    assert isinstance(granted, LeaseGrantResponse)
    assert granted.TTL == 2  # raised to the minimum TTL
    put = cluster.call(follower, PutRequest(key=b"ephemeral", value=b"1", lease=granted.ID))
    assert isinstance(put, PutResponse)
    assert put.header.revision == 2
    cluster.tick(15)
    assert value_of(cluster.call(follower, RangeRequest(key=b"ephemeral"))) == b"1"
    cluster.tick(10)  # 2.5 s after the grant
    gone = cluster.call(follower, RangeRequest(key=b"ephemeral"))
    assert isinstance(gone, RangeResponse)
    assert gone.kvs == ()
    assert gone.header.revision == 3  # the revoke deleted the key at revision 3


def test_a_restarted_member_rebuilds_its_store_from_log_and_snapshot() -> None:
    cluster = MemberCluster(3, seed=2, snapshot_every_entries=5)
    leader = cluster.wait_for_leader()
    for number in range(12):
        assert isinstance(
            cluster.call(leader, PutRequest(key=b"k%d" % (number % 4), value=b"%d" % number)),
            PutResponse,
        )
    cluster.tick()
    follower = cluster.followers()[0]
    before = cluster.state(follower).etcd
    assert cluster.state(follower).raft.persisted.snapshot.metadata.index > 0
    cluster.crash(follower)
    cluster.restart(follower)
    assert cluster.state(follower).etcd == before
    assert value_of(cluster.call(follower, RangeRequest(key=b"k3"))) == b"11"


def test_client_requests_while_no_leader_is_known_wait_and_then_commit() -> None:
    cluster = MemberCluster(3, seed=9)
    request_id = cluster.request(1, PutRequest(key=b"early", value=b"1"))
    assert cluster.leader() is None
    cluster.tick_until(lambda: request_id in cluster.replies, "the early write's answer")
    answer = cluster.replies[request_id]
    assert isinstance(answer, PutResponse)
    assert answer.header.revision == 2


def test_request_ids_are_answered_once_by_the_member_that_got_them(
    cluster: MemberCluster,
) -> None:
    follower = cluster.followers()[0]
    cluster.handle(follower, ClientRequest(request_id=77, request=PutRequest(key=b"a")))
    cluster.settle()
    cluster.tick()
    assert isinstance(cluster.replies[77], PutResponse)


def test_the_stale_read_mutant_answers_from_an_isolated_members_old_state() -> None:
    cluster = MemberCluster(3, seed=5, mutant=EtcdMutant.STALE_LINEARIZABLE_READ)
    leader = cluster.wait_for_leader()
    lonely = cluster.followers()[0]
    assert isinstance(cluster.call(leader, PutRequest(key=b"x", value=b"old")), PutResponse)
    cluster.tick()
    cluster.isolate(lonely)
    assert isinstance(cluster.call(leader, PutRequest(key=b"x", value=b"new")), PutResponse)
    assert value_of(cluster.call(lonely, RangeRequest(key=b"x"))) == b"old"


def test_the_lost_revoke_mutant_keeps_the_keys_of_a_revoked_lease() -> None:
    cluster = MemberCluster(3, seed=5, mutant=EtcdMutant.LOST_LEASE_REVOKE)
    leader = cluster.wait_for_leader()
    granted = cluster.call(leader, LeaseGrantRequest(TTL=60))
    assert isinstance(granted, LeaseGrantResponse)
    cluster.call(leader, PutRequest(key=b"a", value=b"1", lease=granted.ID))
    revoked = cluster.call(leader, LeaseRevokeRequest(ID=granted.ID))
    assert isinstance(revoked, LeaseRevokeResponse)
    assert value_of(cluster.call(leader, RangeRequest(key=b"a"))) == b"1"
