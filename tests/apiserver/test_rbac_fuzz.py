"""Fuzz tier for RBAC: hypothesis draws roles, cluster roles (some aggregating), bindings and
requests from random subjects over a small vocabulary (so that they collide), and every decision
of the implementation agrees with the reference of ``spec/apiserver/rbac.py``: the authorizer
itself (``impl/apiserver/rbac.py`` over its index), and the whole machine (objects created by
the admin, requests sent with a user's token: 403 exactly when the reference denies)."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.apiserver.context import Config, builtin_config
from impl.apiserver.rbac import allowed_by, build_index
from models.apiserver.auth import Attributes, AuthConfig, Credentials, StaticToken, UserInfo
from runner.apiserver.local import LocalApiServer
from spec.apiserver import rbac as reference

NAMESPACES = ("ns1", "ns2")
USERS = ("alice", "bob", "system:serviceaccount:ns1:robot", "system:serviceaccount:ns2:robot")
GROUPS = ("devs", "ops")
VERBS = ("get", "list", "create", "delete", "patch")
API_GROUPS = ("", "apps")
RESOURCES = ("pods", "pods/log", "pods/status", "deployments", "deployments/scale")
NAMES = ("a", "b")
URLS = ("/healthz", "/logs/x", "/api")
ROLE_NAMES = ("r1", "r2", "r3")
LABELS = ("one", "two")


def _sub(values: tuple[str, ...], extra: tuple[str, ...] = ("*",)) -> Any:
    return st.lists(st.sampled_from(values + extra), min_size=1, max_size=3, unique=True)


resource_rules = st.fixed_dictionaries(
    {
        "verbs": _sub(VERBS),
        "apiGroups": _sub(API_GROUPS),
        "resources": _sub(RESOURCES, ("*", "*/scale", "*/status")),
    },
    optional={
        "resourceNames": st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True)
    },
)
url_rules = st.fixed_dictionaries(
    {"verbs": _sub(("get", "post")), "nonResourceURLs": _sub(URLS, ("*", "/logs/*"))}
)


@st.composite
def cluster_role(draw: st.DrawFn, name: str) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": draw(st.lists(st.one_of(resource_rules, url_rules), min_size=1, max_size=3)),
    }
    labels = draw(st.lists(st.sampled_from(LABELS), max_size=2, unique=True))
    if labels:
        role["metadata"]["labels"] = {f"agg/{label}": "true" for label in labels}
    if draw(st.booleans()):
        selectors = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=2, unique=True))
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {f"agg/{s}": "true"}} for s in selectors]
        }
        role["rules"] = []
    return role


@st.composite
def namespaced_role(draw: st.DrawFn, name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": draw(st.lists(resource_rules, min_size=1, max_size=3)),
    }


subjects = st.lists(
    st.one_of(
        st.builds(lambda n: {"kind": "User", "name": n}, st.sampled_from(USERS)),
        st.builds(lambda n: {"kind": "Group", "name": n}, st.sampled_from(GROUPS)),
        st.builds(
            lambda ns: {
                "kind": "ServiceAccount",
                "name": "robot",
                **({"namespace": ns} if ns else {}),
            },
            st.sampled_from(("", *NAMESPACES)),
        ),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def binding(draw: st.DrawFn, index: int) -> dict[str, Any]:
    namespace = draw(st.sampled_from(("", *NAMESPACES)))
    role_kind = "ClusterRole" if not namespace else draw(st.sampled_from(("Role", "ClusterRole")))
    metadata: dict[str, Any] = {"name": f"b{index}"}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": draw(st.sampled_from(ROLE_NAMES)),
        },
        "subjects": draw(subjects),
    }


@st.composite
def rbac_objects(draw: st.DrawFn) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for name in ROLE_NAMES:
        if draw(st.booleans()):
            objects.append(draw(cluster_role(name)))
        for namespace in NAMESPACES:
            if draw(st.integers(0, 2)) == 0:
                objects.append(draw(namespaced_role(name, namespace)))
    objects.extend(draw(binding(i)) for i in range(draw(st.integers(1, 6))))
    return objects


users = st.builds(
    lambda name, groups: UserInfo(name=name, groups=tuple(groups)),
    st.sampled_from(USERS),
    st.lists(st.sampled_from(GROUPS), max_size=2, unique=True),
)


@st.composite
def requests(draw: st.DrawFn) -> Attributes:
    user = draw(users)
    if draw(st.integers(0, 4)) == 0:
        return Attributes(
            user=user,
            verb=draw(st.sampled_from(("get", "post"))),
            resource_request=False,
            path=draw(st.sampled_from((*URLS, "/logs", "/logs/x/y"))),
        )
    resource, _, subresource = draw(st.sampled_from(RESOURCES)).partition("/")
    return Attributes(
        user=user,
        verb=draw(st.sampled_from(VERBS)),
        resource_request=True,
        group="apps" if resource == "deployments" else "",
        namespace=draw(st.sampled_from(("", *NAMESPACES))),
        resource=resource,
        subresource=subresource,
        name=draw(st.sampled_from(("", *NAMES))) if not subresource else "a",
    )


def _concrete(draw: st.DrawFn, values: list[str], fallback: tuple[str, ...]) -> str:
    value = draw(st.sampled_from(values))
    return draw(st.sampled_from(fallback)) if value == "*" else value


@st.composite
def aimed_request(draw: st.DrawFn, objects: list[dict[str, Any]]) -> Attributes:
    """A request near a grant: the subject, scope and one rule of a drawn binding's role, so
    that allowed requests, and the near misses around them, are common."""
    bindings = [o for o in objects if o["kind"].endswith("Binding")]
    chosen = draw(st.sampled_from(bindings))
    subject = draw(st.sampled_from(chosen["subjects"]))
    if subject["kind"] == "User":
        user = UserInfo(name=subject["name"])
    elif subject["kind"] == "Group":
        user = UserInfo(name=draw(st.sampled_from(USERS)), groups=(subject["name"],))
    else:
        account = subject.get("namespace") or chosen["metadata"].get("namespace") or "ns1"
        user = UserInfo(name=f"system:serviceaccount:{account}:robot")
    namespace = chosen["metadata"].get("namespace") or draw(st.sampled_from(("", *NAMESPACES)))
    ref = chosen["roleRef"]
    if ref["kind"] == "ClusterRole":
        rules = reference.cluster_role_rules(objects, ref["name"])
    else:
        rules = [
            rule
            for o in objects
            if o["kind"] == "Role"
            and o["metadata"]["name"] == ref["name"]
            and o["metadata"]["namespace"] == namespace
            for rule in o.get("rules", [])
        ]
    if not rules:
        return draw(requests())
    rule = draw(st.sampled_from(rules))
    verb = _concrete(draw, rule["verbs"], VERBS if "resources" in rule else ("get", "post"))
    if "nonResourceURLs" in rule:
        path = _concrete(draw, rule["nonResourceURLs"], URLS).replace("*", "x")
        return Attributes(user=user, verb=verb, resource_request=False, path=path)
    combined = _concrete(draw, rule["resources"], RESOURCES)
    if combined.startswith("*/"):
        combined = draw(st.sampled_from(("pods", "deployments"))) + combined[1:]
    resource, _, subresource = combined.partition("/")
    names = rule.get("resourceNames") or ["", *NAMES]
    return Attributes(
        user=user,
        verb=verb,
        resource_request=True,
        group=_concrete(draw, rule["apiGroups"], API_GROUPS),
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=draw(st.sampled_from(names)) or ("a" if subresource else ""),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Attributes]]:
    objects = draw(rbac_objects())
    asked = draw(st.lists(st.one_of(requests(), aimed_request(objects)), min_size=1, max_size=8))
    return objects, asked


def _key(obj: dict[str, Any]) -> str:
    plural = {
        "Role": "roles",
        "ClusterRole": "clusterroles",
        "RoleBinding": "rolebindings",
        "ClusterRoleBinding": "clusterrolebindings",
    }[obj["kind"]]
    metadata = obj["metadata"]
    if "namespace" in metadata:
        return f"/registry/{plural}/{metadata['namespace']}/{metadata['name']}"
    return f"/registry/{plural}/{metadata['name']}"


@given(scenario=scenarios())
def test_the_authorizer_agrees_with_the_reference(
    scenario: tuple[list[dict[str, Any]], list[Attributes]],
) -> None:
    objects, asked = scenario
    index = build_index((_key(o), msgspec.json.encode(o)) for o in objects)
    for attributes in asked:
        assert (allowed_by(index, attributes) is not None) == reference.allows(
            objects, attributes
        ), attributes


# The whole machine ---------------------------------------------------------------------------

TOKENS = tuple(
    StaticToken(token=f"token-{i}-{j}", user=user, uid="", groups=groups)
    for i, user in enumerate(USERS)
    for j, groups in enumerate(((), ("devs",), ("ops",), ("devs", "ops")))
)
CONFIG: Config = msgspec.structs.replace(
    builtin_config(), auth=AuthConfig(tokens=TOKENS, modes=("RBAC",))
)
ADMIN = Credentials(certificate_user="admin", certificate_groups=("system:masters",))
METHODS = {"get": "GET", "list": "GET", "create": "POST", "delete": "DELETE", "patch": "PATCH"}


def _path(attributes: Attributes) -> str:
    base = "/apis/apps/v1" if attributes.group == "apps" else "/api/v1"
    path = base + (f"/namespaces/{attributes.namespace}" if attributes.namespace else "")
    path += f"/{attributes.resource}"
    if attributes.name:
        path += f"/{attributes.name}"
    if attributes.subresource:
        path += f"/{attributes.subresource}"
    return path


def _token(user: UserInfo) -> str:
    for entry in TOKENS:
        if entry.user == user.name and entry.groups == tuple(g for g in GROUPS if g in user.groups):
            return entry.token
    raise AssertionError(user)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(scenario=scenarios())
def test_the_served_decisions_agree_with_the_reference(
    scenario: tuple[list[dict[str, Any]], list[Attributes]],
) -> None:
    objects, asked = scenario
    server = LocalApiServer(config=CONFIG)
    for namespace in NAMESPACES:
        server.call(
            "POST", "/api/v1/namespaces", {"metadata": {"name": namespace}}, credentials=ADMIN
        )
    for obj in objects:
        plural = _key(obj).split("/")[2]
        where = (
            f"/namespaces/{obj['metadata']['namespace']}" if "namespace" in obj["metadata"] else ""
        )
        answer = server.call(
            "POST", f"/apis/rbac.authorization.k8s.io/v1{where}/{plural}", obj, credentials=ADMIN
        )
        assert answer.status == 201, answer.body
    for attributes in asked:
        if not attributes.resource_request:
            continue
        method = METHODS[attributes.verb]
        # The verb the server derives from the method and the path (kube's RequestInfo).
        verb = {
            "GET": "get" if attributes.name else "list",
            "DELETE": "delete" if attributes.name else "deletecollection",
            "POST": "create",
            "PATCH": "patch",
        }[method]
        user = UserInfo(
            name=attributes.user.name,
            groups=(*[g for g in GROUPS if g in attributes.user.groups], "system:authenticated"),
        )
        seen = msgspec.structs.replace(attributes, user=user, verb=verb)
        answer = server.call(
            method,
            _path(seen),
            b"{}" if method in ("POST", "PATCH") else None,
            content_type="application/merge-patch+json"
            if method == "PATCH"
            else "application/json",
            credentials=Credentials(authorization=f"Bearer {_token(attributes.user)}"),
        )
        assert (answer.status != 403) == reference.allows(objects, seen), (seen, answer.body)
