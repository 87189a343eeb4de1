"""ValidatingAdmissionPolicy with CEL on the in-process server: refusals with kube's message and
reason, messageExpression, variables, params from a ConfigMap (by name and by selector, with
parameterNotFoundAction), matchConditions, namespace and object selectors, excluded rules,
failurePolicy, and the Warn action's warning."""

from __future__ import annotations

from typing import Any

import pytest

from runner.apiserver.local import Answer, LocalApiServer

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{ns}/deployments"
RULE = {
    "apiGroups": ["apps"],
    "apiVersions": ["v1"],
    "operations": ["CREATE", "UPDATE"],
    "resources": ["deployments"],
}


def _policy(name: str, validations: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matchConstraints": {"resourceRules": [RULE]},
        "validations": validations,
    }
    body.update(spec)
    return {"metadata": {"name": name}, "spec": body}


def _binding(
    name: str, policy: str, actions: tuple[str, ...] = ("Deny",), **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"policyName": policy, "validationActions": list(actions), **spec},
    }


def _deployment(name: str, replicas: int, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


@pytest.fixture
def server() -> LocalApiServer:
    made = LocalApiServer()
    for name, labels in (("prod", {"env": "prod"}), ("dev", {"env": "dev"})):
        made.call("POST", "/api/v1/namespaces", {"metadata": {"name": name, "labels": labels}})
    return made


def _install(server: LocalApiServer, policy: dict[str, Any], binding: dict[str, Any]) -> None:
    assert server.call("POST", f"{ADMISSION}/validatingadmissionpolicies", policy).status == 201
    answer = server.call("POST", f"{ADMISSION}/validatingadmissionpolicybindings", binding)
    assert answer.status == 201, answer.body


def _create(server: LocalApiServer, deployment: dict[str, Any], ns: str = "prod") -> Answer:
    return server.call("POST", DEPLOYMENTS.format(ns=ns), deployment)


def test_a_failed_expression_is_refused_with_kubes_message(server: LocalApiServer) -> None:
    _install(
        server,
        _policy("replica-limit", [{"expression": "object.spec.replicas <= 5"}]),
        _binding("replica-limit-binding", "replica-limit"),
    )
    answer = _create(server, _deployment("big", 7))
    message = (
        "ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit-binding' denied "
        "request: failed expression: object.spec.replicas <= 5"
    )
    assert answer.status == 422
    assert answer.body["reason"] == "Invalid"
    assert answer.body["message"] == f'deployments.apps "big" is forbidden: {message}'
    assert answer.body["details"] == {
        "name": "big",
        "group": "apps",
        "kind": "deployments",
        "causes": [{"message": message}],
    }
    assert _create(server, _deployment("small", 3)).status == 201
    # An update is checked too.
    small = server.call("GET", DEPLOYMENTS.format(ns="prod") + "/small").body
    small["spec"]["replicas"] = 9
    assert server.call("PUT", DEPLOYMENTS.format(ns="prod") + "/small", small).status == 422


def test_message_reason_and_message_expression(server: LocalApiServer) -> None:
    validations = [
        {
            "expression": "object.spec.replicas <= 5",
            "messageExpression": "'replicas ' + string(object.spec.replicas) + ' exceed 5'",
            "message": "too many",
            "reason": "Forbidden",
        },
        {"expression": "object.metadata.name.startsWith('app-')", "message": "names start app-"},
    ]
    _install(server, _policy("p", validations), _binding("b", "p"))
    answer = _create(server, _deployment("app-x", 8))
    assert (answer.status, answer.body["reason"]) == (403, "Forbidden")
    assert answer.body["message"].endswith("denied request: replicas 8 exceed 5")
    answer = _create(server, _deployment("x", 1))
    assert (answer.status, answer.body["reason"]) == (422, "Invalid")
    assert answer.body["message"].endswith("denied request: names start app-")


def test_variables_and_match_conditions(server: LocalApiServer) -> None:
    policy = _policy(
        "p",
        [{"expression": "variables.big == false", "message": "big"}],
        variables=[
            {"name": "replicas", "expression": "object.spec.replicas"},
            {"name": "big", "expression": "variables.replicas > 2"},
        ],
        matchConditions=[
            {"name": "not-exempt", "expression": "!('exempt' in object.metadata.labels)"}
        ],
    )
    _install(server, policy, _binding("b", "p"))
    assert _create(server, _deployment("a", 3)).status == 422
    assert _create(server, _deployment("b", 3, exempt="yes")).status == 201
    assert _create(server, _deployment("c", 2)).status == 201


def test_params_from_a_configmap(server: LocalApiServer) -> None:
    limits = {"metadata": {"name": "limits", "labels": {"kind": "limit"}}, "data": {"max": "4"}}
    assert server.call("POST", "/api/v1/namespaces/prod/configmaps", limits).status == 201
    policy = _policy(
        "p",
        [{"expression": "object.spec.replicas <= int(params.data.max)"}],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
    )
    _install(server, policy, _binding("b", "p", paramRef={"name": "limits", "namespace": "prod"}))
    assert _create(server, _deployment("a", 5)).status == 422
    assert _create(server, _deployment("b", 4)).status == 201
    # No such param: Deny refuses (kube's message), Allow lets it pass.
    missing = _binding(
        "missing",
        "p",
        paramRef={"name": "nope", "namespace": "prod", "parameterNotFoundAction": "Deny"},
    )
    server.call("POST", f"{ADMISSION}/validatingadmissionpolicybindings", missing)
    answer = _create(server, _deployment("c", 1))
    assert answer.body["message"].endswith(
        "ValidatingAdmissionPolicy 'p' with binding 'missing' denied request: no params found "
        "for policy binding with `Deny` parameterNotFoundAction"
    )


def test_params_by_selector_in_the_requests_namespace(server: LocalApiServer) -> None:
    for ns, maximum in (("prod", "2"), ("dev", "10")):
        limits = {
            "metadata": {"name": "limits", "labels": {"kind": "limit"}},
            "data": {"max": maximum},
        }
        server.call("POST", f"/api/v1/namespaces/{ns}/configmaps", limits)
    policy = _policy(
        "p",
        [{"expression": "object.spec.replicas <= int(params.data.max)"}],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
    )
    ref = {"selector": {"matchLabels": {"kind": "limit"}}, "parameterNotFoundAction": "Allow"}
    _install(server, policy, _binding("b", "p", paramRef=ref))
    assert _create(server, _deployment("a", 5), ns="prod").status == 422
    assert _create(server, _deployment("a", 5), ns="dev").status == 201


def test_selectors_and_excluded_rules(server: LocalApiServer) -> None:
    policy = _policy("p", [{"expression": "object.spec.replicas <= 1"}])
    match = {
        "namespaceSelector": {"matchLabels": {"env": "prod"}},
        "objectSelector": {
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]
        },
        "resourceRules": [RULE],
        "excludeResourceRules": [{**RULE, "resourceNames": ["allowed"]}],
    }
    _install(server, policy, _binding("b", "p", matchResources=match))
    assert _create(server, _deployment("a", 3, tier="web")).status == 422
    assert _create(server, _deployment("b", 3, tier="db")).status == 201  # object selector
    assert _create(server, _deployment("c", 3, tier="web"), ns="dev").status == 201  # namespace
    assert _create(server, _deployment("allowed", 3, tier="web")).status == 201  # excluded


def test_failure_policy(server: LocalApiServer) -> None:
    broken = [{"expression": "object.spec.nothing == 1"}]
    _install(server, _policy("fail", broken), _binding("fail-b", "fail"))
    answer = _create(server, _deployment("a", 1))
    assert answer.status == 422
    assert (
        "denied request: expression 'object.spec.nothing == 1' resulted in error"
        in (answer.body["message"])
    )
    server.call("DELETE", f"{ADMISSION}/validatingadmissionpolicybindings/fail-b")
    _install(
        server, _policy("ignore", broken, failurePolicy="Ignore"), _binding("ignore-b", "ignore")
    )
    assert _create(server, _deployment("b", 1)).status == 201


def test_warn_sends_a_warning_and_admits(server: LocalApiServer) -> None:
    _install(
        server,
        _policy("p", [{"expression": "object.spec.replicas <= 5", "message": "at most 5"}]),
        _binding("b", "p", actions=("Warn", "Audit")),
    )
    answer = _create(server, _deployment("a", 6))
    assert answer.status == 201
    assert answer.headers.get("Warning") == (
        "299 - \"Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': at most 5\""
    )


def test_policies_do_not_judge_policies(server: LocalApiServer) -> None:
    everything = {
        "apiGroups": ["*"],
        "apiVersions": ["*"],
        "operations": ["*"],
        "resources": ["*"],
    }
    policy = {
        "metadata": {"name": "deny-all"},
        "spec": {
            "matchConstraints": {"resourceRules": [everything]},
            "validations": [{"expression": "false"}],
        },
    }
    _install(server, policy, _binding("b", "deny-all"))
    assert _create(server, _deployment("a", 1)).status == 422
    assert server.call("DELETE", f"{ADMISSION}/validatingadmissionpolicybindings/b").status == 200
    assert _create(server, _deployment("a", 1)).status == 201


def test_policies_and_bindings_are_validated(server: LocalApiServer) -> None:
    rule = {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"]}
    policy = {
        "metadata": {"name": "bad"},
        "spec": {
            "failurePolicy": "Never",
            "matchConstraints": {"resourceRules": [{**rule, "resources": ["deployments"]}]},
            "validations": [
                {"expression": "object.spec.replicas <"},
                {"expression": "true", "reason": "Teapot"},
            ],
        },
    }
    answer = server.call("POST", f"{ADMISSION}/validatingadmissionpolicies", policy)
    assert answer.status == 422
    message = answer.body["message"]
    assert message.startswith(
        'ValidatingAdmissionPolicy.admissionregistration.k8s.io "bad" is invalid: '
        '[spec.failurePolicy: Unsupported value: "Never": supported values: "Fail", "Ignore", '
        'spec.validations[0].expression: Invalid value: "object.spec.replicas <": '
        "compilation failed: "
    )
    assert message.endswith(
        'spec.validations[1].reason: Unsupported value: "Teapot": supported values: '
        '"Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized"]'
    )
    empty = {"metadata": {"name": "empty"}, "spec": {}}
    answer = server.call("POST", f"{ADMISSION}/validatingadmissionpolicies", empty)
    assert answer.body["message"] == (
        'ValidatingAdmissionPolicy.admissionregistration.k8s.io "empty" is invalid: '
        "[spec.matchConstraints: Required value, spec.validations: Required value: validations "
        "or auditAnnotations must contain at least one item]"
    )
    binding = {"metadata": {"name": "b"}, "spec": {"validationActions": ["Deny", "Warn"]}}
    answer = server.call("POST", f"{ADMISSION}/validatingadmissionpolicybindings", binding)
    assert answer.body["message"] == (
        'ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io "b" is invalid: '
        '[spec.policyName: Required value, spec.validationActions: Invalid value: ["Deny", '
        '"Warn"]: must not contain both Deny and Warn (repeating the same validation failure '
        "information in the API response and headers serves no purpose)]"
    )


@pytest.mark.parametrize(
    ("expression", "created"),
    [
        ("object.metadata.name.lowerAscii() == object.metadata.name", True),
        ("object.metadata.name.split('-').size() == 2", False),  # 'web' has no dash
        ("['a', 'b'].join('-') == 'a-b' && 'a-b'.indexOf('-') == 1", True),
        ("object.spec.template.spec.containers.map(c, c.name).isSorted()", True),
        ("[3, 1, 2].sum() == 6 && [3, 1, 2].max() == 3 && 'abc'.substring(1) == 'bc'", True),
        ("'  x '.trim().upperAscii() == 'Y'", False),
    ],
)
def test_kubernetes_string_and_list_functions(
    server: LocalApiServer, expression: str, created: bool
) -> None:
    _install(server, _policy("p", [{"expression": expression}]), _binding("b", "p"))
    assert (_create(server, _deployment("web", 1)).status == 201) is created
