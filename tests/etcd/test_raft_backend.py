"""serve etcd's Raft backend: requests committed through impl/raft, applied by every member."""

import threading
from collections.abc import Iterator

import pytest

from models.etcd import (
    Compare,
    LeaseGrantRequest,
    LeaseGrantResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from runner.etcd.raft_backend import RaftBackend


@pytest.fixture
def backend() -> Iterator[RaftBackend]:
    started = RaftBackend(3, seed=7)
    try:
        yield started
    finally:
        started.close()


def test_concurrent_writes_get_distinct_revisions_and_members_agree(backend: RaftBackend) -> None:
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
    with backend.changed:
        members = list(backend._etcd.values())
    assert len(members) == 3
    assert all(member.revision == 41 for member in members)
    assert all(member.history == members[0].history for member in members)


def test_txn_and_lease_through_the_log(backend: RaftBackend) -> None:
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


def test_an_expired_lease_is_revoked_through_the_log_with_its_keys(backend: RaftBackend) -> None:
    import time

    granted = backend.propose(LeaseGrantRequest(TTL=1))
    assert isinstance(granted, LeaseGrantResponse)
    assert granted.TTL == 2  # raised to the minimum TTL
    backend.propose(PutRequest(key=b"ephemeral", value=b"1", lease=granted.ID))
    deadline = time.monotonic() + 10
    found: RangeResponse | None = None
    while time.monotonic() < deadline:
        read = backend.propose(RangeRequest(key=b"ephemeral"))
        assert isinstance(read, RangeResponse)
        found = read
        if not read.kvs:
            break
        time.sleep(0.2)
    assert found is not None
    assert found.kvs == ()
    assert found.header.revision == 3  # grant: no revision; put: 2; the revoke deletes at 3
