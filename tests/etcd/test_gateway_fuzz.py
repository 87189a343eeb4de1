"""HTTP fuzz tier against ``serve etcd`` (three Raft members): hypothesis-generated malformed
requests (bad JSON, wrong types, huge integers, bad headers, broken chunking) always get an
etcd-shaped answer on the same connection, and a valid write still commits afterwards.

Marked ``http_fuzz``; bounded by the hypothesis profile (``ci``: 200 examples per test)."""

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.etcd.backend import make_backend
from runner.etcd.gateway import OBSERVE_ENDPOINT, POST_ENDPOINTS, RECIPE_ENDPOINTS
from runner.etcd.server import GatewayServer, start_in_thread
from tests.etcd.raw_http import Answer, address, exchange, post

pytestmark = pytest.mark.http_fuzz

FIELDS = ("key", "range_end", "value", "lease", "limit", "revision", "sort_order",
          "sort_target", "serializable", "prev_kv", "ID", "TTL", "compare", "success",
          "failure", "request_put", "request_range", "create_request", "cancel_request",
          "watch_id", "start_revision", "filters", "physical", "keys")  # fmt: skip
UNARY_PATHS = sorted(
    POST_ENDPOINTS
    - {"/v3/watch", "/v3/lease/keepalive", OBSERVE_ENDPOINT, "/v3/auth/enable"}
    - {*RECIPE_ENDPOINTS}
)
"""The unary paths, but lock and campaign, which wait (by design) while another holds the lock,
and the rest of the recipe routes (tests/etcd/test_grpc_recipes.py covers them); observe, a
stream that sends nothing while the election has no leader; and auth enable, after which the
write that checks the server still works would need a token (the auth routes are otherwise
fuzzed here, and tests/etcd/test_grpc_fuzz_auth.py fuzzes auth with tokens)."""
BODY_READ_TIMEOUT_SECONDS = 0.3
"""Short, so that a body announcing bytes it never sends is answered 408 quickly."""
ANSWER_STATUSES = frozenset({200, 400, 404, 405, 408, 412, 429, 500, 503})

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 80), max_value=1 << 80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["YQ==", "AA==", "!!", "9223372036854775808", "-1", "NOPUT", "DESCEND"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), inner, max_size=5),
    ),
    max_leaves=20,
)
bodies = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    json_values.map(lambda value: json.dumps(value).encode()[:-1]),  # truncated
)


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    server = GatewayServer(
        ("127.0.0.1", 0), make_backend(3), body_read_timeout_seconds=BODY_READ_TIMEOUT_SECONDS
    )
    thread = start_in_thread(server)
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=5)


def assert_etcd_shaped(answer: Answer | None) -> None:
    assert answer is not None, "the connection was dropped without an answer"
    assert answer.status in ANSWER_STATUSES
    if answer.headers.get("content-type") == "application/json" and answer.status != 200:
        error: Any = json.loads(answer.body)
        assert set(error) == {"error", "message", "code"}
        assert error["error"] == error["message"]
        assert isinstance(error["code"], int)


def assert_still_writes(gateway: str) -> None:
    answer = exchange(gateway, post("/v3/kv/put", b'{"key":"YQ==","value":"MQ=="}'))
    assert answer is not None
    assert answer.status == 200


FUZZ_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ_SETTINGS
@given(path=st.sampled_from(UNARY_PATHS), body=bodies)
def test_malformed_unary_bodies(gateway: str, path: str, body: bytes) -> None:
    assert_etcd_shaped(exchange(gateway, post(path, body)))
    assert_still_writes(gateway)


header_lines = st.sampled_from(
    [
        b"Content-Length: abc\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: 99999999999999999999\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"Content-Type: text/plain\r\n",
        b"Expect: 100-continue\r\n",
        b"X-\xff: \xfe\r\n",
        b"NoColon\r\n",
    ]
)


@FUZZ_SETTINGS
@given(
    method=st.sampled_from([b"POST", b"GET", b"PUT", b"DELETE", b"OPTIONS", b"BREW"]),
    path=st.sampled_from([*UNARY_PATHS, "/health", "/version", "/", "/v3/%zz", "/v3beta/kv/range"]),
    headers=st.lists(header_lines, max_size=3),
    body=st.binary(max_size=40),
)
def test_bad_heads_and_headers(
    gateway: str, method: bytes, path: str, headers: list[bytes], body: bytes
) -> None:
    request = method + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"".join(headers)
    if not any(line.startswith((b"Content-Length", b"Transfer-Encoding")) for line in headers):
        request += b"Content-Length: %d\r\n" % len(body)
    assert_etcd_shaped(exchange(gateway, request + b"\r\n" + body, timeout=5))
    assert_still_writes(gateway)


CHUNKINGS = [
    (pieces, sizes)
    for pieces in ([b"\x00"], [b"{}"], [b'{"key":"YQ==",', b'"limit":"2"}'])
    for sizes in ([], [b"zz"], [b"-1"], [b"1;x=y"], [b""], [b"zz", b""])
]


def chunked(pieces: list[bytes], sizes: list[bytes], data: bytes) -> bytes:
    """A chunked request: well-formed chunks of ``pieces``, then chunks whose size lines are
    ``sizes`` (each followed by ``data``), then the last chunk."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    body += b"".join(size + b"\r\n" + data + b"\r\n" for size in sizes) + b"0\r\n\r\n"
    head = b"POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + body


@pytest.mark.parametrize(("pieces", "sizes"), CHUNKINGS)
def test_broken_chunking(gateway: str, pieces: list[bytes], sizes: list[bytes]) -> None:
    assert_etcd_shaped(exchange(gateway, chunked(pieces, sizes, b"ab"), timeout=5))
    assert_still_writes(gateway)


size_lines = st.one_of(
    st.sampled_from([b"zz", b"-1", b"1;x=y", b"", b"ffffffffffffffff", b" 2", b"0x2"]),
    st.integers(1, 40).map(lambda size: b"%x" % size),
)


@settings(FUZZ_SETTINGS, max_examples=60)
@given(
    pieces=st.lists(st.binary(min_size=1, max_size=8), max_size=3),
    sizes=st.lists(size_lines, max_size=2),
    data=st.binary(max_size=8),
)
def test_generated_chunking(
    gateway: str, pieces: list[bytes], sizes: list[bytes], data: bytes
) -> None:
    """A size line larger than the data sent leaves the body incomplete: the answer is 408
    once the body read timeout passes, never a connection held for ever."""
    assert_etcd_shaped(exchange(gateway, chunked(pieces, sizes, data), timeout=5))
    assert_still_writes(gateway)


def watch_status(gateway: str, body: bytes) -> int:
    """The status of a watch answer (the stream itself may stay open: it is closed here)."""
    with socket.create_connection(address(gateway), timeout=5) as connection:
        connection.sendall(post("/v3/watch", body))
        head = b""
        while b"\r\n" not in head:
            data = connection.recv(4096)
            assert data, "the connection was dropped without an answer"
            head += data
    return int(head.split(b" ")[1])


@FUZZ_SETTINGS
@given(body=bodies)
def test_malformed_watch_bodies(gateway: str, body: bytes) -> None:
    assert watch_status(gateway, body) in (200, 500)
    assert_still_writes(gateway)
