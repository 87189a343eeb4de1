"""gRPC fuzz tier against ``serve etcd``: hypothesis-generated requests (corrupt protobuf bytes,
valid messages with arbitrary field values, unknown methods, bad watch streams) always get an
answer with one of etcd's status codes (never grpcio's Unknown, which is what an exception in a
handler becomes), and a valid write still commits afterwards.

Marked ``grpc_fuzz``; bounded by the hypothesis profile (``ci``: 200 examples per test)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.etcd.etcdpb import rpc_pb2
from tests.etcd.grpc_client import Stubs, served

pytestmark = pytest.mark.grpc_fuzz

TIMEOUT = 10.0
WATCH_SECONDS = 0.2
ETCD_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,  # Go gRPC's answer to a message that does not parse
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
UNARY_METHODS = {
    "/etcdserverpb.KV/Range": rpc_pb2.RangeResponse,
    "/etcdserverpb.KV/Put": rpc_pb2.PutResponse,
    "/etcdserverpb.KV/DeleteRange": rpc_pb2.DeleteRangeResponse,
    "/etcdserverpb.KV/Txn": rpc_pb2.TxnResponse,
    "/etcdserverpb.KV/Compact": rpc_pb2.CompactionResponse,
    "/etcdserverpb.Lease/LeaseGrant": rpc_pb2.LeaseGrantResponse,
    "/etcdserverpb.Lease/LeaseRevoke": rpc_pb2.LeaseRevokeResponse,
    "/etcdserverpb.Lease/LeaseTimeToLive": rpc_pb2.LeaseTimeToLiveResponse,
    "/etcdserverpb.Lease/LeaseLeases": rpc_pb2.LeaseLeasesResponse,
    "/etcdserverpb.Maintenance/Status": rpc_pb2.StatusResponse,
    "/etcdserverpb.Cluster/MemberList": rpc_pb2.MemberListResponse,
}
FUZZ_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

int64s = st.one_of(
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.sampled_from([0, 1, 2, -1, 1000, (1 << 63) - 1, -(1 << 63)]),
)
enums = st.integers(min_value=-3, max_value=9)
keys = st.one_of(st.binary(max_size=6), st.sampled_from([b"", b"\0", b"k", b"\xff"]))
range_requests = st.builds(
    rpc_pb2.RangeRequest,
    key=keys,
    range_end=keys,
    limit=int64s,
    revision=int64s,
    sort_order=enums,
    sort_target=enums,
    serializable=st.booleans(),
    keys_only=st.booleans(),
    count_only=st.booleans(),
    min_mod_revision=int64s,
    max_create_revision=int64s,
)
put_requests = st.builds(
    rpc_pb2.PutRequest,
    key=keys,
    value=st.binary(max_size=8),
    lease=int64s,
    prev_kv=st.booleans(),
    ignore_value=st.booleans(),
    ignore_lease=st.booleans(),
)
delete_requests = st.builds(
    rpc_pb2.DeleteRangeRequest, key=keys, range_end=keys, prev_kv=st.booleans()
)
request_ops = st.one_of(
    range_requests.map(lambda request: rpc_pb2.RequestOp(request_range=request)),
    put_requests.map(lambda request: rpc_pb2.RequestOp(request_put=request)),
    delete_requests.map(lambda request: rpc_pb2.RequestOp(request_delete_range=request)),
    st.just(rpc_pb2.RequestOp()),
)
compares = st.builds(
    rpc_pb2.Compare,
    key=keys,
    range_end=keys,
    result=enums,
    target=enums,
    version=int64s,
    mod_revision=int64s,
    value=st.binary(max_size=4),
)
txn_requests = st.builds(
    rpc_pb2.TxnRequest,
    compare=st.lists(compares, max_size=3),
    success=st.lists(request_ops, max_size=4),
    failure=st.lists(request_ops, max_size=4),
)
messages: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    range_requests.map(lambda request: ("/etcdserverpb.KV/Range", request)),
    put_requests.map(lambda request: ("/etcdserverpb.KV/Put", request)),
    delete_requests.map(lambda request: ("/etcdserverpb.KV/DeleteRange", request)),
    txn_requests.map(lambda request: ("/etcdserverpb.KV/Txn", request)),
    int64s.map(
        lambda revision: (
            "/etcdserverpb.KV/Compact",
            rpc_pb2.CompactionRequest(revision=revision),
        )
    ),
    st.builds(rpc_pb2.LeaseGrantRequest, TTL=int64s, ID=int64s).map(
        lambda request: ("/etcdserverpb.Lease/LeaseGrant", request)
    ),
    int64s.map(
        lambda lease: ("/etcdserverpb.Lease/LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=lease))
    ),
)


@pytest.fixture(scope="module")
def stubs() -> Iterator[Stubs]:
    with served() as connected:
        yield connected


def call_raw(stubs: Stubs, method: str, data: bytes) -> grpc.StatusCode:
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = stubs.channel.unary_unary(method)
    failure: grpc.RpcError | None = None
    try:
        call(data, timeout=TIMEOUT)
    except grpc.RpcError as error:
        failure = error
    if failure is None:
        return grpc.StatusCode.OK
    assert isinstance(failure, grpc.Call)
    assert failure.details(), "an etcd error always says what is wrong"
    code: grpc.StatusCode = failure.code()
    return code


def still_serves(stubs: Stubs) -> None:
    before = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"alive"), timeout=TIMEOUT).header.revision
    after = stubs.kv.Put(rpc_pb2.PutRequest(key=b"alive", value=b"v"), timeout=TIMEOUT)
    assert after.header.revision == before + 1


@FUZZ_SETTINGS
@given(method=st.sampled_from(sorted(UNARY_METHODS)), data=st.binary(max_size=64))
def test_corrupt_or_arbitrary_bytes_get_etcd_answers(
    stubs: Stubs, method: str, data: bytes
) -> None:
    code = call_raw(stubs, method, data)
    assert code == grpc.StatusCode.OK or code in ETCD_CODES
    still_serves(stubs)


@FUZZ_SETTINGS
@given(message=messages)
def test_arbitrary_field_values_get_etcd_answers(stubs: Stubs, message: tuple[str, Any]) -> None:
    method, request = message
    code = call_raw(stubs, method, request.SerializeToString())
    assert code == grpc.StatusCode.OK or code in ETCD_CODES - {grpc.StatusCode.INTERNAL}
    still_serves(stubs)


@FUZZ_SETTINGS
@given(service=st.text(max_size=12), method=st.text(max_size=12))
def test_unknown_methods_are_unimplemented(stubs: Stubs, service: str, method: str) -> None:
    path = f"/{service}/{method}"
    if path in UNARY_METHODS:
        return
    assert call_raw(stubs, path, b"") in {
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,  # a path that is not a valid HTTP/2 :path (grpcio's answer)
    }
    still_serves(stubs)


@settings(FUZZ_SETTINGS, max_examples=min(50, settings().max_examples))
@given(frames=st.lists(st.binary(max_size=24), min_size=1, max_size=4))
def test_watch_streams_of_arbitrary_messages_get_etcd_answers(
    stubs: Stubs, frames: list[bytes]
) -> None:
    call: grpc.StreamStreamMultiCallable[bytes, bytes] = stubs.channel.stream_stream(
        "/etcdserverpb.Watch/Watch"
    )
    responses = call(iter(frames), timeout=TIMEOUT)
    # A stream that created a watcher stays open (as etcd's does): the client hangs up.
    hang_up = threading.Timer(WATCH_SECONDS, responses.cancel)
    hang_up.start()
    failure: grpc.RpcError | None = None
    try:
        for data in responses:
            rpc_pb2.WatchResponse.FromString(data)  # every answer is a WatchResponse
    except grpc.RpcError as error:
        failure = error
    finally:
        hang_up.cancel()
    if failure is not None:
        assert isinstance(failure, grpc.Call)
        assert failure.code() in ETCD_CODES | {grpc.StatusCode.CANCELLED}
    still_serves(stubs)
