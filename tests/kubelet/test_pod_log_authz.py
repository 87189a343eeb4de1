"""Pod logs through ``serve apiserver --secure-port`` are authorized as RBAC's ``get`` on
``pods/log`` before anything is read: a user without rights is refused with kube's messages
(kubectl reads the pod first, so its refusal names ``pods``; the log request itself names
``pods/log``)."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from runner import pki
from runner.apiserver.kubeconfig import kubeconfig_text
from tests.apiserver.kubectl import kubectl, require_kubectl, serve

pytestmark = [pytest.mark.kubectl]


def test_a_user_without_pods_log_is_forbidden(tmp_path: Path) -> None:
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
        done = kubectl(served, "--kubeconfig", str(alice), "logs", "web")
        assert done.returncode == 1
        assert done.stderr.strip() == (
            'Error from server (Forbidden): pods "web" is forbidden: User "alice" cannot get '
            'resource "pods" in API group "" in the namespace "default"'
        )
        parts = urlsplit(secure_url)
        context = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, context=context, timeout=10
        )
        connection.request(
            "GET",
            "/api/v1/namespaces/default/pods/web/log",
            headers={"Authorization": "Bearer alice-token"},
        )
        answer = connection.getresponse()
        body = json.loads(answer.read())
        connection.close()
        assert answer.status == 403
        assert body["message"] == (
            'pods "web" is forbidden: User "alice" cannot get resource "pods/log" in API group '
            '"" in the namespace "default"'
        )
