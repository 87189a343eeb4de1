"""Hypothesis-generated messages and raw bytes against the kubelet's ``/exec``: whatever a
client sends after the upgrade, a session either ends with a Status on the error channel or is
closed by the server, and the next session is served as usual."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from models.k8s.base import decode_hook
from models.k8s.core.pod import Pod
from models.kubelet.stats import NodeStats
from runner.kubelet.api import KubeletApi

pytestmark = [pytest.mark.fuzz]

V5 = Subprotocol("v5.channel.k8s.io")
POD = msgspec.convert(
    {"metadata": {"name": "p", "namespace": "default", "uid": "u"}}, Pod, dec_hook=decode_hook
)
HANDSHAKE = (
    b"GET /exec/default/p/app?command=cat&input=1&output=1 HTTP/1.1\r\nHost: x\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
    b"\r\n"
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletApi]:
    folder = tmp_path_factory.mktemp("exec-fuzz")

    def context(uid: str, container: str) -> tuple[Path, dict[str, str]] | None:
        del uid, container
        return folder, {"PATH": os.environ.get("PATH", "")}

    def stats() -> NodeStats:
        return NodeStats(
            node="n", timestamp_ms=0, start_ms=0, cpu_core_ns=0, memory_working_set_bytes=0
        )

    served = KubeletApi("n", "127.0.0.1", 0, lambda: [POD], lambda uid, c: folder, stats, context)
    served.start()
    try:
        yield served
    finally:
        served.close()


def echo_works(api: KubeletApi) -> None:
    host, port = api.address
    address = f"ws://{host}:{port}/exec/default/p/app?command=echo&command=ok&output=1"
    with connect(address, subprotocols=[V5], open_timeout=10) as ws:
        messages = list(ws)
    assert b"\x01ok\n" in messages
    assert json.loads(messages[-1][1:]) == {"metadata": {}, "status": "Success"}


MESSAGES = st.lists(st.one_of(st.binary(max_size=64), st.text(max_size=16)), max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(messages=MESSAGES)
def test_any_messages_end_in_a_status(api: KubeletApi, messages: list[bytes | str]) -> None:
    host, port = api.address
    address = f"ws://{host}:{port}/exec/default/p/app?command=cat&input=1&output=1"
    with connect(address, subprotocols=[V5], open_timeout=10, close_timeout=10) as ws:
        try:
            for message in messages:
                ws.send(message)
            ws.send(b"\xff\x00")
        except ConnectionClosed:
            pass
        received = list(ws)
    statuses = [json.loads(m[1:]) for m in received if isinstance(m, bytes) and m[:1] == b"\x03"]
    assert statuses == [{"metadata": {}, "status": "Success"}]
    echo_works(api)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(min_size=1, max_size=256))
def test_raw_bytes_after_the_upgrade(api: KubeletApi, garbage: bytes) -> None:
    with socket.create_connection(api.address, timeout=10) as raw:
        raw.sendall(HANDSHAKE)
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        raw.sendall(garbage)
        raw.shutdown(socket.SHUT_WR)
        raw.settimeout(10)
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
    echo_works(api)
