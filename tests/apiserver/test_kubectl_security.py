"""kubectl v1.32 against ``serve apiserver --secure-port``: the admin kubeconfig works over
HTTPS, limited users (client certificate and static token) are refused with kube's message,
``kubectl auth can-i`` agrees with what then happens, and bad credentials (client certificates
that do not verify, forged tokens, malformed ``Authorization`` headers) get 401/403 with kube's
Status and never access. One server for the module."""

from __future__ import annotations

import datetime
import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner import pki
from runner.apiserver.kubeconfig import kubeconfig_text
from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve

pytestmark = [
    pytest.mark.kubectl,
]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


TOKENS = 'alice-token,alice,1001,"devs"\nbob-token,bob,1002\n'

SETUP = """\
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-view, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-edit}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: one-configmap, namespace: team}
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [get, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-one-configmap, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-configmap}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: operators}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: team}
data: {a: "1"}
"""


class Cluster:
    def __init__(self, served: Served, secure_url: str, pki_dir: Path, tmp: Path) -> None:
        self.served = served
        self.secure_url = secure_url
        self.pki_dir = pki_dir
        self.tmp = tmp
        self.ca = pki.load(pki_dir / "ca.crt", pki_dir / "ca.key")

    def kubeconfig(
        self, name: str, issued: pki.Issued | None = None, token: str | None = None
    ) -> Path:
        path = self.tmp / f"kubeconfig-{name}"
        text = kubeconfig_text(
            self.secure_url,
            self.ca.certificate_pem(),
            issued.certificate_pem() if issued is not None else None,
            issued.key_pem() if issued is not None else None,
            token,
        )
        path.write_text(text)
        return path

    def as_user(self, config: Path, *args: str, stdin_text: str | None = None) -> tuple[int, str]:
        done = kubectl(self.served, "--kubeconfig", str(config), *args, stdin=stdin_text)
        return done.returncode, (done.stdout + done.stderr).strip()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("secure")
    tokens = tmp / "tokens.csv"
    tokens.write_text(TOKENS)
    pki_dir = tmp / "pki"
    # As kubeadm runs kube-apiserver: nodes authorized by the Node authorizer, then RBAC.
    extra = (
        *("--secure-port", "0", "--cert-dir", str(pki_dir), "--token-auth-file", str(tokens)),
        *("--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction"),
    )
    with serve(tmp, *extra) as served:
        assert served.process.stdout is not None
        secure_line = served.process.stdout.readline()
        assert "listening on https://" in secure_line
        made = Cluster(served, secure_line.rsplit(" ", 1)[-1].strip(), pki_dir, tmp)
        done = kubectl(served, "apply", "-f", "-", stdin=SETUP)
        assert done.returncode == 0, done.stderr
        yield made
        log = (tmp / "server.log").read_text()
        assert "Traceback" not in log


@pytest.fixture(scope="module")
def users(cluster: Cluster) -> dict[str, Path]:
    carol = pki.issue(cluster.ca, "carol", organizations=("operators",), client=True)
    return {
        "alice": cluster.kubeconfig("alice", token="alice-token"),
        "bob": cluster.kubeconfig("bob", token="bob-token"),
        "carol": cluster.kubeconfig("carol", issued=carol),
    }


def test_the_admin_kubeconfig_is_https_with_a_client_certificate(cluster: Cluster) -> None:
    text = cluster.served.kubeconfig.read_text()
    assert cluster.secure_url in text
    assert "client-certificate-data" in text
    done = kubectl(cluster.served, "auth", "whoami", "-o", "json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)["status"]["userInfo"]
    assert info == {
        "username": "kubernetes-admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    assert kubectl(cluster.served, "get", "nodes").returncode == 0


def test_a_token_user_is_refused_with_kubes_message(
    cluster: Cluster, users: dict[str, Path]
) -> None:
    code, output = cluster.as_user(users["alice"], "get", "pods", "-n", "default")
    assert code == 1
    assert output == (
        'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
        '"pods" in API group "" in the namespace "default"'
    )


def test_a_certificate_user_is_refused_with_kubes_message(
    cluster: Cluster, users: dict[str, Path]
) -> None:
    code, output = cluster.as_user(users["carol"], "get", "configmap", "other", "-n", "team")
    assert code == 1
    assert output == (
        'Error from server (Forbidden): configmaps "other" is forbidden: User "carol" cannot '
        'get resource "configmaps" in API group "" in the namespace "team"'
    )
    code, output = cluster.as_user(users["carol"], "get", "configmap", "settings", "-n", "team")
    assert code == 0, output


def test_whoami_for_token_and_certificate_users(cluster: Cluster, users: dict[str, Path]) -> None:
    code, output = cluster.as_user(users["carol"], "auth", "whoami")
    assert code == 0
    assert output.splitlines() == [
        "ATTRIBUTE   VALUE",
        "Username    carol",
        "Groups      [operators system:authenticated]",
    ]
    code, output = cluster.as_user(users["alice"], "auth", "whoami")
    assert output.splitlines()[1:] == [
        "Username    alice",
        "UID         1001",
        "Groups      [devs system:authenticated]",
    ]


# (user, verb, resource, namespace, name, expected) per the RBAC documentation's semantics:
# view grants reads but not secrets; edit grants writes everywhere (ClusterRoleBinding) but not
# RBAC; resourceNames limit carol to the one ConfigMap; nothing grants cluster-scoped nodes.
MATRIX = [
    ("alice", "list", "pods", "team", "", True),
    ("alice", "list", "pods", "default", "", False),
    ("alice", "get", "secrets", "team", "", False),
    ("alice", "create", "configmaps", "team", "", False),
    ("alice", "list", "deployments.apps", "team", "", True),
    ("bob", "create", "configmaps", "default", "", True),
    ("bob", "delete", "configmaps", "team", "other", True),
    ("bob", "create", "roles.rbac.authorization.k8s.io", "team", "", False),
    ("bob", "list", "nodes", "", "", False),
    ("carol", "get", "configmaps", "team", "settings", True),
    ("carol", "get", "configmaps", "team", "other", False),
    ("carol", "list", "configmaps", "team", "", False),
]


@pytest.mark.parametrize(("who", "verb", "resource", "namespace", "name", "expected"), MATRIX)
def test_can_i_agrees_with_the_rbac_semantics_and_with_what_happens(
    cluster: Cluster,
    users: dict[str, Path],
    who: str,
    verb: str,
    resource: str,
    namespace: str,
    name: str,
    expected: bool,
) -> None:
    where = ["-n", namespace] if namespace else []
    target = f"{resource}/{name}" if name else resource
    scope = where or ["--all-namespaces"]  # cluster-scoped: no "not namespace scoped" warning
    code, output = cluster.as_user(users[who], "auth", "can-i", verb, target, *scope)
    assert (code, output) == ((0, "yes") if expected else (1, "no"))
    if verb in ("list", "get"):
        code, output = cluster.as_user(users[who], verb if verb == "get" else "get", target, *where)
        forbidden = "Error from server (Forbidden)" in output
        assert forbidden != expected, output


def test_can_i_list_shows_the_rules(cluster: Cluster, users: dict[str, Path]) -> None:
    code, output = cluster.as_user(users["carol"], "auth", "can-i", "--list", "-n", "team")
    assert code == 0
    lines = [line.split() for line in output.splitlines()]
    assert ["configmaps", "[]", "[settings]", "[get", "update]"] in lines
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in lines


def test_a_forged_token_is_unauthorized(cluster: Cluster) -> None:
    config = cluster.kubeconfig("forged", token="alice-token-forged")
    code, output = cluster.as_user(config, "get", "pods")
    assert (code, output) == (1, "error: You must be logged in to the server (Unauthorized)")


UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)"


def _admin_lookalike(ca: pki.Issued, **kwargs: Any) -> pki.Issued:
    """A certificate that would make its holder cluster admin, were it accepted."""
    return pki.issue(ca, "kubernetes-admin", organizations=("system:masters",), **kwargs)


def _unauthorized_and_still_serving(cluster: Cluster, config: Path) -> None:
    """kube's x509 authenticator refuses the certificate after the handshake: 401, which kubectl
    reports as not logged in (anonymous would be a 403), and the server keeps serving."""
    assert cluster.as_user(config, "get", "pods") == (1, UNAUTHORIZED)
    assert cluster.as_user(config, "auth", "whoami") == (1, UNAUTHORIZED)
    assert kubectl(cluster.served, "get", "namespace", "default").returncode == 0


def test_a_certificate_from_another_ca_is_401(cluster: Cluster) -> None:
    forged = _admin_lookalike(pki.new_ca("kubernetes"), client=True)
    _unauthorized_and_still_serving(cluster, cluster.kubeconfig("stranger", issued=forged))


def test_an_expired_certificate_is_401(cluster: Cluster) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    expired = _admin_lookalike(cluster.ca, client=True, not_before=past, days=1)
    _unauthorized_and_still_serving(cluster, cluster.kubeconfig("expired", issued=expired))


def test_a_certificate_not_yet_valid_is_401(cluster: Cluster) -> None:
    future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)
    early = _admin_lookalike(cluster.ca, client=True, not_before=future, days=30)
    _unauthorized_and_still_serving(cluster, cluster.kubeconfig("early", issued=early))


def test_a_serving_certificate_is_not_a_client_certificate(cluster: Cluster) -> None:
    serving = _admin_lookalike(cluster.ca, hosts=("localhost",))  # extended key usage serverAuth
    _unauthorized_and_still_serving(cluster, cluster.kubeconfig("serving", issued=serving))


def test_a_bad_certificate_with_a_good_token_is_the_tokens_user(cluster: Cluster) -> None:
    forged = _admin_lookalike(pki.new_ca("stranger"), client=True)
    config = cluster.kubeconfig("stranger-alice", issued=forged, token="alice-token")
    code, output = cluster.as_user(config, "auth", "whoami")
    assert code == 0, output
    assert output.splitlines()[1] == "Username    alice"
    code, output = cluster.as_user(config, "get", "pods", "-n", "default")
    assert output.endswith(
        'User "alice" cannot list resource "pods" in API group "" in the namespace "default"'
    ), output


def _raw(
    cluster: Cluster, path: str, authorization: str | None, issued: pki.Issued | None = None
) -> tuple[int, dict[str, object]]:
    host, port = cluster.secure_url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cadata=cluster.ca.certificate_pem().decode())
    if issued is not None:
        cert, key = cluster.tmp / "raw.crt", cluster.tmp / "raw.key"
        issued.write(cert, key)
        context.load_cert_chain(cert, key)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
    headers = {"Authorization": authorization} if authorization is not None else {}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_bad_certificate_gets_kubes_401_status_not_anonymous_access(cluster: Cluster) -> None:
    forged = _admin_lookalike(pki.new_ca("stranger"), client=True)
    code, body = _raw(cluster, "/version", None, forged)  # anonymous may read /version
    assert (code, body) == (
        401,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        },
    )
    assert _raw(cluster, "/version", None)[0] == 200


@pytest.mark.parametrize(
    ("header", "status", "who"),
    [
        ("Bearer", 403, "system:anonymous"),  # no token: not a bearer credential at all
        ("Basic YWRtaW46YWRtaW4=", 403, "system:anonymous"),  # basic auth is gone since 1.19
        ("Bearer not-a-token", 401, ""),
        ("Bearer \u00e9\u00e9", 401, ""),
        ("Bearer  alice-token", 401, ""),  # two spaces: an empty token, which is an error
        # kube splits on spaces and takes the second word as the token.
        ("Bearer alice-token extra words", 403, "alice"),
        ("bearer bob-token", 200, "bob"),
    ],
)
def test_malformed_authorization_headers(
    cluster: Cluster, header: str, status: int, who: str
) -> None:
    code, body = _raw(cluster, "/api/v1/namespaces/default/configmaps", header)
    assert code == status
    if status == 401:
        assert body["reason"] == "Unauthorized"
    if status == 403:
        assert body["message"] == (
            f'configmaps is forbidden: User "{who}" cannot list resource "configmaps" '
            'in API group "" in the namespace "default"'
        )


def test_kubectl_create_token_gives_a_service_account_token(cluster: Cluster) -> None:
    assert (
        kubectl(cluster.served, "create", "serviceaccount", "robot", "-n", "team").returncode == 0
    )
    done = kubectl(cluster.served, "create", "token", "robot", "-n", "team")
    assert done.returncode == 0, done.stderr
    robot = cluster.kubeconfig("robot", token=done.stdout.strip())
    code, output = cluster.as_user(robot, "auth", "whoami")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[1] == "Username    system:serviceaccount:team:robot"
    assert lines[3] == (
        "Groups      [system:serviceaccounts system:serviceaccounts:team system:authenticated]"
    )
    code, output = cluster.as_user(robot, "get", "pods", "-n", "team")
    assert output == (
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team:robot" '
        'cannot list resource "pods" in API group "" in the namespace "team"'
    )
    other = kubectl(cluster.served, "create", "token", "robot", "-n", "team", "--audience", "vault")
    code, output = cluster.as_user(
        cluster.kubeconfig("vault", token=other.stdout.strip()), "get", "pods"
    )
    assert (code, output) == (1, "error: You must be logged in to the server (Unauthorized)")
    short = kubectl(cluster.served, "create", "token", "robot", "-n", "team", "--duration", "1m")
    assert short.returncode == 1
    assert short.stderr.strip() == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "robot" is invalid: '
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    )


def test_can_i_as_another_user_agrees_with_the_matrix(cluster: Cluster) -> None:
    for who, verb, resource, namespace, name, expected in MATRIX:
        if who == "carol":
            continue  # carol's grant is through her certificate's group
        target = f"{resource}/{name}" if name else resource
        scope = ["-n", namespace] if namespace else ["--all-namespaces"]
        done = kubectl(cluster.served, "auth", "can-i", verb, target, *scope, "--as", who)
        assert (done.returncode, done.stdout.strip()) == ((0, "yes") if expected else (1, "no"))
    done = kubectl(
        cluster.served,
        "auth",
        "can-i",
        "get",
        "configmaps/settings",
        "-n",
        "team",
        "--as",
        "carol",
        "--as-group",
        "operators",
    )
    assert (done.returncode, done.stdout.strip()) == (0, "yes")


def test_impersonation_without_the_verb_is_refused(
    cluster: Cluster, users: dict[str, Path]
) -> None:
    code, output = cluster.as_user(users["alice"], "get", "pods", "-n", "team", "--as", "bob")
    assert (code, output) == (
        1,
        'Error from server (Forbidden): users "bob" is forbidden: User "alice" cannot impersonate '
        'resource "users" in API group "" at the cluster scope',
    )


NODE_WORLD = """\
apiVersion: v1
kind: Secret
metadata: {name: kubelet-reads, namespace: team}
stringData: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: kubelet-may-not, namespace: team}
stringData: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: on-n1, namespace: team}
spec:
  nodeName: n1
  containers:
  - name: c
    image: busybox
    envFrom: [{secretRef: {name: kubelet-reads}}]
"""


def test_a_node_reads_what_its_pods_use_and_writes_only_itself(cluster: Cluster) -> None:
    done = kubectl(cluster.served, "apply", "-f", "-", stdin=NODE_WORLD)
    assert done.returncode == 0, done.stderr
    node = pki.issue(cluster.ca, "system:node:n1", organizations=("system:nodes",), client=True)
    config = cluster.kubeconfig("node-n1", issued=node)
    code, output = cluster.as_user(config, "get", "secret", "kubelet-reads", "-n", "team")
    assert code == 0, output
    code, output = cluster.as_user(config, "get", "secret", "kubelet-may-not", "-n", "team")
    assert (code, output) == (
        1,
        'Error from server (Forbidden): secrets "kubelet-may-not" is forbidden: User '
        '"system:node:n1" cannot get resource "secrets" in API group "" in the namespace "team": '
        "no relationship found between node 'n1' and this object",
    )
    code, output = cluster.as_user(config, "get", "nodes")
    assert output.endswith("node 'n1' cannot read all nodes, only its own Node object"), output
    for what, expected in (("secret/kubelet-reads", "yes"), ("secret/kubelet-may-not", "no")):
        code, output = cluster.as_user(config, "auth", "can-i", "get", what, "-n", "team")
        assert output.splitlines()[0].split(" - ")[0] == expected, output
    code, output = cluster.as_user(config, "label", "node", "n1", "x=y", "--overwrite")
    assert code == 1  # n1 is not registered: NotFound, after the authorizer let it through
    assert "NotFound" in output or "not found" in output, output
    code, output = cluster.as_user(
        config,
        "create",
        "-f",
        "-",
        stdin_text='{"apiVersion":"v1","kind":"Node","metadata":{"name":"n9"}}',
    )
    assert (code, output) == (
        1,
        'Error from server (Forbidden): error when creating "STDIN": nodes "n9" is forbidden: '
        'node "n1" is not allowed to modify node "n9"',
    )
