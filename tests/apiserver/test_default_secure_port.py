"""``kubeoracle serve apiserver --write-kubeconfig kc`` with no port flag serves like
kube-apiserver: HTTPS on 6443 alone with RBAC, and an admin kubeconfig with a client
certificate; kubectl as admin works, kubectl as a limited user is refused with Kubernetes'
message, and ``kubectl auth can-i`` agrees (issue 14's Done-when, run as a user runs it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.apiserver.kubectl import KUBECTL, require_kubectl

pytestmark = [pytest.mark.kubectl]


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(kubeconfig.parent)}
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )


def test_no_port_flag_serves_https_on_6443_with_rbac(tmp_path: Path) -> None:
    require_kubectl()
    kubeconfig = tmp_path / "kc"
    command = [sys.executable, "-m", "runner", "serve", "apiserver", "--write-kubeconfig"]
    process = subprocess.Popen(
        [*command, str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "server.log").open("w"),
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first == "kubeoracle serve apiserver: listening on https://127.0.0.1:6443\n", (
            first + (tmp_path / "server.log").read_text()
        )
        assert second.startswith("kubeoracle serve apiserver: certificates in ")  # no HTTP port
        cluster = yaml.safe_load(kubeconfig.read_text())
        assert cluster["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
        assert "client-certificate-data" in cluster["users"][0]["user"]
        whoami = _kubectl(kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo}")
        assert whoami.returncode == 0, whoami.stderr
        assert '"username":"kubernetes-admin"' in whoami.stdout
        assert _kubectl(kubeconfig, "get", "namespaces").returncode == 0
        refused = _kubectl(kubeconfig, "--as", "alice", "get", "pods")
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            'Error from server (Forbidden): pods is forbidden: User "alice" cannot list '
            'resource "pods" in API group "" in the namespace "default"'
        )
        can_i = _kubectl(kubeconfig, "auth", "can-i", "list", "pods", "--as", "alice")
        assert (can_i.returncode, can_i.stdout.strip()) == (1, "no")
        admin = _kubectl(kubeconfig, "auth", "can-i", "list", "pods")
        assert (admin.returncode, admin.stdout.strip()) == (0, "yes")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
