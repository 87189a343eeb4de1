"""serve etcd's Raft backend answers linearizable reads with ReadIndex: a read sees every write
acknowledged before it, appends nothing to the log, and is never served from a member's stale
state while that member cannot reach a leader (Raft thesis section 6.4)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import msgspec
import pytest

from models.etcd import (
    ERROR_REQUEST_TIMEOUT,
    EtcdError,
    EtcdResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
)
from models.raft import NO_NODE
from models.trace import Heal, Partition
from runner.etcd.raft_backend import READ_MEMBER, Proposal, RaftBackend
from runner.raft.cluster import ClusterState

WAIT_SECONDS = 20.0
"""A generous bound for the simulated cluster to reach a state (not a speed assertion)."""

LAGGING_WRITES = 100


@pytest.fixture
def backend() -> Iterator[RaftBackend]:
    started = RaftBackend(3, seed=11)
    try:
        yield started
    finally:
        started.close()


def wait_for(backend: RaftBackend, reached: object, what: str) -> ClusterState:
    assert callable(reached)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        cluster = backend.cluster()
        if reached(cluster):
            return cluster
        time.sleep(0.01)
    raise AssertionError(f"the cluster did not reach: {what}")


def last_indexes(cluster: ClusterState) -> dict[int, int]:
    return {node: slot.storage.last_index() for node, slot in sorted(cluster.nodes.items())}


def settled(cluster: ClusterState) -> bool:
    """Every member holds the same log and applied all of it."""
    last = set(last_indexes(cluster).values())
    applied = {slot.applied_index for slot in cluster.nodes.values()}
    return len(last) == 1 and applied == last


def value_of(response: EtcdResponse | EtcdError) -> bytes | None:
    assert isinstance(response, RangeResponse), response
    return response.kvs[0].value if response.kvs else None


def test_a_linearizable_read_sees_the_write_and_appends_no_log_entry(
    backend: RaftBackend,
) -> None:
    writes = [PutRequest(key=b"x", value=b"%d" % number) for number in range(3)]
    for number, write in enumerate(writes):
        put = backend.propose(write)
        assert isinstance(put, PutResponse)
        assert put.header.revision == number + 2  # the store starts at revision 1
        read = backend.propose(RangeRequest(key=b"x"))
        assert value_of(read) == write.value
        assert isinstance(read, RangeResponse)
        assert read.header.revision == number + 2
    cluster = wait_for(backend, settled, "every member applied its whole log")
    before = last_indexes(cluster)
    # The log holds the writes and the leaders' empty entries (one per election), nothing else:
    # no read became an entry.
    log = cluster.nodes[READ_MEMBER].storage.log
    payloads = [entry for entry in log if entry.kind == "normal" and entry.data]
    empties = [entry for entry in log if entry.kind == "normal" and not entry.data]
    requests = [msgspec.json.decode(entry.data, type=Proposal).request for entry in payloads]
    assert requests == writes
    assert before[READ_MEMBER] == len(empties) + len(writes)
    for _ in range(5):
        assert value_of(backend.propose(RangeRequest(key=b"x"))) == b"2"
    assert last_indexes(backend.cluster()) == before


def test_a_member_cut_off_from_the_leader_never_serves_its_stale_state(
    backend: RaftBackend,
) -> None:
    assert isinstance(backend.propose(PutRequest(key=b"x", value=b"old")), PutResponse)
    wait_for(backend, settled, "every member applied the first write")
    others = [node for node in backend.config.node_ids if node != READ_MEMBER]
    links = sorted(
        {(READ_MEMBER, other) for other in others} | {(other, READ_MEMBER) for other in others}
    )
    backend.inject(Partition(links=tuple(links)))

    def read_member_leaderless(cluster: ClusterState) -> bool:
        member = cluster.nodes[READ_MEMBER].state
        leaders = [
            slot.state
            for node, slot in cluster.nodes.items()
            if node != READ_MEMBER and slot.state is not None and slot.state.role == "leader"
        ]
        return (
            member is not None
            and member.role != "leader"
            and member.lead == NO_NODE
            and bool(leaders)
        )

    wait_for(backend, read_member_leaderless, "member 1 without a leader, a majority leader")
    # Enough writes that member 1 needs several appends to catch up after the heal.
    for number in range(LAGGING_WRITES):
        put = backend.propose(PutRequest(key=b"y", value=b"%d" % number))
        assert isinstance(put, PutResponse)
    put = backend.propose(PutRequest(key=b"x", value=b"new"))
    assert isinstance(put, PutResponse)
    # Member 1 did not apply the new write: a serializable read there is stale ...
    stale = backend.propose(RangeRequest(key=b"x", serializable=True))
    assert value_of(stale) == b"old"
    # ... and a linearizable read there is refused rather than answered from that state.
    backend.request_timeout_seconds = 1.5
    assert backend.propose(RangeRequest(key=b"x")) == ERROR_REQUEST_TIMEOUT
    # A read issued while member 1 has no leader waits; once the partition heals it sees the
    # write that member 1 had not applied when the read was issued.
    backend.request_timeout_seconds = WAIT_SECONDS
    backend.read_index_retry_seconds = 0.01  # ask again as soon as member 1 has a leader
    assert read_member_leaderless(backend.cluster())
    answers: list[EtcdResponse | EtcdError] = []
    reader = threading.Thread(
        target=lambda: answers.append(backend.propose(RangeRequest(key=b"x")))
    )
    reader.start()
    time.sleep(0.2)
    assert not answers, "a read was served while member 1 had no leader"
    backend.inject(Heal())
    reader.join(timeout=WAIT_SECONDS + 5)
    assert len(answers) == 1
    assert value_of(answers[0]) == b"new"


def test_concurrent_readers_each_see_their_own_latest_write(backend: RaftBackend) -> None:
    """Reads that share one read index request still each see every write acknowledged before
    they started: a client's read after its put returns that put."""
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
    cluster = wait_for(backend, settled, "every member applied its whole log")
    log = cluster.nodes[READ_MEMBER].storage.log
    writes = [entry for entry in log if entry.kind == "normal" and entry.data]
    assert len(writes) == clients * rounds
