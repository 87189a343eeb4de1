"""kubectl against ``serve apiserver`` + ``serve scheduler`` + ``serve kubelet --nodes 3
--runtime process``: ``kubectl run`` starts a real process that serves, ``kubectl logs`` shows
its output (through the API server's pods/log and the kubelet's containerLogs), an httpGet
readiness probe gates Ready, a command that exits non-zero goes into CrashLoopBackOff with its
exit code in lastState, deleting the pod stops the process, ``kubectl top`` shows the
process's real usage, and gRPC probes against a container serving grpc.health.v1 gate Ready
(SERVING) and restart it (NOT_SERVING)."""

from __future__ import annotations

import json
import socket
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.controllers.manager_process import free_port, served_component
from tests.kubelet.served import eventually, free_ports, kubelets, ok, pod

pytestmark = [pytest.mark.kubectl]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("kubelet-process")
    with (
        serve(tmp, "--metric-resolution", "2") as api,
        served_component("scheduler", api.kubeconfig, tmp, "--leader-elect=false"),
        kubelets(api, tmp, "--nodes", "3", "--runtime", "process", "--port", str(free_ports(3))),
    ):
        yield api


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_kubectl_run_starts_a_real_process_and_delete_stops_it(served: Served) -> None:
    port = free_port()
    ok(
        served,
        "run",
        "web",
        "--image=python",
        "--command",
        "--",
        "python3",
        "-m",
        "http.server",
        str(port),
    )
    eventually(lambda: pod(served, "web").get("status", {}).get("phase") == "Running", "Running")
    assert pod(served, "web")["spec"]["nodeName"].startswith("kubeoracle-node-")
    eventually(lambda: answers(port), "the server answers")
    ok(served, "delete", "pod", "web", "--timeout=60s")
    eventually(lambda: not listening(port), "the process is gone")


def test_http_readiness_probe_gates_ready(served: Served) -> None:
    port = free_port()
    container = {
        "name": "app",
        "image": "python",
        "command": ["sh", "-c", f"sleep 3; exec python3 -m http.server {port}"],
        "readinessProbe": {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1},
    }
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "gated"},
        "spec": {"containers": [container]},
    }
    ok(served, "apply", "-f", "-", stdin=json.dumps(body))
    eventually(lambda: pod(served, "gated").get("status", {}).get("phase") == "Running", "Running")
    conditions = {c["type"]: c["status"] for c in pod(served, "gated")["status"]["conditions"]}
    assert conditions["Ready"] == "False"
    ok(served, "wait", "--for=condition=Ready", "pod/gated", "--timeout=60s")
    assert answers(port)
    ok(served, "delete", "pod", "gated", "--timeout=60s")


def test_failing_command_goes_into_crash_loop_backoff(served: Served) -> None:
    ok(served, "run", "crash", "--image=busybox", "--command", "--", "sh", "-c", "exit 3")

    def backing_off() -> bool:
        statuses = pod(served, "crash").get("status", {}).get("containerStatuses") or []
        return (
            bool(statuses)
            and statuses[0]["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
        )

    eventually(backing_off, "CrashLoopBackOff")
    status = pod(served, "crash")["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert status["restartCount"] >= 1
    assert "CrashLoopBackOff" in ok(served, "get", "pod", "crash")


def test_kubectl_logs_shows_the_output(served: Served) -> None:
    ok(
        served,
        "run",
        "hello",
        "--image=busybox",
        "--restart=Never",
        "--command",
        "--",
        "sh",
        "-c",
        "echo one; echo two",
    )
    eventually(
        lambda: pod(served, "hello").get("status", {}).get("phase") == "Succeeded", "Succeeded"
    )
    assert ok(served, "logs", "hello") == "one\ntwo\n"
    assert ok(served, "logs", "hello", "--tail=1") == "two\n"
    missing = kubectl(served, "logs", "absent")
    assert missing.returncode == 1
    assert 'pods "absent" not found' in missing.stderr


def test_kubectl_top_shows_real_usage(served: Served) -> None:
    script = "import time\nwhile True:\n    sum(range(20000))\n    time.sleep(0.01)\n"
    ok(served, "run", "busy", "--image=python", "--command", "--", "python3", "-c", script)
    eventually(lambda: kubectl(served, "top", "pod", "busy").returncode == 0, "pod metrics")
    name, cpu, memory = ok(served, "top", "pod", "busy", "--no-headers").split()
    assert name == "busy"
    # A Python interpreter that keeps computing: above zero cpu, several MiB resident.
    assert cpu.endswith("m"), cpu
    assert int(cpu[:-1]) > 0, cpu
    assert memory.endswith("Mi"), memory
    assert int(memory[:-2]) >= 4, memory

    def nodes() -> list[str]:
        return ok(served, "top", "node", "--no-headers").splitlines()

    eventually(lambda: len(nodes()) == 3 and "<unknown>" not in str(nodes()), "node metrics")
    for line in nodes():
        node_name, node_cpu, _, node_memory, _ = line.split()
        assert node_name.startswith("kubeoracle-node-")
        assert node_cpu.endswith("m"), line
        assert int(node_cpu[:-1]) > 0, line
        assert node_memory.endswith("Mi"), line
        assert int(node_memory[:-2]) > 0, line
    ok(served, "delete", "pod", "busy", "--timeout=60s")


GRPC_SERVER = """
import sys
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
servicer = health.HealthServicer()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
servicer.set("down", health_pb2.HealthCheckResponse.NOT_SERVING)
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
server.wait_for_termination()
"""


def test_grpc_probes_gate_ready_and_restart(served: Served) -> None:
    def grpc_pod(name: str, probe_field: str, service: str) -> dict[str, object]:
        port = free_port()
        probe = {
            "grpc": {"port": port, "service": service},
            "periodSeconds": 1,
            "failureThreshold": 2,
        }
        container = {
            "name": "app",
            "image": "grpc-health",
            "command": [sys.executable, "-c", GRPC_SERVER, str(port)],
            probe_field: probe,
        }
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [container]},
        }

    ok(served, "apply", "-f", "-", stdin=json.dumps(grpc_pod("grpc-ready", "readinessProbe", "")))
    ok(served, "wait", "--for=condition=Ready", "pod/grpc-ready", "--timeout=60s")
    dead = grpc_pod("grpc-dead", "livenessProbe", "down")
    ok(served, "apply", "-f", "-", stdin=json.dumps(dead))

    def restarted() -> bool:
        statuses = pod(served, "grpc-dead").get("status", {}).get("containerStatuses") or []
        return bool(statuses) and statuses[0]["restartCount"] >= 1

    eventually(restarted, "the liveness probe restarts the container")
    last = pod(served, "grpc-dead")["status"]["containerStatuses"][0]["lastState"]
    assert last["terminated"]["exitCode"] == 143
    ok(served, "delete", "pod", "grpc-ready", "grpc-dead", "--timeout=60s")
