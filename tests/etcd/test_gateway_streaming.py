"""The reference gateway's watch stream with a request body that stays open (chunked upload):
watches created and cancelled while events flow, as grpc-gateway allows."""

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from models.etcd import PutRequest
from runner.etcd.backend import SingleMemberBackend
from runner.etcd.server import GatewayServer


@pytest.fixture
def server() -> Iterator[GatewayServer]:
    started = GatewayServer(("127.0.0.1", 0), SingleMemberBackend())
    thread = threading.Thread(target=started.serve_forever, daemon=True)
    thread.start()
    try:
        yield started
    finally:
        started.close()
        thread.join(timeout=5)


def chunk(payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload).encode() + b"\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def read_message(reader: Any) -> Any:
    size = int(reader.readline().strip(), 16)
    data = reader.read(size)
    reader.readline()
    return json.loads(data)["result"]


def test_requests_on_an_open_body_create_and_cancel_watches(server: GatewayServer) -> None:
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=10) as connection:
        reader = connection.makefile("rb")
        connection.sendall(
            b"POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk({"create_request": {"key": "YQ=="}})
        )
        assert reader.readline().startswith(b"HTTP/1.1 200")
        while reader.readline() not in (b"\r\n", b""):
            pass
        assert read_message(reader)["created"] is True
        server.backend.propose(PutRequest(key=b"a", value=b"1"))
        assert read_message(reader)["events"][0]["kv"]["value"] == "MQ=="
        connection.sendall(chunk({"create_request": {"key": "Yg==", "watch_id": "5"}}))
        assert read_message(reader) == {
            "header": server_header(server, 2),
            "watch_id": "5",
            "created": True,
        }
        connection.sendall(chunk({"cancel_request": {"watch_id": "0"}}))
        cancelled = read_message(reader)
        assert (cancelled.get("watch_id"), cancelled["canceled"]) == (None, True)
        connection.sendall(b"0\r\n\r\n")


def server_header(server: GatewayServer, revision: int) -> dict[str, str]:
    header = server.backend.header(revision)
    return {
        "cluster_id": str(header.cluster_id),
        "member_id": str(header.member_id),
        "revision": str(revision),
        "raft_term": str(header.raft_term),
    }
