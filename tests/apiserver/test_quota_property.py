"""Quota is never exceeded: hypothesis sends random pod creates (sizes, init containers,
finished pods) against random quotas, and after every answer the pods the server holds satisfy
``spec/apiserver/quota.py``. (Refusals are common here: quotas of 1-3 pods or 1-2 CPUs against
up to 8 creates; tests/apiserver/test_pod_security.py checks the refusal messages.)"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.apiserver.context import Config, builtin_config
from runner.apiserver.local import LocalApiServer
from spec.apiserver import quota as reference

CONFIG: Config = builtin_config()
CPU = st.sampled_from(("100m", "250m", "500m", "1"))
MEMORY = st.sampled_from(("64Mi", "128Mi", "1Gi"))


def resources(cpu: str, memory: str) -> dict[str, Any]:
    values = {"cpu": cpu, "memory": memory}
    return {"requests": values, "limits": values}


pods = st.builds(
    lambda cpu, memory, init, finished: (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"generateName": "p-"},
            "spec": {
                "containers": [
                    {"name": "c", "image": "nginx", "resources": resources(cpu, memory)}
                ],
                **(
                    {
                        "initContainers": [
                            {"name": "i", "image": "busybox", "resources": resources(*init)}
                        ]
                    }
                    if init
                    else {}
                ),
            },
        },
        finished,
    ),
    CPU,
    MEMORY,
    st.one_of(st.none(), st.tuples(CPU, MEMORY)),
    st.booleans(),
)
quotas = st.dictionaries(
    st.sampled_from(("pods", "requests.cpu", "limits.memory", "cpu", "memory", "count/pods")),
    st.sampled_from(("1", "2", "3", "1500m", "2Gi")),
    min_size=1,
    max_size=3,
)


@settings(max_examples=40, deadline=None)
@given(
    hard=st.lists(quotas, min_size=1, max_size=2), creates=st.lists(pods, min_size=1, max_size=8)
)
def test_quota_is_never_exceeded(
    hard: list[dict[str, str]], creates: list[tuple[dict[str, Any], bool]]
) -> None:
    server = LocalApiServer(config=CONFIG)
    for index, limits in enumerate(hard):
        body = {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": f"q{index}"},
            "spec": {"hard": limits},
        }
        assert server.call("POST", "/api/v1/namespaces/default/resourcequotas", body).status == 201
    for body, finished in creates:
        answer = server.call("POST", "/api/v1/namespaces/default/pods", body)
        assert answer.status in (201, 403), answer.body
        if answer.status == 403:
            assert "quota" in answer.body["message"]
        elif finished:
            name = answer.body["metadata"]["name"]
            server.call(
                "PATCH",
                f"/api/v1/namespaces/default/pods/{name}/status",
                b'{"status":{"phase":"Succeeded"}}',
                content_type="application/merge-patch+json",
            )
        held_quotas = server.call("GET", "/api/v1/namespaces/default/resourcequotas").body["items"]
        held_pods = server.call("GET", "/api/v1/namespaces/default/pods").body["items"]
        assert reference.violations(held_quotas, held_pods) == []


# Object counts --------------------------------------------------------------------------------

KINDS = (
    ("configmaps", "", "/api/v1/namespaces/default/configmaps"),
    ("secrets", "", "/api/v1/namespaces/default/secrets"),
    ("leases", "coordination.k8s.io", "/apis/coordination.k8s.io/v1/namespaces/default/leases"),
)
count_quotas = st.dictionaries(
    st.sampled_from(
        (
            "configmaps",
            "count/configmaps",
            "secrets",
            "count/secrets",
            "count/leases.coordination.k8s.io",
        )
    ),
    st.sampled_from(("0", "1", "2", "3")),
    min_size=1,
    max_size=3,
)


def _held(server: LocalApiServer) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (resource, group, item)
        for resource, group, path in KINDS
        for item in server.call("GET", path).body["items"]
    ]


@settings(max_examples=40, deadline=None)
@given(
    hard=st.lists(count_quotas, min_size=1, max_size=2),
    creates=st.lists(st.sampled_from(range(len(KINDS))), min_size=1, max_size=10),
)
def test_object_count_quota_is_never_exceeded(
    hard: list[dict[str, str]], creates: list[int]
) -> None:
    server = LocalApiServer(config=CONFIG)
    for index, limits in enumerate(hard):
        body = {"metadata": {"name": f"q{index}"}, "spec": {"hard": limits}}
        assert server.call("POST", "/api/v1/namespaces/default/resourcequotas", body).status == 201
    for number, kind in enumerate(creates):
        resource, _, path = KINDS[kind]
        answer = server.call("POST", path, {"metadata": {"name": f"o{number}"}})
        assert answer.status in (201, 403), answer.body
        if answer.status == 403:
            assert answer.body["message"].startswith(f"{resource}")
            assert "exceeded quota" in answer.body["message"]
        held_quotas = server.call("GET", "/api/v1/namespaces/default/resourcequotas").body["items"]
        assert reference.count_violations(held_quotas, _held(server)) == []


def test_the_count_property_sees_objects_held_before_their_quota() -> None:
    """Companion: the statement is not vacuous; objects created before a quota exceed it."""
    server = LocalApiServer(config=CONFIG)
    for number in range(3):
        server.call("POST", KINDS[0][2], {"metadata": {"name": f"c{number}"}})
    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"count/configmaps": "2"}}}
    assert server.call("POST", "/api/v1/namespaces/default/resourcequotas", quota).status == 201
    held_quotas = server.call("GET", "/api/v1/namespaces/default/resourcequotas").body["items"]
    assert reference.count_violations(held_quotas, _held(server)) == ["q/count/configmaps"]
    refused = server.call("POST", KINDS[0][2], {"metadata": {"name": "c9"}})
    assert (refused.status, refused.body["message"]) == (
        403,
        'configmaps "c9" is forbidden: exceeded quota: q, requested: count/configmaps=1, '
        "used: count/configmaps=3, limited: count/configmaps=2",
    )


# Object counts and Services ----------------------------------------------------------------

SERVICE_TYPES = st.sampled_from(("ClusterIP", "NodePort", "LoadBalancer"))


def _service(kind: str, ports: int, allocate: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": kind,
        "ports": [{"name": f"p{i}", "port": 80 + i} for i in range(ports)],
    }
    if kind == "LoadBalancer" and not allocate:
        spec["allocateLoadBalancerNodePorts"] = False
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"generateName": "s-"}, "spec": spec}


creatable = st.one_of(
    st.just(("configmaps", {"metadata": {"generateName": "c-"}})),
    st.just(("secrets", {"metadata": {"generateName": "s-"}})),
    st.builds(
        lambda kind, ports, allocate: ("services", _service(kind, ports, allocate)),
        SERVICE_TYPES,
        st.integers(1, 3),
        st.booleans(),
    ),
)
service_quotas = st.dictionaries(
    st.sampled_from(
        (
            "configmaps",
            "count/configmaps",
            "secrets",
            "count/secrets",
            "services",
            "services.nodeports",
            "services.loadbalancers",
        )
    ),
    st.sampled_from(("0", "1", "2", "3")),
    min_size=1,
    max_size=3,
)


def _held_objects(server: LocalApiServer) -> tuple[list[Any], dict[str, list[Any]]]:
    def items(resource: str) -> list[Any]:
        answer = server.call("GET", f"/api/v1/namespaces/default/{resource}")
        return list(answer.body["items"])

    quotas = items("resourcequotas")
    return quotas, {
        "configmaps": items("configmaps"),
        "secrets": items("secrets"),
        "services": items("services"),
        "resourcequotas": quotas,
    }


@settings(max_examples=40, deadline=None)
@given(
    hard=st.lists(service_quotas, min_size=1, max_size=2), creates=st.lists(creatable, max_size=8)
)
def test_object_service_quotas_are_never_exceeded(
    hard: list[dict[str, str]], creates: list[tuple[str, dict[str, Any]]]
) -> None:
    server = LocalApiServer(config=CONFIG)
    for index, limits in enumerate(hard):
        body = {"metadata": {"name": f"q{index}"}, "spec": {"hard": limits}}
        answer = server.call("POST", "/api/v1/namespaces/default/resourcequotas", body)
        assert answer.status in (201, 403), answer.body
    for resource, body in creates:
        answer = server.call("POST", f"/api/v1/namespaces/default/{resource}", body)
        assert answer.status in (201, 403), answer.body
        if answer.status == 403:
            assert "exceeded quota" in answer.body["message"]
        quotas, held = _held_objects(server)
        # the default namespace's kubernetes Service predates every quota: count it out
        held["services"] = [s for s in held["services"] if s["metadata"]["name"] != "kubernetes"]
        assert reference.violations(quotas, [], held) == []


def test_the_object_count_check_sees_a_quota_created_under_usage() -> None:
    """The companion: a quota created after the objects (which admission cannot refuse) is
    over its limit, and the reference reports exactly those names."""
    server = LocalApiServer(config=CONFIG)
    for resource, body in (
        ("configmaps", {"metadata": {"name": "a"}}),
        ("configmaps", {"metadata": {"name": "b"}}),
        ("services", _service("LoadBalancer", 2, True)),
    ):
        assert server.call("POST", f"/api/v1/namespaces/default/{resource}", body).status == 201
    hard = {"configmaps": "1", "services.nodeports": "1", "services.loadbalancers": "1"}
    body = {"metadata": {"name": "late"}, "spec": {"hard": hard}}
    assert server.call("POST", "/api/v1/namespaces/default/resourcequotas", body).status == 201
    quotas, held = _held_objects(server)
    assert sorted(reference.violations(quotas, [], held)) == [
        "late/configmaps",
        "late/services.nodeports",
    ]


# Scopes ----------------------------------------------------------------------------------------

SCOPE_CONFIG: Config = msgspec.structs.replace(CONFIG, admission_plugins=("Priority",))
CLASSES = ("system-node-critical", "system-cluster-critical", "")
scoped_pods = st.builds(
    lambda sized, deadline, priority_class: {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "p-"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    **({"resources": resources("100m", "64Mi")} if sized else {}),
                }
            ],
            **({"activeDeadlineSeconds": 30} if deadline else {}),
            **({"priorityClassName": priority_class} if priority_class else {}),
        },
    },
    st.booleans(),
    st.booleans(),
    st.sampled_from(CLASSES),
)
scopes = st.one_of(
    st.builds(
        lambda names: {"scopes": names},
        st.lists(
            st.sampled_from(("Terminating", "NotTerminating", "BestEffort", "NotBestEffort")),
            min_size=1,
            max_size=2,
            unique=True,
        ),
    ),
    st.builds(
        lambda operator, values: {
            "scopeSelector": {
                "matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": operator, "values": values}
                ]
            }
        },
        st.sampled_from(("In", "NotIn")),
        st.lists(st.sampled_from(CLASSES[:2]), min_size=1, max_size=2, unique=True),
    ),
    st.just(
        {
            "scopeSelector": {
                "matchExpressions": [{"scopeName": "PriorityClass", "operator": "Exists"}]
            }
        }
    ),
)


@settings(max_examples=40, deadline=None)
@given(
    quota_scopes=st.lists(scopes, min_size=1, max_size=2),
    limit=st.sampled_from(("0", "1", "2")),
    creates=st.lists(scoped_pods, min_size=1, max_size=6),
)
def test_scoped_quotas_are_never_exceeded(
    quota_scopes: list[dict[str, Any]], limit: str, creates: list[dict[str, Any]]
) -> None:
    server = LocalApiServer(config=SCOPE_CONFIG)
    for index, scope in enumerate(quota_scopes):
        body = {"metadata": {"name": f"q{index}"}, "spec": {"hard": {"pods": limit}, **scope}}
        assert server.call("POST", "/api/v1/namespaces/default/resourcequotas", body).status == 201
    admitted = 0
    for body in creates:
        answer = server.call("POST", "/api/v1/namespaces/default/pods", body)
        assert answer.status in (201, 403), answer.body
        admitted += answer.status == 201
        held_quotas = server.call("GET", "/api/v1/namespaces/default/resourcequotas").body["items"]
        held_pods = server.call("GET", "/api/v1/namespaces/default/pods").body["items"]
        assert len(held_pods) == admitted
        assert reference.violations(held_quotas, held_pods) == []


def test_the_scope_check_sees_pods_in_scope_created_before_the_quota() -> None:
    """Companion: pods in scope created before a scoped quota put it over; pods out of its
    scope do not."""
    server = LocalApiServer(config=SCOPE_CONFIG)
    for name, deadline in (("a", 30), ("b", 30), ("c", None)):
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
        if deadline is not None:
            spec["activeDeadlineSeconds"] = deadline
        body = {"metadata": {"name": name}, "spec": spec}
        assert server.call("POST", "/api/v1/namespaces/default/pods", body).status == 201
    for name, scope in (("term", "Terminating"), ("long", "NotTerminating")):
        body = {"metadata": {"name": name}, "spec": {"hard": {"pods": "1"}, "scopes": [scope]}}
        assert server.call("POST", "/api/v1/namespaces/default/resourcequotas", body).status == 201
    held_quotas = server.call("GET", "/api/v1/namespaces/default/resourcequotas").body["items"]
    held_pods = server.call("GET", "/api/v1/namespaces/default/pods").body["items"]
    assert reference.violations(held_quotas, held_pods) == ["term/pods"]
