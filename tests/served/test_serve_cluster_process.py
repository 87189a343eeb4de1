"""``serve cluster --runtime process``: a Deployment's pod is a real local process, ``kubectl
expose`` gives it a Service, and a connection to kube-proxy's userspace port for that Service
reaches the process (its access log, read with ``kubectl logs``, shows the request)."""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from tests.apiserver.kubectl import require_kubectl
from tests.kubelet.served import free_ports
from tests.served.cluster import kubectl, serve_cluster, table

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_service_reaches_a_process_pod_through_kube_proxy(tmp_path: Path) -> None:
    require_kubectl()
    # The two kubelets listen on kubelet_port and kubelet_port + 1; the pod's server must not
    # take either (two independent free ports could be consecutive).
    kubelet_port = free_ports(2)
    port = _free_port()
    while kubelet_port <= port <= kubelet_port + 1:
        port = _free_port()
    extra = ("--nodes", "2", "--runtime", "process", "--kubelet-port", str(kubelet_port))
    with serve_cluster(tmp_path, *extra) as running:
        server = ("--", "python3", "-m", "http.server", str(port))
        created = kubectl(running, "create", "deployment", "web", "--image=python",
                          f"--port={port}", *server)  # fmt: skip
        assert created.returncode == 0, created.stderr
        rollout = kubectl(running, "rollout", "status", "deployment/web", "--timeout=60s")
        assert rollout.returncode == 0, rollout.stderr
        exposed = kubectl(running, "expose", "deployment", "web", "--port", "80",
                          "--target-port", str(port))  # fmt: skip
        assert exposed.stdout == "service/web exposed\n"
        cluster_ip = table(kubectl(running, "get", "service", "web").stdout)[1][2]
        log = running.folder / "logs" / "proxy.log"
        route = re.compile(rf"# TCP {re.escape(cluster_ip)}:80 on 127\.0\.0\.1:(\d+)")
        deadline = time.monotonic() + 30
        while not (found := route.findall(log.read_text())) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert found, log.read_text()
        endpoints = kubectl(running, "get", "endpoints", "web")
        assert f"127.0.0.1:{port}" in endpoints.stdout
        # the route exists from the Service's creation; its backend comes with the endpoints
        # and the next sync (and the process must be listening): retry until it answers
        body = b""
        deadline = time.monotonic() + 30
        while not body and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{found[-1]}/", timeout=5) as answer:
                    assert answer.status == 200
                    body = answer.read()
            except OSError:
                time.sleep(0.5)
        assert b"Directory listing for /" in body
        logs = kubectl(running, "logs", "deployment/web")
        assert logs.returncode == 0, logs.stderr
        assert '"GET / HTTP/1.1" 200' in logs.stdout
