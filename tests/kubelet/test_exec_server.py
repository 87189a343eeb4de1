"""The kubelet API's ``/exec`` over WebSocket (``v5.channel.k8s.io``), driven by the
``websockets`` client: real processes in the container's folder and environment, stdout and
stderr on their channels, stdin closed by v5's close signal, the exit code in the error
channel's Status, a terminal, the kubelet's refusals before the upgrade, and frames that break
the protocol leaving the server serving."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import msgspec
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from models.k8s.base import decode_hook
from models.k8s.core.pod import Pod
from models.kubelet.stats import NodeStats
from runner.kubelet.api import KubeletApi

V5 = Subprotocol("v5.channel.k8s.io")
POD = msgspec.convert(
    {"metadata": {"name": "p", "namespace": "default", "uid": "u"}}, Pod, dec_hook=decode_hook
)


def no_stats() -> NodeStats:
    return NodeStats(
        node="n", timestamp_ms=0, start_ms=0, cpu_core_ns=0, memory_working_set_bytes=0
    )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[KubeletApi]:
    def context(uid: str, container: str) -> tuple[Path, dict[str, str]] | None:
        if (uid, container) != ("u", "app"):
            return None
        return tmp_path, {"PATH": os.environ.get("PATH", ""), "GREETING": "hello"}

    served = KubeletApi(
        "n", "127.0.0.1", 0, lambda: [POD], lambda uid, c: tmp_path, no_stats, context
    )
    served.start()
    try:
        yield served
    finally:
        served.close()


def url(
    api: KubeletApi, command: list[str], pod: str = "p", container: str = "app", **flags: str
) -> str:
    host, port = api.address
    query = urlencode([*flags.items(), *(("command", part) for part in command)])
    return f"ws://{host}:{port}/exec/default/{pod}/{container}?{query}"


def session(ws: ClientConnection) -> tuple[dict[int, bytes], dict[str, object]]:
    """Every channel's bytes until the server closes, and the error channel's Status."""
    received: dict[int, bytes] = {}
    for message in ws:
        assert isinstance(message, bytes)
        received[message[0]] = received.get(message[0], b"") + message[1:]
    return received, json.loads(received.pop(3))


def test_output_streams_and_exit_code(api: KubeletApi) -> None:
    script = 'pwd; echo "$GREETING"; echo oops >&2; exit 3'
    with connect(url(api, ["sh", "-c", script], output="1", error="1"), subprotocols=[V5]) as ws:
        assert ws.subprotocol == V5
        received, status = session(ws)
    assert received[1].decode().splitlines()[1] == "hello"
    assert Path(received[1].decode().splitlines()[0]).name == Path(api_folder(api)).name
    assert received[2] == b"oops\n"
    assert status == {
        "metadata": {},
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: "
        "command terminated with exit code 3",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }


def api_folder(api: KubeletApi) -> Path:
    assert api.exec_context is not None
    found = api.exec_context("u", "app")
    assert found is not None
    return found[0]


def test_stdin_until_the_close_signal(api: KubeletApi) -> None:
    with connect(url(api, ["cat"], input="1", output="1"), subprotocols=[V5]) as ws:
        ws.send(b"\x00first\n")
        ws.send(b"\x00second\n")
        ws.send(b"\xff\x00")
        received, status = session(ws)
    assert received[1] == b"first\nsecond\n"
    assert status == {"metadata": {}, "status": "Success"}


def test_a_terminal_merges_output_and_takes_its_size(api: KubeletApi) -> None:
    with connect(
        url(api, ["sh", "-c", "read x; stty size; echo err >&2"], input="1", output="1", tty="1"),
        subprotocols=[V5],
    ) as ws:
        ws.send(b'\x04{"Width":91,"Height":17}')
        ws.send(b"\x00go\n")
        received, status = session(ws)
    assert received[1].replace(b"\r", b"").splitlines()[-2:] == [b"17 91", b"err"]
    assert 2 not in received
    assert status["status"] == "Success"


def test_a_command_that_cannot_start(api: KubeletApi) -> None:
    with connect(url(api, ["no-such-command-here"], output="1"), subprotocols=[V5]) as ws:
        _, status = session(ws)
    assert status["reason"] == "InternalError"
    assert status["message"] == (
        "Internal error occurred: error executing command in container: "
        'exec: "no-such-command-here": No such file or directory'
    )


@pytest.mark.parametrize(
    ("target", "code", "text"),
    [
        ({"pod": "absent"}, 404, "pod does not exist"),
        ({"container": "gone"}, 500, 'container not found ("gone")'),
        ({"flags": {}}, 400, "you must specify at least 1 of stdin, stdout, stderr"),
        ({"command": []}, 400, "you must specify at least one command for the container"),
    ],
)
def test_refusals_before_the_upgrade(
    api: KubeletApi, target: dict[str, object], code: int, text: str
) -> None:
    command = target.get("command", ["true"])
    flags = target.get("flags", {"output": "1"})
    assert isinstance(command, list)
    assert isinstance(flags, dict)
    address = url(
        api,
        command,
        pod=str(target.get("pod", "p")),
        container=str(target.get("container", "app")),
        **flags,
    )
    with pytest.raises(InvalidStatus) as refused:
        connect(address, subprotocols=[V5])
    assert refused.value.response.status_code == code
    assert bytes(refused.value.response.body or b"").decode().strip() == text


def test_an_unknown_subprotocol_is_refused(api: KubeletApi) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(url(api, ["true"], output="1"), subprotocols=[Subprotocol("channel.k8s.io")])
    assert refused.value.response.status_code == 400


def test_bad_frames_leave_the_server_serving(api: KubeletApi) -> None:
    with connect(url(api, ["cat"], input="1", output="1"), subprotocols=[V5]) as ws:
        ws.send("text is not the protocol")
        ws.send(b"")
        ws.send(b"\x09unknown channel")
        ws.send(b"\xff")
        ws.send(b"\xff\x07\x07")
        ws.send(b"\x00still here\n")
        ws.send(b"\xff\x00")
        received, status = session(ws)
    assert received[1] == b"still here\n"
    assert status["status"] == "Success"
    host, port = api.address
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(
            b"GET /exec/default/p/app?command=cat&input=1 HTTP/1.1\r\nHost: x\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        answer = head.split(b"\r\n\r\n", 1)[1]
        raw.sendall(b"\x82\x7f" + b"\xff" * 8 + b"unmasked and impossibly long")
        raw.settimeout(5)
        try:
            while chunk := raw.recv(4096):
                answer += chunk
        except ConnectionResetError:
            pass
    # The server ended that connection itself with a close frame (1002 or 1009).
    assert [(opcode, payload[:2]) for opcode, payload in frames(answer) if opcode == 8] in (
        [(8, (1002).to_bytes(2, "big"))],
        [(8, (1009).to_bytes(2, "big"))],
    )
    with connect(url(api, ["echo", "again"], output="1"), subprotocols=[V5]) as ws:
        received, status = session(ws)
    assert received[1] == b"again\n"


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """The (opcode, payload) of each short unmasked frame a server wrote."""
    found, at = [], 0
    while at + 2 <= len(data):
        length = data[at + 1] & 0x7F
        found.append((data[at] & 0x0F, data[at + 2 : at + 2 + length]))
        at += 2 + length
    return found


def test_a_plain_request_to_exec_is_refused(api: KubeletApi) -> None:
    host, port = api.address
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"GET /exec/default/p/app?command=true HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 400")


def test_the_simulated_runtime_refuses_exec() -> None:
    simulated = KubeletApi("n", "127.0.0.1", 0, lambda: [POD], lambda uid, c: Path("/"), no_stats)
    simulated.start()
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(url(simulated, ["true"], output="1"), subprotocols=[V5])
        assert refused.value.response.status_code == 500
        assert bytes(refused.value.response.body or b"").decode() == (
            "exec is not supported by the simulated runtime (its containers run no processes): "
            "serve kubelet --runtime process runs commands\n"
        )
    finally:
        simulated.close()


def test_v4_without_the_close_signal(api: KubeletApi) -> None:
    v4 = Subprotocol("v4.channel.k8s.io")
    with connect(url(api, ["sh", "-c", "echo four"], output="1"), subprotocols=[v4]) as ws:
        assert ws.subprotocol == v4
        received, status = session(ws)
    assert received[1] == b"four\n"
    assert status == {"metadata": {}, "status": "Success"}


def test_a_client_that_leaves_ends_the_command(api: KubeletApi) -> None:
    with connect(
        url(api, ["sh", "-c", "echo $$; exec sleep 1000"], output="1"), subprotocols=[V5]
    ) as ws:
        output = b""
        while not output.endswith(b"\n"):
            message = ws.recv(timeout=10)
            assert isinstance(message, bytes)
            output += message[1:]
    pid = int(output)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists()
