"""Malformed and oversized requests get real etcd 3.4.23's answers from the reference gateway,
and never disturb it (issue 10's list for ``serve etcd``). Each request goes to the real etcd
and to the reference served as three Raft members; statuses and bodies must agree, and a valid
write must still succeed on the reference afterwards."""

import base64
import json
from collections.abc import Iterator

import pytest

from runner.etcd.cluster import LocalEtcdCluster
from tests.conformance.conftest import reference_gateway_running
from tests.etcd.raw_http import Answer, exchange, post


@pytest.fixture(scope="module")
def real_etcd() -> Iterator[str]:
    """One real etcd member for the whole module (these requests change nothing)."""
    cluster = LocalEtcdCluster(1)
    try:
        cluster.start()
        yield cluster.endpoints[0]
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def reference() -> Iterator[str]:
    """The reference as three Raft members for the whole module."""
    with reference_gateway_running(3) as url:
        yield url


PUT_A = post("/v3/kv/put", b'{"key":"YQ==","value":"MQ=="}')
HUGE_KEY = base64.b64encode(b"k" * 2_000_000).decode()
CASES: dict[str, bytes] = {
    "int64 overflow as a string": post("/v3/lease/grant", b'{"TTL":30,"ID":"9223372036854775808"}'),
    "int64 overflow as a number": post("/v3/lease/grant", b'{"TTL":30,"ID":9223372036854775808}'),
    "2^70 lease ID": post("/v3/lease/grant", b'{"TTL":30,"ID":1180591620717411303424}'),
    "2 MB key": post("/v3/kv/put", json.dumps({"key": HUGE_KEY, "value": "MQ=="}).encode()),
    "Content-Length abc": b"POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    "Content-Length over int64": (
        b"POST /v3/kv/compaction HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 99999999999999999999\r\n\r\n"
    ),
    "bad chunk size": (
        b"POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n"
        b"0\r\n\r\n"
    ),
    "bad chunk size on a watch": (
        b"POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n"
        b"0\r\n\r\n"
    ),
    "watch key of the wrong type": post("/v3/watch", b'{"create_request":{"key":5}}'),
    "keepalive ID not a number": post("/v3/lease/keepalive", b'{"ID":"abc"}'),
    "wrong method": b"GET /v3/kv/range HTTP/1.1\r\nHost: x\r\n\r\n",
    "wrong method on /health": b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    "unknown path": post("/v3/kv/nothing", b"{}"),
    "not JSON": post("/v3/kv/range", b"{bad"),
    "array body": post("/v3/kv/range", b"[]"),
    "bad base64": post("/v3/kv/range", b'{"key":"!!"}'),
    "fractional limit": post("/v3/kv/range", b'{"key":"YQ==","limit":1.5}'),
    "unknown enum name": post("/v3/kv/range", b'{"key":"YQ==","sort_order":"FOO"}'),
    "string for a bool": post("/v3/kv/range", b'{"key":"YQ==","serializable":"yes"}'),
    "empty txn operation": post("/v3/kv/txn", b'{"success":[{}]}'),
    "health": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    "version": b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n",
}


def comparable(answer: Answer | None) -> tuple[int, object, str] | None:
    """Status, body (JSON parsed when it is JSON) and content type without parameters."""
    if answer is None:
        return None
    content_type = answer.headers.get("content-type", "").split(";")[0]
    try:
        body: object = json.loads(answer.body)
    except ValueError:
        body = answer.body.decode("latin-1")
    return answer.status, body, content_type


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_reference_answers_as_etcd_and_stays_healthy(
    case: str, real_etcd: str, reference: str
) -> None:
    real = comparable(exchange(real_etcd, CASES[case]))
    assert real is not None, "etcd answered"
    assert comparable(exchange(reference, CASES[case])) == real
    after = exchange(reference, PUT_A)
    assert after is not None
    assert after.status == 200, "a valid write still succeeds"


def test_a_negative_lease_id_is_granted_and_later_writes_still_commit(
    real_etcd_member: str, reference_raft_gateway: str
) -> None:
    """The old gateway's Raft pump died on this grant and every later write answered 503."""
    grant = post("/v3/lease/grant", b'{"TTL":30,"ID":-5}')
    for base in (real_etcd_member, reference_raft_gateway):
        answer = exchange(base, grant)
        assert answer is not None
        assert answer.status == 200
        body = json.loads(answer.body)
        assert (body["ID"], body["TTL"]) == ("-5", "30")
        put = exchange(base, post("/v3/kv/put", b'{"key":"YQ==","value":"MQ==","lease":"-5"}'))
        assert put is not None
        assert put.status == 200
