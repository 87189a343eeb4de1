"""``kubeoracle serve etcd`` as a process and under load: clean shutdown on SIGTERM and Ctrl-C,
a deep listen backlog, bounded reading of huge bodies (issue 10's list for ``serve etcd``)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from runner.etcd.backend import SingleMemberBackend
from runner.etcd.gateway import MAX_BODY_BYTES
from runner.etcd.server import GatewayServer, start_in_thread
from tests.etcd.raw_http import address, exchange, post


@pytest.fixture
def gateway() -> Iterator[str]:
    server = GatewayServer(("127.0.0.1", 0), SingleMemberBackend())
    thread = start_in_thread(server)
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=5)


def start_serving(members: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve", "etcd", "--listen", "127.0.0.1:0",
         "--members", str(members)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on " in line, line
    return process, line.split("listening on ")[1].split(" ")[0]


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_cleanly_even_with_a_watch_open(signal_number: int) -> None:
    process, url = start_serving(members=3)
    try:
        watch = socket.create_connection(address(url), timeout=10)
        watch.sendall(post("/v3/watch", b'{"create_request":{"key":"YQ=="}}'))
        assert watch.recv(4096).startswith(b"HTTP/1.1 200")
        os.kill(process.pid, signal_number)
        _, stderr = process.communicate(timeout=15)
        watch.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "stopped" in stderr


def test_two_hundred_concurrent_connections_are_all_answered(gateway: str) -> None:
    """The old server's listen backlog of 5 reset 12-30% of these."""
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(200)

    def one() -> None:
        barrier.wait()
        answer = exchange(gateway, post("/v3/kv/range", b'{"key":"YQ=="}'), timeout=30)
        with lock:
            statuses.append(-1 if answer is None else answer.status)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 200


def test_a_huge_chunked_body_is_refused_without_reading_it_all(gateway: str) -> None:
    """The old gateway read a 200 MB chunked body whole. The reference answers as gRPC does
    for an oversized message once the body passes its limit, and closes the connection."""
    block = b"dnZ2" * 16384
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection(address(gateway), timeout=10) as connection:
        connection.sendall(
            b"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b'17\r\n{"key":"YQ==","value":"\r\n'
        )
        try:
            while sent < 200_000_000:
                connection.sendall(chunk)
                sent += len(block)
        except OSError:
            pass  # the server stopped reading and closed
        connection.settimeout(5)
        try:
            while chunk_read := connection.recv(65536):
                answer += chunk_read
        except OSError:
            pass
    assert sent < 4 * MAX_BODY_BYTES
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429")
    error = json.loads(body)
    assert error["code"] == 8
    assert error["message"].startswith("grpc: received message larger than max (")
    assert error["message"].endswith(" vs. 2097152)")
    after = exchange(gateway, post("/v3/kv/put", b'{"key":"YQ==","value":"MQ=="}'))
    assert after is not None
    assert after.status == 200


def test_a_slow_client_does_not_block_others(gateway: str) -> None:
    """A request whose body never completes holds nothing but its own connection."""
    with socket.create_connection(address(gateway), timeout=10) as slow:
        slow.sendall(b"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        answer = exchange(gateway, post("/v3/kv/range", b'{"key":"YQ=="}'))
        assert answer is not None
        assert answer.status == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        # A chunk announcing 0x10 bytes, of which two are sent.
        b"POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{}",
        # A Content-Length body of 100 bytes, of which one is sent.
        b"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    ],
)
def test_a_body_that_never_completes_is_answered_408_after_the_read_timeout(
    request_bytes: bytes,
) -> None:
    server = GatewayServer(("127.0.0.1", 0), SingleMemberBackend(), body_read_timeout_seconds=0.5)
    thread = start_in_thread(server)
    try:
        with socket.create_connection(address(server.url), timeout=10) as connection:
            connection.sendall(request_bytes)
            answer = b""
            while chunk := connection.recv(65536):  # until the server closes the connection
                answer += chunk
    finally:
        server.close()
        thread.join(timeout=5)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {
        "error": "request body not received within 0.5 s",
        "message": "request body not received within 0.5 s",
        "code": 4,
    }
