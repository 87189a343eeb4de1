"""The metrics API through ``serve apiserver --secure-port`` is authorized as RBAC's ``list``
and ``get`` on ``pods``/``nodes`` in the group ``metrics.k8s.io``: ``kubectl top`` as a user
without rights gets kube's Forbidden messages, the admin gets an answer, and a user bound to
``view`` may read pod metrics through metrics-server's aggregated reader role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import pki
from runner.apiserver.kubeconfig import kubeconfig_text
from tests.apiserver.kubectl import kubectl, require_kubectl, serve

pytestmark = [pytest.mark.kubectl]


def test_kubectl_top_needs_rights_on_metrics(tmp_path: Path) -> None:
    require_kubectl()
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("alice-token,alice,1001\n")
    pki_dir = tmp_path / "pki"
    extra = ("--secure-port", "0", "--cert-dir", str(pki_dir), "--token-auth-file", str(tokens))
    with serve(tmp_path, *extra) as served:
        assert served.process.stdout is not None
        secure_url = served.process.stdout.readline().rsplit(" ", 1)[-1].strip()
        ca = pki.load(pki_dir / "ca.crt", pki_dir / "ca.key")
        alice = tmp_path / "kubeconfig-alice"
        alice.write_text(
            kubeconfig_text(secure_url, ca.certificate_pem(), None, None, "alice-token")
        )
        as_alice = ("--kubeconfig", str(alice))
        pods = kubectl(served, *as_alice, "top", "pod")
        assert pods.returncode == 1
        assert pods.stderr.strip() == (
            'Error from server (Forbidden): pods.metrics.k8s.io is forbidden: User "alice" '
            'cannot list resource "pods" in API group "metrics.k8s.io" in the namespace "default"'
        )
        nodes = kubectl(served, *as_alice, "top", "node")
        assert nodes.stderr.strip() == (
            'Error from server (Forbidden): nodes.metrics.k8s.io is forbidden: User "alice" '
            'cannot list resource "nodes" in API group "metrics.k8s.io" at the cluster scope'
        )
        one = kubectl(served, *as_alice, "top", "pod", "web")
        assert one.stderr.strip() == (
            'Error from server (Forbidden): pods.metrics.k8s.io "web" is forbidden: User '
            '"alice" cannot get resource "pods" in API group "metrics.k8s.io" in the namespace '
            '"default"'
        )
        admin = kubectl(served, "top", "pod")
        assert admin.returncode == 0, admin.stderr
        assert admin.stderr.strip() == "No resources found in default namespace."
        # metrics-server's reader role is aggregated into view: a viewer may read metrics.
        reader = kubectl(
            served, "get", "clusterrole", "system:aggregated-metrics-reader", "-o", "json"
        )
        assert reader.returncode == 0, reader.stderr
        assert json.loads(reader.stdout)["rules"] == [
            {
                "apiGroups": ["metrics.k8s.io"],
                "resources": ["pods", "nodes"],
                "verbs": ["get", "list", "watch"],
            }
        ]
        bound = kubectl(
            served, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice"
        )
        assert bound.returncode == 0, bound.stderr
        viewer = kubectl(served, *as_alice, "top", "pod")
        assert viewer.returncode == 0, viewer.stderr
        assert viewer.stderr.strip() == "No resources found in default namespace."
        # Namespaced: still nothing at the cluster scope.
        assert kubectl(served, *as_alice, "top", "node").returncode == 1
