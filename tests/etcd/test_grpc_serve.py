"""``serve etcd`` speaks etcd's v3 gRPC API on the gateway's port (Python's grpcio as client)."""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from collections.abc import Iterator

import grpc
import pytest

from runner.etcd.etcdpb import kv_pb2, rpc_pb2
from tests.etcd.grpc_client import Stubs, served

TIMEOUT = 10.0


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    with served() as connected:
        yield connected


def put(
    stubs: Stubs, key: bytes, value: bytes, *, lease: int = 0, prev_kv: bool = False
) -> rpc_pb2.PutResponse:
    answer: rpc_pb2.PutResponse = stubs.kv.Put(
        rpc_pb2.PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv), timeout=TIMEOUT
    )
    return answer


def rpc_error(call: object) -> grpc.RpcError:
    assert isinstance(call, grpc.RpcError)
    return call


def test_put_range_revisions_sort_and_delete(stubs: Stubs) -> None:
    assert put(stubs, b"a", b"1").header.revision == 2
    assert put(stubs, b"b", b"2").header.revision == 3
    second = put(stubs, b"a", b"3", prev_kv=True)
    assert second.header.revision == 4
    assert (second.prev_kv.value, second.prev_kv.mod_revision) == (b"1", 2)
    everything = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0"), timeout=TIMEOUT)
    assert [(kv.key, kv.value, kv.version) for kv in everything.kvs] == [
        (b"a", b"3", 2),
        (b"b", b"2", 1),
    ]
    assert everything.count == 2
    at_two = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=2), timeout=TIMEOUT)
    assert [kv.value for kv in at_two.kvs] == [b"1"]
    newest_first = stubs.kv.Range(
        rpc_pb2.RangeRequest(
            key=b"a",
            range_end=b"c",
            sort_order=rpc_pb2.RangeRequest.DESCEND,
            sort_target=rpc_pb2.RangeRequest.MOD,
        ),
        timeout=TIMEOUT,
    )
    assert [kv.key for kv in newest_first.kvs] == [b"a", b"b"]  # mod revisions 4 and 3
    deleted = stubs.kv.DeleteRange(
        rpc_pb2.DeleteRangeRequest(key=b"a", prev_kv=True), timeout=TIMEOUT
    )
    assert (deleted.deleted, deleted.header.revision) == (1, 5)
    assert [kv.value for kv in deleted.prev_kvs] == [b"3"]


def test_txn_compare_and_swap(stubs: Stubs) -> None:
    put(stubs, b"k", b"old")
    compare = rpc_pb2.Compare(
        key=b"k", target=rpc_pb2.Compare.VALUE, result=rpc_pb2.Compare.EQUAL, value=b"old"
    )
    swap = rpc_pb2.TxnRequest(
        compare=[compare],
        success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k", value=b"new"))],
        failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"k"))],
    )
    first = stubs.kv.Txn(swap, timeout=TIMEOUT)
    assert first.succeeded
    assert first.header.revision == 3
    assert first.responses[0].WhichOneof("response") == "response_put"
    again = stubs.kv.Txn(swap, timeout=TIMEOUT)
    assert not again.succeeded
    assert again.header.revision == 3
    assert [kv.value for kv in again.responses[0].response_range.kvs] == [b"new"]


def test_etcd_errors_become_etcds_grpc_statuses(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as empty_key:
        put(stubs, b"", b"v")
    assert rpc_error(empty_key.value).code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(empty_key.value).details() == "etcdserver: key is not provided"
    for value in (b"1", b"2", b"3"):
        put(stubs, b"k", value)
    stubs.kv.Compact(rpc_pb2.CompactionRequest(revision=3), timeout=TIMEOUT)
    with pytest.raises(grpc.RpcError) as compacted:
        stubs.kv.Range(rpc_pb2.RangeRequest(key=b"k", revision=2), timeout=TIMEOUT)
    assert rpc_error(compacted.value).code() == grpc.StatusCode.OUT_OF_RANGE
    assert (
        rpc_error(compacted.value).details()
        == "etcdserver: mvcc: required revision has been compacted"
    )
    with pytest.raises(grpc.RpcError) as future:
        stubs.kv.Range(rpc_pb2.RangeRequest(key=b"k", revision=99), timeout=TIMEOUT)
    assert rpc_error(future.value).code() == grpc.StatusCode.OUT_OF_RANGE
    assert (
        rpc_error(future.value).details()
        == "etcdserver: mvcc: required revision is a future revision"
    )
    with pytest.raises(grpc.RpcError) as no_lease:
        stubs.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=12345), timeout=TIMEOUT)
    assert rpc_error(no_lease.value).code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(no_lease.value).details() == "etcdserver: requested lease not found"
    with pytest.raises(grpc.RpcError) as too_large:
        put(stubs, b"big", b"x" * (3 * 1024 * 1024))
    assert rpc_error(too_large.value).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert put(stubs, b"k", b"after").header.revision == 5  # the server still serves


def test_watch_stream_sees_creation_events_and_cancel(stubs: Stubs) -> None:
    requests: queue.Queue[rpc_pb2.WatchRequest | None] = queue.Queue()

    def outgoing() -> Iterator[rpc_pb2.WatchRequest]:
        while (request := requests.get()) is not None:
            yield request

    requests.put(
        rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(key=b"w", range_end=b"x", prev_kv=True)
        )
    )
    stream = stubs.watch.Watch(outgoing(), timeout=TIMEOUT)
    created = next(stream)
    assert created.created
    assert created.header.revision == 1
    put(stubs, b"w1", b"a")
    put(stubs, b"w1", b"b")
    stubs.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"w1"), timeout=TIMEOUT)
    seen: list[tuple[int, bytes, bytes, bytes]] = []
    while len(seen) < 3:
        for event in next(stream).events:
            seen.append((event.type, event.kv.key, event.kv.value, event.prev_kv.value))
    assert seen == [
        (kv_pb2.Event.PUT, b"w1", b"a", b""),
        (kv_pb2.Event.PUT, b"w1", b"b", b"a"),
        (kv_pb2.Event.DELETE, b"w1", b"", b"b"),
    ]
    requests.put(
        rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=created.watch_id))
    )
    cancelled = next(stream)
    assert cancelled.canceled
    assert cancelled.watch_id == created.watch_id
    requests.put(None)
    assert list(stream) == []


def test_lease_grant_keepalive_time_to_live_and_revoke(stubs: Stubs) -> None:
    granted = stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60, ID=77), timeout=TIMEOUT)
    assert (granted.ID, granted.TTL) == (77, 60)
    put(stubs, b"leased", b"v", lease=77)
    answers = list(
        stubs.lease.LeaseKeepAlive(
            iter([rpc_pb2.LeaseKeepAliveRequest(ID=77), rpc_pb2.LeaseKeepAliveRequest(ID=78)]),
            timeout=TIMEOUT,
        )
    )
    assert [(answer.ID, answer.TTL) for answer in answers] == [(77, 60), (78, 0)]
    alive = stubs.lease.LeaseTimeToLive(
        rpc_pb2.LeaseTimeToLiveRequest(ID=77, keys=True), timeout=TIMEOUT
    )
    assert (alive.grantedTTL, list(alive.keys)) == (60, [b"leased"])
    assert [lease.ID for lease in stubs.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases] == [
        77
    ]
    stubs.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=77), timeout=TIMEOUT)
    assert stubs.kv.Range(rpc_pb2.RangeRequest(key=b"leased"), timeout=TIMEOUT).count == 0


def test_status_and_member_list_name_the_served_member() -> None:
    with served(members=3) as stubs:
        put(stubs, b"k", b"v")
        status = stubs.maintenance.Status(rpc_pb2.StatusRequest(), timeout=TIMEOUT)
        assert status.version == "3.4.23"
        assert status.header.revision == 2
        assert status.raftIndex >= status.raftAppliedIndex >= 1
        assert status.leader != 0
        members = stubs.cluster.MemberList(rpc_pb2.MemberListRequest(), timeout=TIMEOUT).members
        assert len(members) == 3
        assert len({member.ID for member in members}) == 3
        assert status.leader in {member.ID for member in members}
        served_members = [member for member in members if member.clientURLs]
        assert [member.ID for member in served_members] == [status.header.member_id]
        assert list(served_members[0].clientURLs) == [stubs.url]


def test_gateway_and_grpc_share_one_port(stubs: Stubs) -> None:
    body = json.dumps({"key": "Z3c=", "value": "aHR0cA=="}).encode()  # "gw" = "http"
    request = urllib.request.Request(f"{stubs.url}/v3/kv/put", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        assert json.loads(answer.read())["header"]["revision"] == "2"
    assert [kv.value for kv in stubs.kv.Range(rpc_pb2.RangeRequest(key=b"gw")).kvs] == [b"http"]
    put(stubs, b"gw", b"grpc")
    range_body = json.dumps({"key": "Z3c="}).encode()
    request = urllib.request.Request(f"{stubs.url}/v3/kv/range", data=range_body, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        assert json.loads(answer.read())["kvs"][0]["value"] == "Z3JwYw=="  # "grpc"


def test_many_clients_at_once(stubs: Stubs) -> None:
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            for step in range(10):
                put(stubs, f"c{index}".encode(), str(step).encode())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    final = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"c", range_end=b"d"), timeout=TIMEOUT)
    assert final.header.revision == 1 + 8 * 10
    assert {kv.value for kv in final.kvs} == {b"9"}


def test_transport_refusals_are_worded_as_gos_grpc_words_them(stubs: Stubs) -> None:
    def refusal(method: str, data: bytes) -> tuple[grpc.StatusCode, str]:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = stubs.channel.unary_unary(method)
        with pytest.raises(grpc.RpcError) as refused:
            call(data, timeout=TIMEOUT)
        return rpc_error(refused.value).code(), str(rpc_error(refused.value).details())

    assert refusal("/etcdserverpb.KV/Nope", b"") == (
        grpc.StatusCode.UNIMPLEMENTED,
        "unknown method Nope for service etcdserverpb.KV",
    )
    assert refusal("/etcdserverpb.Nope/AuthEnable", b"") == (
        grpc.StatusCode.UNIMPLEMENTED,
        "unknown service etcdserverpb.Nope",
    )
    # Auth is served: enabling it without a root user is refused as real etcd 3.4.23 does.
    assert refusal("/etcdserverpb.Auth/AuthEnable", b"") == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "etcdserver: root user does not exist",
    )
    assert refusal("/etcdserverpb.Cluster/MemberAdd", b"") == (
        grpc.StatusCode.UNIMPLEMENTED,
        "kubeoracle: MemberAdd is not served by the reference",
    )
    code, message = refusal("/etcdserverpb.KV/Range", b"\xff\xff\xff")
    assert code == grpc.StatusCode.INTERNAL
    assert message.startswith("grpc: error unmarshalling request: ")
    big = rpc_pb2.PutRequest(key=b"k", value=b"x" * (3 * 1024 * 1024)).SerializeToString()
    assert refusal("/etcdserverpb.KV/Put", big) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"grpc: received message larger than max ({len(big)} vs. 2097152)",
    )
    assert put(stubs, b"k", b"v").header.revision == 2
