"""NodeRestriction admission with the Node authorizer (``--authorization-mode Node,RBAC
--enable-admission-plugins NodeRestriction``, as kubeadm runs kube-apiserver): a node writes
only its own Node (not its taints, only the kubelet's labels), only mirror pods bound to itself,
the status, deletion and eviction of only its own pods, only its own Lease, and tokens only for
its own pods; kube's messages. Without the plugin the same writes pass (the companion)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from impl.apiserver.context import Config, builtin_config
from models.apiserver.auth import AuthConfig, Credentials
from runner.apiserver.local import Answer, LocalApiServer
from runner.pki import new_rsa_key_pem

ADMIN = Credentials(certificate_user="admin", certificate_groups=("system:masters",))
N1 = Credentials(certificate_user="system:node:n1", certificate_groups=("system:nodes",))
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def _server(plugins: tuple[str, ...]) -> LocalApiServer:
    auth = AuthConfig(modes=("Node", "RBAC"), service_account_signing_key=new_rsa_key_pem())
    config: Config = msgspec.structs.replace(builtin_config(), auth=auth, admission_plugins=plugins)
    server = LocalApiServer(config=config)
    for namespace in ("a", "kube-node-lease"):
        server.call(
            "POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}, credentials=ADMIN
        )
    server.call("POST", "/api/v1/nodes", {"metadata": {"name": "n2"}}, credentials=ADMIN)
    for name, node in (("mine", "n1"), ("theirs", "n2")):
        pod = {
            "metadata": {"name": name, "labels": {"app": "x"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
        }
        assert (
            server.call("POST", "/api/v1/namespaces/a/pods", pod, credentials=ADMIN).status == 201
        )
    return server


@pytest.fixture
def restricted() -> LocalApiServer:
    return _server(("NodeRestriction",))


def _refused(answer: Answer, message: str) -> None:
    assert (answer.status, answer.body.get("message")) == (403, message), answer.body


def _node(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def test_a_node_registers_itself_only(restricted: LocalApiServer) -> None:
    _refused(
        restricted.call("POST", "/api/v1/nodes", _node("n3"), credentials=N1),
        'nodes "n3" is forbidden: node "n1" is not allowed to modify node "n3"',
    )
    _refused(
        restricted.call(
            "POST",
            "/api/v1/nodes",
            _node("n1", **{"node-restriction.kubernetes.io/secure": "true", "x.k8s.io/y": "1"}),
            credentials=N1,
        ),
        'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: '
        "node-restriction.kubernetes.io/secure, x.k8s.io/y",
    )
    labels = {"kubernetes.io/hostname": "n1", "node.kubernetes.io/pool": "p", "team": "blue"}
    assert (
        restricted.call("POST", "/api/v1/nodes", _node("n1", **labels), credentials=N1).status
        == 201
    )


def test_a_node_may_not_change_its_taints_or_kubernetes_labels(restricted: LocalApiServer) -> None:
    assert restricted.call("POST", "/api/v1/nodes", _node("n1"), credentials=N1).status == 201
    patch = "application/merge-patch+json"
    taint = {"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}
    _refused(
        restricted.call("PATCH", "/api/v1/nodes/n1", taint, content_type=patch, credentials=N1),
        'nodes "n1" is forbidden: node "n1" is not allowed to modify taints',
    )
    label = {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}}
    _refused(
        restricted.call("PATCH", "/api/v1/nodes/n1", label, content_type=patch, credentials=N1),
        'nodes "n1" is forbidden: is not allowed to modify labels: '
        "node-role.kubernetes.io/control-plane",
    )
    fine = {"metadata": {"labels": {"team": "red"}}}
    answer = restricted.call("PATCH", "/api/v1/nodes/n1", fine, content_type=patch, credentials=N1)
    assert answer.status == 200, answer.body
    other = {"status": {"capacity": {"cpu": "1"}}}
    _refused(
        restricted.call(
            "PATCH", "/api/v1/nodes/n2/status", other, content_type=patch, credentials=N1
        ),
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"',
    )


def _mirror(restricted: LocalApiServer, **spec: Any) -> dict[str, Any]:
    uid = restricted.call("GET", "/api/v1/nodes/n1", credentials=ADMIN).body["metadata"]["uid"]
    owner = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": uid, "controller": True}
    return {
        "metadata": {
            "name": "static-web-n1",
            "annotations": {"kubernetes.io/config.mirror": "hash"},
            "ownerReferences": [owner],
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}], **spec},
    }


def test_a_node_creates_only_mirror_pods_of_its_own(restricted: LocalApiServer) -> None:
    assert restricted.call("POST", "/api/v1/nodes", _node("n1"), credentials=N1).status == 201
    pods = "/api/v1/namespaces/a/pods"
    plain = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    _refused(
        restricted.call("POST", pods, plain, credentials=N1),
        'pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, '
        'node "n1" can only create mirror pods',
    )
    elsewhere = _mirror(restricted, nodeName="n2")
    _refused(
        restricted.call("POST", pods, elsewhere, credentials=N1),
        'pods "static-web-n1" is forbidden: node "n1" can only create pods with spec.nodeName '
        "set to itself",
    )
    secret = _mirror(restricted, volumes=[{"name": "v", "secret": {"secretName": "s"}}])
    _refused(
        restricted.call("POST", pods, secret, credentials=N1),
        'pods "static-web-n1" is forbidden: node "n1" can not create pods that reference secrets',
    )
    answer = restricted.call("POST", pods, _mirror(restricted), credentials=N1)
    assert answer.status == 201, answer.body


def test_a_node_touches_only_pods_bound_to_it(restricted: LocalApiServer) -> None:
    pods = "/api/v1/namespaces/a/pods"
    theirs = restricted.call("GET", f"{pods}/theirs", credentials=ADMIN).body
    theirs["status"] = {"phase": "Running"}
    _refused(
        restricted.call("PUT", f"{pods}/theirs/status", theirs, credentials=N1),
        'pods "theirs" is forbidden: node "n1" can only update pod status for pods with '
        "spec.nodeName set to itself",
    )
    mine = restricted.call("GET", f"{pods}/mine", credentials=ADMIN).body
    mine["status"] = {"phase": "Running"}
    mine["metadata"]["labels"] = {"app": "y"}
    _refused(
        restricted.call("PUT", f"{pods}/mine/status", mine, credentials=N1),
        'pods "mine" is forbidden: node "n1" cannot update labels through pod status',
    )
    mine["metadata"]["labels"] = {"app": "x"}
    assert restricted.call("PUT", f"{pods}/mine/status", mine, credentials=N1).status == 200
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "theirs"}}
    _refused(
        restricted.call("POST", f"{pods}/theirs/eviction", eviction, credentials=N1),
        'pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to itself',
    )
    _refused(
        restricted.call("DELETE", f"{pods}/theirs", credentials=N1),
        'pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set to '
        "itself",
    )
    assert restricted.call("DELETE", f"{pods}/mine", credentials=N1).status == 200


def test_a_node_writes_only_its_own_lease(restricted: LocalApiServer) -> None:
    lease = {"metadata": {"name": "n2"}, "spec": {"holderIdentity": "n2"}}
    _refused(
        restricted.call("POST", LEASES, lease, credentials=N1),
        'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same '
        "name as the requesting node",
    )
    lease = {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}}
    assert restricted.call("POST", LEASES, lease, credentials=N1).status == 201


def test_a_nodes_token_must_be_bound_to_a_pod_on_it(restricted: LocalApiServer) -> None:
    account = {"metadata": {"name": "sa"}}
    restricted.call("POST", "/api/v1/namespaces/a/serviceaccounts", account, credentials=ADMIN)
    pod = {
        "metadata": {"name": "uses-sa"},
        "spec": {
            "nodeName": "n1",
            "serviceAccountName": "sa",
            "containers": [{"name": "c", "image": "i"}],
        },
    }
    created = restricted.call("POST", "/api/v1/namespaces/a/pods", pod, credentials=ADMIN)
    token = "/api/v1/namespaces/a/serviceaccounts/sa/token"
    unbound = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    _refused(
        restricted.call("POST", token, unbound, credentials=N1),
        'serviceaccounts "sa" is forbidden: node requested token not bound to a pod',
    )
    ref = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "uses-sa",
        "uid": created.body["metadata"]["uid"],
    }
    bound = {**unbound, "spec": {"boundObjectRef": ref}}
    answer = restricted.call("POST", token, bound, credentials=N1)
    assert answer.status == 201, answer.body


def test_without_the_plugin_the_node_authorizer_alone_lets_these_through() -> None:
    server = _server(())
    assert server.call("POST", "/api/v1/nodes", _node("n3"), credentials=N1).status == 201
    assert server.call("DELETE", "/api/v1/namespaces/a/pods/theirs", credentials=N1).status == 200
    lease = {"metadata": {"name": "n2"}, "spec": {"holderIdentity": "n2"}}
    assert server.call("POST", LEASES, lease, credentials=N1).status == 201
