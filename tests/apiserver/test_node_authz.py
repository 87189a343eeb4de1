"""The Node authorizer: a fuzz tier that draws pods bound to random nodes (using random secrets,
configmaps, claims and ServiceAccounts), volumes, VolumeAttachments and requests from random
users, and checks every decision of ``impl/apiserver/node_authz.py`` against the reference of
``spec/apiserver/node_authz.py``, and the served decisions of the whole machine (``Node,RBAC``)
against it too; plus kube's reasons and the chain's order on fixed cases."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.apiserver.authz import authorize
from impl.apiserver.cache import WatchCache, load
from impl.apiserver.context import Config, builtin_config
from impl.apiserver.node_authz import authorize_node
from impl.apiserver.rbac import RbacIndex
from models.apiserver.auth import Attributes, AuthConfig, Credentials, UserInfo
from models.etcd import KeyValue
from runner.apiserver.local import LocalApiServer
from spec.apiserver import node_authz as reference

NODES = ("n1", "n2")
NAMESPACES = ("a", "b")
SECRETS = ("s0", "s1", "s2")
CONFIGMAPS = ("c0", "c1")
CLAIMS = ("v0", "v1")
ACCOUNTS = ("sa0", "sa1")
PODS = ("p0", "p1", "p2")
USERS = (
    UserInfo(name="system:node:n1", groups=("system:nodes", "system:authenticated")),
    UserInfo(name="system:node:n2", groups=("system:nodes", "system:authenticated")),
    UserInfo(name="system:node:n3", groups=("system:nodes", "system:authenticated")),
    UserInfo(name="system:node:", groups=("system:nodes", "system:authenticated")),
    UserInfo(name="system:node:n1", groups=("system:authenticated",)),  # not in system:nodes
    UserInfo(name="alice", groups=("system:nodes", "system:authenticated")),
)
RESOURCES = (
    ("", "secrets", ""),
    ("", "configmaps", ""),
    ("", "pods", ""),
    ("", "pods", "status"),
    ("", "pods", "eviction"),
    ("", "pods", "log"),
    ("", "nodes", ""),
    ("", "nodes", "status"),
    ("", "serviceaccounts", ""),
    ("", "serviceaccounts", "token"),
    ("", "persistentvolumeclaims", ""),
    ("", "persistentvolumeclaims", "status"),
    ("", "persistentvolumes", ""),
    ("storage.k8s.io", "volumeattachments", ""),
    ("storage.k8s.io", "csinodes", ""),
    ("coordination.k8s.io", "leases", ""),
    ("", "services", ""),
    ("", "endpoints", ""),
    ("", "events", ""),
    ("", "namespaces", ""),
    ("apps", "deployments", ""),
    ("certificates.k8s.io", "certificatesigningrequests", ""),
)
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
CLUSTER_SCOPED = (
    *("nodes", "persistentvolumes", "volumeattachments", "csinodes", "namespaces"),
    "certificatesigningrequests",
)


@st.composite
def pods(draw: st.DrawFn, namespace: str, name: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    env = []
    for secret in draw(st.lists(st.sampled_from(SECRETS), max_size=1)):
        env.append({"name": "S", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}})
    for configmap in draw(st.lists(st.sampled_from(CONFIGMAPS), max_size=1)):
        env.append({"name": "C", "valueFrom": {"configMapKeyRef": {"name": configmap, "key": "k"}}})
    if env:
        container["env"] = env
    if draw(st.booleans()):
        container["envFrom"] = [{"configMapRef": {"name": draw(st.sampled_from(CONFIGMAPS))}}]
    volumes: list[dict[str, Any]] = []
    for index, kind in enumerate(
        draw(st.lists(st.sampled_from(("secret", "configMap", "pvc", "ephemeral", "projected"))))
    ):
        volume: dict[str, Any] = {"name": f"vol{index}"}
        if kind == "secret":
            volume["secret"] = {"secretName": draw(st.sampled_from(SECRETS))}
        elif kind == "configMap":
            volume["configMap"] = {"name": draw(st.sampled_from(CONFIGMAPS))}
        elif kind == "pvc":
            volume["persistentVolumeClaim"] = {"claimName": draw(st.sampled_from(CLAIMS))}
        elif kind == "ephemeral":
            volume["ephemeral"] = {"volumeClaimTemplate": {"spec": {}}}
        else:
            volume["projected"] = {
                "sources": [{"secret": {"name": draw(st.sampled_from(SECRETS))}}]
            }
        volumes.append(volume)
    spec: dict[str, Any] = {"containers": [container]}
    if volumes:
        spec["volumes"] = volumes
    node = draw(st.sampled_from((*NODES, "")))
    if node:
        spec["nodeName"] = node
    account = draw(st.sampled_from((*ACCOUNTS, "")))
    if account:
        spec["serviceAccountName"] = account
    if draw(st.booleans()):
        spec["imagePullSecrets"] = [{"name": draw(st.sampled_from(SECRETS))}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


@st.composite
def volumes(draw: st.DrawFn, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if draw(st.booleans()):
        spec["claimRef"] = {
            "namespace": draw(st.sampled_from(NAMESPACES)),
            "name": draw(st.sampled_from((*CLAIMS, "p0-vol0", "p1-vol1"))),
        }
    if draw(st.booleans()):
        spec["csi"] = {
            "driver": "d",
            "volumeHandle": "h",
            "nodePublishSecretRef": {
                "namespace": draw(st.sampled_from(NAMESPACES)),
                "name": draw(st.sampled_from(SECRETS)),
            },
        }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": spec,
    }


@st.composite
def worlds(draw: st.DrawFn) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for namespace in NAMESPACES:
        for name in draw(st.lists(st.sampled_from(PODS), unique=True, max_size=3)):
            objects.append(draw(pods(namespace, name)))
    for name in draw(st.lists(st.sampled_from(("pv0", "pv1")), unique=True)):
        objects.append(draw(volumes(name)))
    for name in draw(st.lists(st.sampled_from(("va0", "va1")), unique=True)):
        objects.append(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "VolumeAttachment",
                "metadata": {"name": name},
                "spec": {"nodeName": draw(st.sampled_from(NODES))},
            }
        )
    return objects


@st.composite
def requests(draw: st.DrawFn) -> Attributes:
    group, resource, subresource = draw(st.sampled_from(RESOURCES))
    names = {
        "secrets": SECRETS,
        "configmaps": CONFIGMAPS,
        "pods": PODS,
        "serviceaccounts": ACCOUNTS,
        "persistentvolumeclaims": (*CLAIMS, "p0-vol0"),
        "persistentvolumes": ("pv0", "pv1"),
        "volumeattachments": ("va0", "va1"),
    }.get(resource, (*NODES, "n3"))
    name = draw(st.sampled_from(("", *names)))
    namespace = (
        ""
        if resource in CLUSTER_SCOPED
        else draw(st.sampled_from((*NAMESPACES, "kube-node-lease")))
    )
    verb = draw(st.sampled_from(VERBS))
    selector = ""
    if verb in ("list", "watch") and not name:
        selector = draw(st.sampled_from(("", "spec.nodeName=n1", "spec.nodeName=n2")))
    return Attributes(
        user=draw(st.sampled_from(USERS)),
        verb=verb,
        resource_request=True,
        group=group,
        version="v1",
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        field_selector=selector,
    )


def _key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    plural = {
        "Pod": "pods",
        "PersistentVolume": "persistentvolumes",
        "VolumeAttachment": "volumeattachments",
    }[obj["kind"]]
    where = f"{meta['namespace']}/" if "namespace" in meta else ""
    return f"/registry/{plural}/{where}{meta['name']}"


def cache_of(objects: list[dict[str, Any]]) -> WatchCache:
    kvs = tuple(
        KeyValue(key=_key(o).encode(), value=msgspec.json.encode(o), mod_revision=i + 1)
        for i, o in enumerate(objects)
    )
    return load(WatchCache(), kvs, len(objects) + 1)


def _allowed(objects: list[dict[str, Any]], attributes: Attributes) -> bool:
    answer = authorize_node(cache_of(objects), attributes)
    return answer is not None and answer[0]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(objects=worlds(), asked=st.lists(requests(), min_size=1, max_size=20))
def test_the_node_authorizer_agrees_with_the_reference(
    objects: list[dict[str, Any]], asked: list[Attributes]
) -> None:
    cache = cache_of(objects)
    for attributes in asked:
        answer = authorize_node(cache, attributes)
        assert (answer is not None and answer[0]) == reference.allows(objects, attributes), (
            attributes,
            answer,
        )


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(objects=worlds())
def test_every_bound_pods_secrets_are_its_nodes_and_no_other_nodes(
    objects: list[dict[str, Any]],
) -> None:
    """Companion: the drawn worlds grant through the graph and refuse outside it, so the
    comparison above is not vacuous (both answers occur whenever a bound pod uses a secret)."""
    cache = cache_of(objects)
    for pod in (o for o in objects if o["kind"] == "Pod" and o["spec"].get("nodeName")):
        namespace, node = pod["metadata"]["namespace"], pod["spec"]["nodeName"]
        for secret in reference_secrets(pod):
            for user in USERS[:3]:
                asked = _ask("get", "secrets", secret, namespace=namespace, user=user)
                answer = authorize_node(cache, asked)
                assert answer is not None
                mine = user.name == f"system:node:{node}"
                others = any(
                    o["kind"] == "Pod"
                    and o["metadata"]["namespace"] == namespace
                    and user.name == f"system:node:{o['spec'].get('nodeName')}"
                    and secret in reference_secrets(o)
                    for o in objects
                ) or any(o["kind"] == "PersistentVolume" for o in objects)
                if mine:
                    assert answer == (True, "")
                elif not others:
                    assert answer[0] is False


def reference_secrets(pod: dict[str, Any]) -> set[str]:
    """The secrets a drawn pod names, read off its JSON here (independently of both
    implementations)."""
    text = msgspec.json.encode(pod).decode()
    return {secret for secret in SECRETS if f'"{secret}"' in text}


# Fixed cases: kube's reasons and the chain ---------------------------------------------------

N1 = USERS[0]
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "a"},
    "spec": {
        "nodeName": "n1",
        "serviceAccountName": "sa0",
        "containers": [{"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "s0"}}]}],
    },
}


def _ask(
    verb: str,
    resource: str,
    name: str = "",
    *,
    user: UserInfo = N1,
    namespace: str = "a",
    group: str = "",
    subresource: str = "",
    field_selector: str = "",
) -> Attributes:
    return Attributes(
        user=user,
        verb=verb,
        resource_request=True,
        group=group,
        resource=resource,
        subresource=subresource,
        name=name,
        namespace=namespace,
        field_selector=field_selector,
    )


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (_ask("get", "secrets", "s0"), (True, "")),
        (
            _ask("get", "secrets", "s1"),
            (False, "no relationship found between node 'n1' and this object"),
        ),
        (_ask("list", "secrets"), (False, "No Object name found")),
        (_ask("delete", "secrets", "s0"), (False, "can only read resources of this type")),
        (_ask("get", "pods", "web"), (True, "")),
        (
            _ask("list", "pods"),
            (False, "can only list/watch pods with spec.nodeName field selector"),
        ),
        (_ask("list", "pods", field_selector="spec.nodeName=n1"), (True, "")),
        (
            _ask("watch", "pods", field_selector="spec.nodeName==n2"),
            (False, "can only list/watch pods with spec.nodeName field selector"),
        ),
        (
            _ask("get", "nodes", "n2", namespace=""),
            (False, "node 'n1' cannot read 'n2', only its own Node object"),
        ),
        (
            _ask("list", "nodes", namespace=""),
            (False, "node 'n1' cannot read all nodes, only its own Node object"),
        ),
        (_ask("get", "nodes", "n1", namespace=""), (True, "")),
        (
            _ask("get", "serviceaccounts", "sa0"),
            (False, "can only create tokens for individual service accounts"),
        ),
        (_ask("create", "serviceaccounts", "sa0", subresource="token"), (True, "")),
        (
            _ask("create", "serviceaccounts", "sa1", subresource="token"),
            (False, "no relationship found between node 'n1' and this object"),
        ),
        (
            _ask("update", "leases", "n1", group="coordination.k8s.io"),
            (False, 'can only access leases in the "kube-node-lease" system namespace'),
        ),
        (
            _ask(
                "update", "leases", "n2", group="coordination.k8s.io", namespace="kube-node-lease"
            ),
            (False, "can only access node lease with the same name as the requesting node"),
        ),
        (
            _ask(
                "update", "leases", "n1", group="coordination.k8s.io", namespace="kube-node-lease"
            ),
            (True, ""),
        ),
        (_ask("list", "services"), (True, "")),
        (_ask("delete", "services", "x"), (False, "")),
        (
            _ask(
                "get", "secrets", "s0", user=UserInfo(name="system:node:", groups=("system:nodes",))
            ),
            (False, 'unknown node for user "system:node:"'),
        ),
    ],
)
def test_kubes_decisions_and_reasons(attributes: Attributes, expected: tuple[bool, str]) -> None:
    assert authorize_node(cache_of([POD]), attributes) == expected


CLAIMING_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "db", "namespace": "b"},
    "spec": {
        "nodeName": "n2",
        "containers": [{"name": "c", "image": "i"}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "v0"}}],
    },
}
VOLUME = {
    "apiVersion": "v1",
    "kind": "PersistentVolume",
    "metadata": {"name": "pv0"},
    "spec": {
        "claimRef": {"namespace": "b", "name": "v0"},
        "csi": {"nodePublishSecretRef": {"namespace": "c", "name": "creds"}},
    },
}


@pytest.mark.parametrize(
    ("who", "verb", "resource", "namespace", "name", "allowed"),
    [
        ("n2", "get", "persistentvolumeclaims", "b", "v0", True),
        ("n1", "get", "persistentvolumeclaims", "b", "v0", False),
        ("n2", "get", "persistentvolumes", "", "pv0", True),
        ("n1", "get", "persistentvolumes", "", "pv0", False),
        ("n2", "get", "secrets", "c", "creds", True),  # named by the PV for the kubelet
        ("n2", "get", "secrets", "b", "creds", False),
    ],
)
def test_volumes_relate_claims_and_their_secrets(
    who: str, verb: str, resource: str, namespace: str, name: str, allowed: bool
) -> None:
    user = UserInfo(name=f"system:node:{who}", groups=("system:nodes",))
    asked = _ask(verb, resource, name, namespace=namespace, user=user)
    objects = [CLAIMING_POD, VOLUME]
    assert _allowed(objects, asked) is allowed
    assert reference.allows(objects, asked) is allowed


def test_a_user_that_is_not_a_node_gets_no_opinion() -> None:
    alice = UserInfo(name="alice", groups=("system:nodes",))
    assert authorize_node(cache_of([POD]), _ask("get", "secrets", "s0", user=alice)) is None


def test_the_chain_falls_through_to_rbac_and_joins_the_reasons() -> None:
    config = AuthConfig(modes=("Node", "RBAC"))
    verdict = authorize(config, RbacIndex(), _ask("get", "secrets", "s1"), cache_of([POD]))
    assert not verdict.allowed
    assert verdict.reason == "no relationship found between node 'n1' and this object"
    assert authorize(config, RbacIndex(), _ask("get", "secrets", "s0"), cache_of([POD])).allowed
    # RBAC alone: the node gets nothing (kube binds no subjects to system:node).
    alone = AuthConfig(modes=("RBAC",))
    assert not authorize(alone, RbacIndex(), _ask("get", "secrets", "s0"), cache_of([POD])).allowed


# The whole machine -----------------------------------------------------------------------------

CONFIG: Config = msgspec.structs.replace(builtin_config(), auth=AuthConfig(modes=("Node", "RBAC")))
ADMIN = Credentials(certificate_user="admin", certificate_groups=("system:masters",))
METHODS = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT"}
METHODS |= {"patch": "PATCH", "delete": "DELETE"}
SERVED = ("secrets", "configmaps", "pods", "nodes", "serviceaccounts", "services", "events")


def _path(attributes: Attributes) -> str:
    path = "/api/v1"
    if attributes.namespace:
        path += f"/namespaces/{attributes.namespace}"
    path += f"/{attributes.resource}"
    if attributes.name:
        path += f"/{attributes.name}"
    if attributes.subresource:
        path += f"/{attributes.subresource}"
    return path


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(objects=worlds(), asked=st.lists(requests(), min_size=1, max_size=15))
def test_the_served_decisions_agree_with_the_reference(
    objects: list[dict[str, Any]], asked: list[Attributes]
) -> None:
    server = LocalApiServer(config=CONFIG)
    pods_only = [o for o in objects if o["kind"] == "Pod"]
    for namespace in NAMESPACES:
        server.call(
            "POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}, credentials=ADMIN
        )
    for pod in pods_only:
        answer = server.call(
            "POST",
            f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods",
            pod,
            credentials=ADMIN,
        )
        assert answer.status == 201, answer.body
    for attributes in asked:
        if attributes.group or attributes.resource not in SERVED:
            continue
        if attributes.subresource and not attributes.name:
            continue  # the path would name an object called after the subresource
        if attributes.verb == "watch" or (attributes.verb == "get" and not attributes.name):
            continue  # a granted watch streams, which this in-process server does not answer
        if attributes.verb in ("list", "watch") and attributes.name:
            continue
        method = METHODS[attributes.verb]
        if method in ("PUT", "PATCH", "DELETE") and not attributes.name:
            continue
        if attributes.verb == "create" and attributes.name and attributes.subresource == "":
            continue
        query = {}
        if attributes.field_selector:
            query["fieldSelector"] = attributes.field_selector
        answer = server.call(
            method,
            _path(attributes),
            b"{}" if method in ("POST", "PUT", "PATCH") else None,
            query=query,
            content_type="application/merge-patch+json"
            if method == "PATCH"
            else "application/json",
            credentials=Credentials(
                certificate_user=attributes.user.name,
                certificate_groups=tuple(
                    g for g in attributes.user.groups if g != "system:authenticated"
                ),
            ),
        )
        allowed = reference.allows(pods_only, attributes)
        assert (answer.status != 403) == allowed, (attributes, answer.status, answer.body)


def _node_credentials(node: str) -> Credentials:
    return Credentials(certificate_user=f"system:node:{node}", certificate_groups=("system:nodes",))


def test_a_served_node_reads_what_its_pods_use_and_nothing_else() -> None:
    """Companion of the served comparison: grants and refusals both happen, with kube's
    message (the Node authorizer's reason after RBAC's silence)."""
    server = LocalApiServer(config=CONFIG)
    server.call("POST", "/api/v1/namespaces", {"metadata": {"name": "a"}}, credentials=ADMIN)
    for name in ("s0", "s1"):
        secret = {"metadata": {"name": name}, "data": {}}
        assert (
            server.call("POST", "/api/v1/namespaces/a/secrets", secret, credentials=ADMIN).status
            == 201
        )
    assert server.call("POST", "/api/v1/namespaces/a/pods", POD, credentials=ADMIN).status == 201
    n1 = _node_credentials("n1")
    assert server.call("GET", "/api/v1/namespaces/a/secrets/s0", credentials=n1).status == 200
    refused = server.call("GET", "/api/v1/namespaces/a/secrets/s1", credentials=n1)
    assert (refused.status, refused.body["message"]) == (
        403,
        'secrets "s1" is forbidden: User "system:node:n1" cannot get resource "secrets" in API '
        'group "" in the namespace "a": no relationship found between node \'n1\' and this object',
    )
    n2 = _node_credentials("n2")
    assert server.call("GET", "/api/v1/namespaces/a/secrets/s0", credentials=n2).status == 403
    one = {"fieldSelector": "metadata.name=s0"}  # how a kubelet lists and watches one secret
    secrets = "/api/v1/namespaces/a/secrets"
    assert server.call("GET", secrets, query=one, credentials=n1).status == 200
    assert server.call("GET", secrets, credentials=n1).status == 403
    listed = server.call(
        "GET", "/api/v1/pods", query={"fieldSelector": "spec.nodeName=n1"}, credentials=n1
    )
    assert [p["metadata"]["name"] for p in listed.body["items"]] == ["web"]
    assert server.call("GET", "/api/v1/pods", credentials=n1).status == 403


def test_a_nodes_rules_review_is_incomplete_as_kubes() -> None:
    server = LocalApiServer(config=CONFIG)
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": "default"},
    }
    path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
    status = server.call("POST", path, review, credentials=_node_credentials("n1")).body["status"]
    assert status["incomplete"] is True
    assert status["evaluationError"] == "node authorizer does not support user rule resolution"
    other = Credentials(certificate_user="alice")
    assert (
        server.call("POST", path, review, credentials=other).body["status"]["incomplete"] is False
    )
