"""serve etcd's backend: member machines run in real time behind the gateway's member.

Requests are committed through impl/raft and applied by every member; linearizable reads use
ReadIndex (Raft thesis section 6.4): a read sees every write acknowledged before it, appends
nothing to the log, and is never served from the gateway member's stale state while that member
cannot reach a leader. Leases expire on the leader's clock, through the log.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator

import msgspec
import pytest

from models.etcd import (
    ERROR_LEADER_CHANGED,
    ERROR_REQUEST_TIMEOUT,
    Compare,
    EtcdError,
    EtcdResponse,
    LeaseGrantRequest,
    LeaseGrantResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from runner.etcd.member_backend import GATEWAY_MEMBER, MemberBackend
from runner.etcd.member_network import MemberCluster

WAIT_SECONDS = 20.0
"""A generous bound for the members to reach a state (not a speed assertion)."""

LAGGING_WRITES = 100


@pytest.fixture
def backend() -> Iterator[MemberBackend]:
    started = MemberBackend(3, seed=7)
    try:
        yield started
    finally:
        started.close()


def wait_for(reached: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if reached():
            return
        time.sleep(0.01)
    raise AssertionError(f"not reached: {what}")


def last_indexes(backend: MemberBackend) -> dict[int, int]:
    with backend.changed:
        return {node: backend.members.last_index(node) for node in (1, 2, 3)}


def settled(backend: MemberBackend) -> bool:
    """Every member holds the same log and applied all of it."""
    with backend.changed:
        states = [backend.members.state(node) for node in (1, 2, 3)]
    last = set(last_indexes(backend).values())
    return len(last) == 1 and {state.applied_index for state in states} == last


def value_of(response: EtcdResponse | EtcdError) -> bytes | None:
    assert isinstance(response, RangeResponse), response
    return response.kvs[0].value if response.kvs else None


def test_concurrent_writes_get_distinct_revisions_and_members_agree(
    backend: MemberBackend,
) -> None:
    revisions: list[int] = []
    lock = threading.Lock()

    def writer(client: int) -> None:
        for index in range(10):
            response = backend.propose(PutRequest(key=b"k%d" % (index % 3), value=b"%d" % client))
            assert isinstance(response, PutResponse)
            with lock:
                revisions.append(response.header.revision)

    threads = [threading.Thread(target=writer, args=(client,)) for client in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(revisions) == list(range(2, 42))
    final = backend.propose(RangeRequest(key=b"k", range_end=b"l"))
    assert isinstance(final, RangeResponse)
    assert final.header.revision == 41
    wait_for(lambda: settled(backend), "every member applied its whole log")
    stores = [backend.member(node) for node in (1, 2, 3)]
    assert all(store is not None and store.etcd.revision == 41 for store in stores)
    histories = {store.etcd.history for store in stores if store is not None}
    assert len(histories) == 1


def test_txn_and_lease_through_the_log(backend: MemberBackend) -> None:
    granted = backend.propose(LeaseGrantRequest(TTL=60))
    assert isinstance(granted, LeaseGrantResponse)
    assert granted.ID > 0
    txn = TxnRequest(
        compare=(Compare(key=b"a", target="CREATE", result="EQUAL", create_revision=0),),
        success=(PutRequest(key=b"a", value=b"1", lease=granted.ID),),
    )
    first = backend.propose(txn)
    second = backend.propose(txn)
    assert isinstance(first, TxnResponse)
    assert isinstance(second, TxnResponse)
    assert (first.succeeded, second.succeeded) == (True, False)
    read = backend.propose(RangeRequest(key=b"a"))
    assert isinstance(read, RangeResponse)
    assert read.kvs[0].lease == granted.ID


def test_an_expired_lease_is_revoked_through_the_log_with_its_keys(
    backend: MemberBackend,
) -> None:
    granted = backend.propose(LeaseGrantRequest(TTL=1))
    assert isinstance(granted, LeaseGrantResponse)
    assert granted.TTL == 2  # raised to the minimum TTL
    backend.propose(PutRequest(key=b"ephemeral", value=b"1", lease=granted.ID))
    found: list[RangeResponse] = []

    def gone() -> bool:
        read = backend.propose(RangeRequest(key=b"ephemeral"))
        assert isinstance(read, RangeResponse)
        found.append(read)
        return not read.kvs

    wait_for(gone, "the lease's key deleted")
    assert found[-1].header.revision == 3  # grant: no revision; put: 2; the revoke deletes at 3


def test_a_linearizable_read_sees_the_write_and_appends_no_log_entry(
    backend: MemberBackend,
) -> None:
    for number in range(3):
        put = backend.propose(PutRequest(key=b"x", value=b"%d" % number))
        assert isinstance(put, PutResponse)
        assert put.header.revision == number + 2  # the store starts at revision 1
        read = backend.propose(RangeRequest(key=b"x"))
        assert value_of(read) == b"%d" % number
        assert isinstance(read, RangeResponse)
        assert read.header.revision == number + 2
    wait_for(lambda: settled(backend), "every member applied its whole log")
    with backend.changed:
        persisted = backend.members.state(GATEWAY_MEMBER).raft.persisted
    writes = [entry for entry in persisted.log if entry.kind == "normal" and entry.data]
    assert len(writes) == 3
    before = last_indexes(backend)
    for _ in range(5):
        assert value_of(backend.propose(RangeRequest(key=b"x"))) == b"2"
    assert last_indexes(backend) == before


def test_a_member_cut_off_from_the_leader_never_serves_its_stale_state() -> None:
    backend = MemberBackend(3, seed=11, request_timeout_seconds=1.5)
    try:
        _cut_off_member_reads(backend)
    finally:
        backend.close()


def _leaderless(backend: MemberBackend) -> bool:
    member = backend.member(GATEWAY_MEMBER)
    return member is not None and member.raft.role != "leader" and member.raft.lead == 0


def _cut_off_member_reads(backend: MemberBackend) -> None:
    assert isinstance(backend.propose(PutRequest(key=b"x", value=b"old")), PutResponse)
    wait_for(lambda: settled(backend), "every member applied the first write")
    backend.isolate(GATEWAY_MEMBER)
    wait_for(
        lambda: _leaderless(backend) and _majority_leader(backend),
        "the gateway's member without a leader, a leader among the others",
    )
    # Enough writes that the gateway's member needs several appends to catch up after the heal.
    _write_through_the_majority(backend, LAGGING_WRITES)
    stale = backend.propose(RangeRequest(key=b"x", serializable=True))
    assert value_of(stale) == b"old"
    assert backend.propose(RangeRequest(key=b"x")) == ERROR_REQUEST_TIMEOUT
    with backend.changed:  # the next read may wait for the heal and a new election
        config = backend.members.configs[GATEWAY_MEMBER]
        backend.members.configs[GATEWAY_MEMBER] = msgspec.structs.replace(
            config, request_timeout_ms=round(WAIT_SECONDS * 1000)
        )
    answers: list[EtcdResponse | EtcdError] = []
    reader = threading.Thread(
        target=lambda: answers.append(backend.propose(RangeRequest(key=b"x")))
    )
    reader.start()
    time.sleep(0.2)
    assert not answers, "a read was served while the gateway's member had no leader"
    backend.heal()
    reader.join(timeout=WAIT_SECONDS + 10)
    assert len(answers) == 1
    # Answered after the heal: the new value, or "leader changed" if the heal brought a new
    # leader (etcd's read loop answers that); never the old value.
    assert answers[0] == ERROR_LEADER_CHANGED or value_of(answers[0]) == b"new"
    wait_for(lambda: value_of(backend.propose(RangeRequest(key=b"x"))) == b"new", "new value")


def _majority_leader(backend: MemberBackend) -> bool:
    with backend.changed:
        return any(backend.members.state(node).raft.role == "leader" for node in (2, 3))


def _write_through_the_majority(backend: MemberBackend, lagging: int) -> None:
    """Writes handed to the majority's leader directly; the last puts x=new."""

    def leader_of_majority(members: MemberCluster) -> int:
        return next(node for node in (2, 3) if members.state(node).raft.role == "leader")

    requests = [PutRequest(key=b"y", value=b"%d" % n) for n in range(lagging)]
    requests.append(PutRequest(key=b"x", value=b"new"))
    for request in requests:
        with backend.changed:
            request_id = backend.members.request(leader_of_majority(backend.members), request)
        wait_for(functools.partial(_answered, backend, request_id), "a write in the majority")


def _answered(backend: MemberBackend, request_id: int) -> bool:
    with backend.changed:
        return backend.members.replies.pop(request_id, None) is not None


def test_concurrent_readers_each_see_their_own_latest_write(backend: MemberBackend) -> None:
    """A client's read after its put returns that put, with many clients at once."""
    clients, rounds = 6, 8
    failures: list[str] = []

    def client(number: int) -> None:
        key = b"client-%d" % number
        for round_number in range(rounds):
            value = b"%d" % round_number
            if not isinstance(backend.propose(PutRequest(key=key, value=value)), PutResponse):
                failures.append(f"client {number}: put {round_number} failed")
                return
            for _ in range(2):
                seen = backend.propose(RangeRequest(key=key))
                if not isinstance(seen, RangeResponse) or value_of(seen) != value:
                    failures.append(f"client {number}: read {seen!r} after put {value!r}")

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS * 2)
    assert failures == []
    wait_for(lambda: settled(backend), "every member applied its whole log")
    with backend.changed:
        persisted = backend.members.state(GATEWAY_MEMBER).raft.persisted
    writes = [entry for entry in persisted.log if entry.kind == "normal" and entry.data]
    assert len(writes) == clients * rounds
