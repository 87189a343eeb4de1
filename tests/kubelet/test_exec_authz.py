"""``kubectl exec`` through ``serve apiserver --secure-port`` is authorized as kube-apiserver
v1.35 authorizes it: the WebSocket upgrade (a GET) needs ``get`` on ``pods/exec`` and, with
AuthorizePodWebsocketUpgradeCreatePermission, ``create`` as well; a refused upgrade makes
kubectl retry over SPDY (a POST, ``create``), whose refusal is what it prints. Users hold
tokens; their roles are made with the admin's kubeconfig."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from runner import pki
from runner.apiserver.kubeconfig import kubeconfig_text
from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.kubelet.served import eventually, free_ports, kubelets, ok, pod

pytestmark = [pytest.mark.kubectl]

USERS = {
    "alice": ["get pods"],
    "bob": ["get pods", "get pods/exec"],
    "carol": ["get pods", "get pods/exec", "create pods/exec"],
    "dave": ["get pods", "create pods/exec"],
}
NODE = "kubeoracle-node-0"


class Cluster:
    def __init__(self, served: Served, secure_url: str, pki_dir: Path, tmp: Path) -> None:
        self.served, self.secure_url, self.pki_dir, self.tmp = served, secure_url, pki_dir, tmp

    def as_user(self, user: str, *args: str) -> Any:
        config = self.tmp / f"kubeconfig-{user}"
        if not config.exists():
            ca = pki.load(self.pki_dir / "ca.crt", self.pki_dir / "ca.key")
            text = kubeconfig_text(self.secure_url, ca.certificate_pem(), None, None, user)
            config.write_text(text)
        return kubectl(self.served, "--kubeconfig", str(config), *args)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_kubectl()
    tmp = tmp_path_factory.mktemp("exec-authz")
    tokens = tmp / "tokens.csv"
    tokens.write_text("".join(f"{user},{user},{100 + i}\n" for i, user in enumerate(USERS)))
    pki_dir = tmp / "pki"
    extra = ("--secure-port", "0", "--cert-dir", str(pki_dir), "--token-auth-file", str(tokens))
    with serve(tmp, *extra) as served:
        assert served.process.stdout is not None
        secure_url = served.process.stdout.readline().rsplit(" ", 1)[-1].strip()
        with kubelets(
            served, tmp, "--nodes", "1", "--runtime", "process", "--port", str(free_ports(1))
        ):
            for user, rules in USERS.items():
                role = {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": user},
                    "rules": [
                        {"apiGroups": [""], "verbs": [verb], "resources": [resource]}
                        for verb, resource in (rule.split() for rule in rules)
                    ],
                }
                ok(served, "apply", "-f", "-", stdin=json.dumps(role))
                ok(served, "create", "rolebinding", user, f"--role={user}", f"--user={user}")
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web"},
                "spec": {
                    "nodeName": NODE,
                    "containers": [{"name": "app", "image": "x", "command": ["sleep", "3600"]}],
                },
            }
            ok(served, "apply", "-f", "-", stdin=json.dumps(body))
            eventually(
                lambda: pod(served, "web").get("status", {}).get("phase") == "Running", "Running"
            )
            found = Cluster(served, secure_url, pki_dir, tmp)
            eventually(
                lambda: (
                    found.as_user(
                        "carol", "auth", "can-i", "create", "pods", "--subresource=exec"
                    ).stdout
                    == "yes\n"
                ),
                "carol's role is in force",
            )
            yield found


def upgrade_refusal(cluster: Cluster, user: str) -> tuple[int, dict[str, Any]]:
    """The answer to ``user``'s WebSocket upgrade request for ``exec web -- true``."""
    address = cluster.secure_url.replace("https://", "wss://")
    context = ssl.create_default_context(cafile=str(cluster.pki_dir / "ca.crt"))
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"{address}/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true",
            ssl=context,
            additional_headers={"Authorization": f"Bearer {user}"},
            subprotocols=[Subprotocol("v5.channel.k8s.io")],
        )
    response = refused.value.response
    return response.status_code, json.loads(bytes(response.body or b""))


CANNOT_CREATE = (
    'Error from server (Forbidden): pods "web" is forbidden: User "{}" cannot create resource '
    '"pods/exec" in API group "" in the namespace "default"\n'
)


def test_without_pods_exec_the_upgrade_and_spdy_are_refused(cluster: Cluster) -> None:
    done = cluster.as_user("alice", "exec", "web", "--", "echo", "hi")
    assert (done.returncode, done.stderr) == (1, CANNOT_CREATE.format("alice"))
    code, status = upgrade_refusal(cluster, "alice")
    assert code == 403
    assert status["message"] == (
        'pods "web" is forbidden: User "alice" cannot get resource "pods/exec" in API group "" '
        'in the namespace "default"'
    )


def test_get_without_create_is_refused_by_the_compound_check(cluster: Cluster) -> None:
    done = cluster.as_user("bob", "exec", "web", "--", "echo", "hi")
    assert (done.returncode, done.stderr) == (1, CANNOT_CREATE.format("bob"))
    code, status = upgrade_refusal(cluster, "bob")
    assert code == 403
    assert (status["reason"], status["message"]) == ("Forbidden", 'pods "web" is forbidden: ')
    assert status["details"] == {"name": "web", "kind": "pods"}


def test_get_and_create_may_exec(cluster: Cluster) -> None:
    done = cluster.as_user("carol", "exec", "web", "--", "echo", "hi")
    assert (done.returncode, done.stdout) == (0, "hi\n")


def test_create_without_get_falls_back_to_spdy_which_is_not_served(cluster: Cluster) -> None:
    done = cluster.as_user("dave", "exec", "web", "--", "echo", "hi")
    assert done.returncode == 1
    assert done.stderr == (
        "Error from server (BadRequest): kubeoracle's API server streams pods/exec over "
        "WebSocket (v5.channel.k8s.io, v4.channel.k8s.io), not SPDY/3.1\n"
    )
