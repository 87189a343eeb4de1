"""ValidatingAdmissionPolicy's guarantee as a property: hypothesis draws policies (replica and
name limits on deployments, some matching every resource) bound with Deny, Warn or Deny and
Audit, and deployments to create; after
the creates, every deployment the server holds satisfies ``spec/apiserver/admission_policy.py``.
The companion shows the statement can fail: an object created before its policy violates it."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.apiserver.local import LocalApiServer
from spec.apiserver.admission_policy import violations

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"

expressions = st.one_of(
    st.integers(0, 6).map(lambda n: f"object.spec.replicas <= {n}"),
    st.integers(1, 6).map(lambda n: f"size(object.metadata.name) < {n}"),
    st.sampled_from(("object.metadata.name.startsWith('a')", "object.spec.replicas % 2 == 0")),
)


@st.composite
def policies(draw: st.DrawFn, index: int) -> dict[str, Any]:
    resources = draw(st.sampled_from((["deployments"], ["*"], ["pods"])))
    groups = ["apps"] if resources != ["*"] else ["*"]
    rule = {
        "apiGroups": groups,
        "apiVersions": ["*"],
        "operations": ["CREATE"],
        "resources": resources,
    }
    return {
        "metadata": {"name": f"p{index}"},
        "spec": {
            "matchConstraints": {"resourceRules": [rule]},
            "validations": [
                {"expression": e} for e in draw(st.lists(expressions, min_size=1, max_size=2))
            ],
        },
    }


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }


deployments = st.lists(
    st.tuples(st.sampled_from(("a", "ab", "abcd", "b", "bcdefg")), st.integers(0, 8)),
    min_size=1,
    max_size=6,
    unique_by=lambda t: t[0],
)


def _install(server: LocalApiServer, policy: dict[str, Any], actions: list[str]) -> dict[str, Any]:
    name = policy["metadata"]["name"]
    assert server.call("POST", f"{ADMISSION}/validatingadmissionpolicies", policy).status == 201
    binding = {
        "metadata": {"name": f"{name}-b"},
        "spec": {"policyName": name, "validationActions": actions},
    }
    assert (
        server.call("POST", f"{ADMISSION}/validatingadmissionpolicybindings", binding).status == 201
    )
    return binding


def _held(server: LocalApiServer) -> list[tuple[str, str, dict[str, Any]]]:
    return [("apps", "deployments", d) for d in server.call("GET", DEPLOYMENTS).body["items"]]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    drawn=st.lists(st.integers(0, 99), min_size=1, max_size=3).flatmap(
        lambda seeds: st.tuples(*(policies(i) for i in range(len(seeds))))
    ),
    actions=st.lists(
        st.sampled_from((["Deny"], ["Warn"], ["Deny", "Audit"])), min_size=3, max_size=3
    ),
    creates=deployments,
)
def test_held_objects_satisfy_the_deny_policies(
    drawn: tuple[dict[str, Any], ...], actions: list[list[str]], creates: list[tuple[str, int]]
) -> None:
    server = LocalApiServer()
    bindings = [_install(server, p, actions[i]) for i, p in enumerate(drawn)]
    for name, replicas in creates:
        answer = server.call("POST", DEPLOYMENTS, _deployment(name, replicas))
        assert answer.status in (201, 422), answer.body
    assert violations(drawn, bindings, _held(server)) == []


def test_the_property_catches_an_object_that_fails_its_policy() -> None:
    server = LocalApiServer()
    assert server.call("POST", DEPLOYMENTS, _deployment("big", 8)).status == 201
    policy = {
        "metadata": {"name": "limit"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["deployments"],
                    }
                ]
            },
            "validations": [{"expression": "object.spec.replicas <= 5"}],
        },
    }
    binding = _install(server, policy, ["Deny"])
    assert violations([policy], [binding], _held(server)) == [
        "deployments/big fails limit: object.spec.replicas <= 5"
    ]
    # And the server refuses the same object now.
    assert server.call("POST", DEPLOYMENTS, _deployment("big2", 8)).status == 422
