"""The real kubectl's ``exec`` (WebSocket, ``v5.channel.k8s.io``) against ``serve apiserver`` +
``serve kubelet --runtime process``: the command's output, its exit code as kubectl's, ``-c``,
``-i`` with piped stdin, ``-it`` on a terminal, and kube's answers for a wrong container, an
unbound pod, a container not running and a node without a kubelet port; killing kubectl ends
the command; ``kubectl cp`` both ways; the official Python client's ``stream`` works too;
WebSocket requests that break the protocol leave the API server serving."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import termios
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.stream import stream
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.apiserver.kubectl import KUBECTL, Served, kubectl, require_kubectl, serve
from tests.kubelet.served import eventually, free_ports, kubelets, ok, pod

pytestmark = [pytest.mark.kubectl]

NODE = "kubeoracle-node-0"


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


def apply(served: Served, name: str, spec: Mapping[str, object]) -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    ok(served, "apply", "-f", "-", stdin=json.dumps(body))


def running(served: Served, name: str) -> None:
    eventually(lambda: pod(served, name).get("status", {}).get("phase") == "Running", "Running")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("kubelet-exec")
    with (
        serve(tmp) as api,
        kubelets(api, tmp, "--nodes", "1", "--runtime", "process", "--port", str(free_ports(1))),
    ):
        eventually(lambda: NODE in ok(api, "get", "nodes", "-o", "name"), "the node")
        containers = [
            {
                "name": name,
                "image": "busybox",
                "command": ["sleep", "3600"],
                "env": [{"name": "WHO", "value": name}],
            }
            for name in ("first", "second")
        ]
        apply(api, "two", {"nodeName": NODE, "containers": containers})
        running(api, "two")
        yield api


def test_exec_prints_the_output(served: Served) -> None:
    done = kubectl(served, "exec", "two", "-c", "first", "--", "echo", "hi")
    assert (done.returncode, done.stdout) == (0, "hi\n")
    spaced = kubectl(served, "exec", "two", "-c", "first", "--", "echo", "a b&c=d", "héllo ✓")
    assert (spaced.returncode, spaced.stdout) == (0, "a b&c=d héllo ✓\n")


def test_a_non_zero_exit_is_kubectls_exit_code(served: Served) -> None:
    done = kubectl(
        served, "exec", "two", "-c", "first", "--", "sh", "-c", "echo out; echo err >&2; exit 7"
    )
    assert done.returncode == 7
    assert done.stdout == "out\n"
    assert done.stderr == "err\ncommand terminated with exit code 7\n"


def test_the_container_flag_picks_the_container(served: Served) -> None:
    second = kubectl(served, "exec", "two", "-c", "second", "--", "sh", "-c", "echo $WHO")
    assert (second.returncode, second.stdout) == (0, "second\n")
    defaulted = kubectl(served, "exec", "two", "--", "sh", "-c", "echo $WHO")
    assert (defaulted.returncode, defaulted.stdout) == (0, "first\n")
    assert 'Defaulted container "first" out of: first, second' in defaulted.stderr
    wrong = kubectl(served, "exec", "two", "-c", "third", "--", "true")
    assert wrong.returncode == 1
    assert wrong.stderr == (
        "Error from server (BadRequest): container third is not valid for pod two\n"
    )


def test_stdin_is_piped_with_dash_i(served: Served) -> None:
    done = kubectl(
        served,
        "exec",
        "-i",
        "two",
        "-c",
        "first",
        "--",
        "sh",
        "-c",
        "tr a-z A-Z; echo done",
        stdin="piped text\nsecond line\n",
    )
    assert (done.returncode, done.stdout) == (0, "PIPED TEXT\nSECOND LINE\ndone\n")


def test_an_unbound_pod_is_refused(served: Served) -> None:
    apply(served, "unbound", {"containers": [{"name": "app", "image": "busybox"}]})
    done = kubectl(served, "exec", "unbound", "--", "true")
    assert done.returncode == 1
    assert done.stderr == (
        "Error from server (BadRequest): pod unbound does not have a host assigned\n"
    )


def test_a_container_not_running_is_the_kubelets_answer(served: Served) -> None:
    spec = {
        "nodeName": NODE,
        "initContainers": [{"name": "wait", "image": "busybox", "command": ["sleep", "3600"]}],
        "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}],
    }
    apply(served, "initializing", spec)

    def init_running() -> bool:
        statuses = pod(served, "initializing").get("status", {}).get("initContainerStatuses")
        return bool(statuses) and "running" in statuses[0].get("state", {})

    eventually(init_running, "the init container runs")
    done = kubectl(served, "exec", "initializing", "-c", "main", "--", "true")
    assert done.returncode == 1
    assert done.stderr == (
        "error: Internal error occurred: unable to upgrade connection: "
        'container not found ("main")\n'
    )
    inside = kubectl(served, "exec", "initializing", "-c", "wait", "--", "echo", "init")
    assert (inside.returncode, inside.stdout) == (0, "init\n")


def test_a_node_without_a_kubelet_api(served: Served) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}}
    ok(served, "apply", "-f", "-", stdin=json.dumps(node))
    apply(served, "stranded", {"nodeName": "bare", "containers": [{"name": "a", "image": "x"}]})
    done = kubectl(served, "exec", "stranded", "--", "true")
    assert done.returncode == 1
    assert done.stderr == (
        "error: Internal error occurred: error dialing backend: node bare has no kubelet "
        "endpoint (its status names no daemonEndpoints.kubeletEndpoint port)\n"
    )


def test_bad_websocket_requests_leave_the_server_serving(served: Served) -> None:
    base = served.url.replace("http://", "ws://")
    exec_url = f"{base}/api/v1/namespaces/default/pods/two/exec?container=first&stdout=true"
    v5 = [Subprotocol("v5.channel.k8s.io")]
    with pytest.raises(InvalidStatus) as elsewhere:
        connect(f"{base}/api/v1/namespaces/default/pods", subprotocols=v5)
    assert elsewhere.value.response.status_code == 404
    with pytest.raises(InvalidStatus) as unknown:
        connect(f"{exec_url}&command=true", subprotocols=[Subprotocol("channel.k8s.io")])
    assert unknown.value.response.status_code == 400
    assert json.loads(bytes(unknown.value.response.body or b""))["message"] == (
        "requested protocol(s) are not supported: ['channel.k8s.io']; "
        "supports ['v5.channel.k8s.io', 'v4.channel.k8s.io']"
    )
    with connect(f"{exec_url}&stdin=true&command=cat", subprotocols=v5) as ws:
        ws.send("text is not the protocol")
        ws.send(b"")
        ws.send(b"\x09unknown channel")
        ws.send(b"\xff")
        ws.send(b"\x00relayed\n")
        ws.send(b"\xff\x00")
        received = b"".join(m[1:] for m in ws if isinstance(m, bytes) and m[:1] == b"\x01")
    assert received == b"relayed\n"
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"GET /api/v1/namespaces/default/pods/two/exec?container=first&stdin=true"
            b"&command=cat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        raw.sendall(b"\x82\x7f" + b"\xff" * 8 + b"unmasked and impossibly long")
        raw.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            while raw.recv(4096):
                pass
    done = kubectl(served, "exec", "two", "-c", "first", "--", "echo", "still serving")
    assert (done.returncode, done.stdout) == (0, "still serving\n")


def test_a_terminal_with_dash_it(served: Served) -> None:
    """kubectl on a pseudo-terminal of 33 rows and 120 columns: the command runs on a terminal
    of that size (the resize channel), and what is typed reaches it."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 120, 0, 0))
    command = [KUBECTL, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(served.cache)]
    script = "tty >/dev/null && echo terminal; stty size; read x; echo got:$x"
    process = subprocess.Popen(
        [*command, "exec", "-it", "two", "-c", "first", "--", "sh", "-c", script],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    output, typed = b"", False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and b"got:" not in output:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                output += os.read(master, 4096)
            if b"33 120" in output and not typed:
                os.write(master, b"typed\r")
                typed = True
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        os.close(master)
    lines = output.replace(b"\r", b"").splitlines()
    assert lines[:2] == [b"terminal", b"33 120"]
    assert lines[-1] == b"got:typed"


def test_killing_kubectl_ends_the_command(served: Served) -> None:
    command = [KUBECTL, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(served.cache)]
    process = subprocess.Popen(
        [*command, "exec", "two", "-c", "first", "--", "sh", "-c", "echo $$; exec sleep 1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        pid = int(process.stdout.readline())
        assert Path(f"/proc/{pid}").exists()
    finally:
        process.kill()
        process.wait()
    eventually(lambda: not Path(f"/proc/{pid}").exists(), "the command is gone")


def test_the_python_clients_stream(served: Served) -> None:
    """The official Python client's ``stream`` (websocket-client, offering v5 then v4): output
    on its channels, stdin, and the exit code it reads from the error channel."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(served.kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        api = client.CoreV1Api(api_client)
        session = stream(
            api.connect_get_namespaced_pod_exec,
            "two",
            "default",
            container="second",
            command=["sh", "-c", "read x; echo got:$x $WHO; echo err >&2; exit 5"],
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        session.write_stdin("line\n")
        session.run_forever(timeout=30)
        assert session.read_stdout() == "got:line second\n"
        assert session.read_stderr() == "err\n"
        assert session.returncode == 5
        session.close()


def test_kubectl_cp_both_ways(served: Served, tmp_path: Path) -> None:
    """``kubectl cp`` is ``tar`` through exec (stdin one way, stdout the other); relative paths
    are the container's working directory, its sandbox folder."""
    local = tmp_path / "local.txt"
    local.write_text("local content\n")
    sent = kubectl(served, "cp", str(local), "two:copied.txt", "-c", "first")
    assert sent.returncode == 0, sent.stderr
    inside = kubectl(served, "exec", "two", "-c", "first", "--", "cat", "copied.txt")
    assert inside.stdout == "local content\n"
    back = tmp_path / "back.txt"
    fetched = kubectl(served, "cp", "two:copied.txt", str(back), "-c", "first")
    assert fetched.returncode == 0, fetched.stderr
    assert back.read_text() == "local content\n"
