"""Deviations of real etcd 3.4.23 from its own guarantees, reproduced; the reference is right.

etcd issue #18089 (fixed in 3.4.34): compacting at the revision of a delete removes the
tombstone, so a watch created at the compaction revision (allowed: it is not compacted) never
sees that DELETE event, breaking the Reliable and Resumable watch guarantees.

etcd issue #15220 (fixed in 3.4.25): a requested progress notification is sent on the stream's
control channel without waiting for the watcher to catch up, so it can overtake events: a watch
created from revision 1 and asked for progress at once gets "everything up to revision R was
delivered" before the events of revisions 2..R, breaking the Bookmarkable guarantee.

etcd issue #18667 (open upstream, affects 3.4.23): a txn that writes and also ranges at a
compacted revision fails with ErrCompacted on the member that received it, but the other members
apply it without the range and so apply the write: the members diverge for good, and the client
was told the write failed.

etcd issue #13554 (fixed in 3.5 by refusing unknown sort options): a range whose ``sort_target``
is not one of the five targets makes the member panic in ``sort.Sort(nil)`` and exit; any client
of the gateway can crash etcd 3.4.23 with one request. The reference answers what later etcd
answers: 400, InvalidArgument "etcdserver: invalid sort option".
"""

import base64
import http.client
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from models.etcd import (
    ERROR_COMPACTED,
    CompactionRequest,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
)
from runner.etcd.client import EtcdGatewayClient
from runner.etcd.cluster import LocalEtcdCluster
from runner.etcd.member_backend import MemberBackend

SETUP: tuple[tuple[str, dict[str, Any]], ...] = (
    ("/v3/kv/put", {"key": "YQ==", "value": "MQ=="}),  # a = 1 at revision 2
    ("/v3/kv/put", {"key": "Yg==", "value": "MQ=="}),  # b = 1 at revision 3
    ("/v3/kv/deleterange", {"key": "YQ=="}),  # delete a at revision 4
    ("/v3/kv/compaction", {"revision": "4", "physical": True}),
)
WATCH_A_FROM_4 = {"create_request": {"key": "YQ==", "start_revision": "4"}}


def post(base: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def events_after_creation(base: str) -> list[Any]:
    """The watch's messages after ``created``, until it is quiet for one second."""
    request = urllib.request.Request(base + "/v3/watch", data=json.dumps(WATCH_A_FROM_4).encode())
    messages = []
    with urllib.request.urlopen(request, timeout=1) as response:
        created = json.loads(response.readline())
        assert created["result"]["created"] is True
        try:
            for _ in range(10):
                messages.append(json.loads(response.readline())["result"])
        except TimeoutError:
            pass
    return [event for message in messages for event in message.get("events", [])]


def test_watch_at_the_compaction_revision_misses_the_delete_in_etcd_3_4_23(
    real_etcd_member: str, reference_gateway: str
) -> None:
    for base in (real_etcd_member, reference_gateway):
        for path, body in SETUP:
            post(base, path, body)
    expected_delete = {"type": "DELETE", "kv": {"key": "YQ==", "mod_revision": "4"}}
    assert events_after_creation(reference_gateway) == [expected_delete]
    assert events_after_creation(real_etcd_member) == []


def watch_summaries(base: str, body: str, count: int) -> list[tuple[str, int, int]]:
    """(watch_id, header revision, lowest event revision or 0) of the first ``count`` messages."""
    request = urllib.request.Request(base + "/v3/watch", data=body.encode())
    summaries = []
    with urllib.request.urlopen(request, timeout=20) as response:
        for _ in range(count):
            result = json.loads(response.readline())["result"]
            events = result.get("events", [])
            lowest = int(events[0]["kv"]["mod_revision"]) if events else 0
            summaries.append(
                (result.get("watch_id", "0"), int(result["header"]["revision"]), lowest)
            )
    return summaries


def test_requested_progress_overtakes_catch_up_events_in_etcd_3_4_23(
    real_etcd_member: str, reference_gateway: str
) -> None:
    writes = {
        "success": [
            {"request_put": {"key": base64.b64encode(b"a%d" % index).decode(), "value": "MQ=="}}
            for index in range(50)
        ]
    }
    for base in (real_etcd_member, reference_gateway):
        for _ in range(20):
            post(base, "/v3/kv/txn", writes)
    body = json.dumps(
        {"create_request": {"key": "AA==", "range_end": "AA==", "start_revision": "1"}}
    ) + json.dumps({"progress_request": {}})
    # Reference: created, then every event (revisions 2..21), then progress at 21.
    assert watch_summaries(reference_gateway, body, 3) == [
        ("0", 21, 0),
        ("0", 21, 2),
        ("-1", 21, 0),
    ]
    real = watch_summaries(real_etcd_member, body, 3)
    progress_position = [message[0] for message in real].index("-1")
    first_events_position = next(index for index, message in enumerate(real) if message[2])
    assert (real[progress_position][1], real[first_events_position][2]) == (21, 2)
    assert progress_position < first_events_position


@pytest.fixture
def three_real_members() -> Iterator[tuple[str, ...]]:
    cluster = LocalEtcdCluster(3)
    try:
        cluster.start()
        yield cluster.endpoints
    finally:
        cluster.stop()


COMPACTED_RANGE_THEN_WRITE = TxnRequest(
    success=(RangeRequest(key=b"a", revision=2), PutRequest(key=b"x", value=b"1"))
)


def test_txn_with_a_compacted_range_splits_the_members_in_etcd_3_4_23(
    three_real_members: tuple[str, ...],
) -> None:
    clients = [EtcdGatewayClient(endpoint) for endpoint in three_real_members]
    try:
        for value in range(5):
            clients[0].put(PutRequest(key=b"a", value=b"%d" % value))
        clients[0].compact(CompactionRequest(revision=5))
        assert clients[0].txn(COMPACTED_RANGE_THEN_WRITE) == ERROR_COMPACTED
        time.sleep(1)  # let the followers apply the entry
        seen = []
        for client in clients:
            read = client.range(RangeRequest(key=b"x", serializable=True))
            assert isinstance(read, RangeResponse)
            seen.append((read.header.revision, [kv.value for kv in read.kvs]))
    finally:
        for client in clients:
            client.close()
    assert seen == [(6, []), (7, [b"1"]), (7, [b"1"])]


def test_the_reference_members_agree_on_that_txn() -> None:
    backend = MemberBackend(3, seed=1)
    try:
        for value in range(5):
            backend.propose(PutRequest(key=b"a", value=b"%d" % value))
        backend.propose(CompactionRequest(revision=5))
        assert backend.propose(COMPACTED_RANGE_THEN_WRITE) == ERROR_COMPACTED
        assert backend.propose(RangeRequest(key=b"a")) is not None
        time.sleep(1)  # let the followers apply the entry
        members = [backend.member(node) for node in (1, 2, 3)]
    finally:
        backend.close()
    stores = [member.etcd for member in members if member is not None]
    assert [(store.revision, b"x" in store.history) for store in stores] == [(6, False)] * 3


def post_raw(base: str, path: str, body: bytes) -> tuple[int, bytes] | None:
    """(status, body), or None when the connection was dropped without an answer."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(str(url.hostname), url.port, timeout=10)
    try:
        connection.request("POST", path, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    except (http.client.RemoteDisconnected, ConnectionError):
        return None
    finally:
        connection.close()


def test_an_unknown_sort_target_crashes_etcd_3_4_23(reference_raft_gateway: str) -> None:
    body = b'{"key":"YQ==","sort_target":99}'
    cluster = LocalEtcdCluster(1)
    try:
        cluster.start()
        assert post_raw(cluster.endpoints[0], "/v3/kv/range", body) is None
        process = cluster.members[0].process
        assert process is not None
        assert process.wait(timeout=10) != 0  # the panic ended the member
    finally:
        cluster.stop()
    expected = {
        "error": "etcdserver: invalid sort option",
        "message": "etcdserver: invalid sort option",
        "code": 3,
    }
    answer = post_raw(reference_raft_gateway, "/v3/kv/range", body)
    assert answer is not None
    assert (answer[0], json.loads(answer[1])) == (400, expected)
    put = post_raw(reference_raft_gateway, "/v3/kv/put", b'{"key":"YQ==","value":"MQ=="}')
    assert put is not None
    assert put[0] == 200
