"""Pod admission: PodSecurity (pods created in a namespace labelled
``pod-security.kubernetes.io/enforce`` must meet the Pod Security Standard, refused with kube's
``violates PodSecurity "LEVEL:latest": ...`` message, checks in kube's order), and the
pod-changing ServiceAccount and DefaultTolerationSeconds plugins when enabled."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from impl.apiserver.context import Config
from runner.apiserver.local import LocalApiServer


def namespace(server: LocalApiServer, name: str, level: str) -> None:
    labels = {"pod-security.kubernetes.io/enforce": level}
    answer = server.call(
        "POST", "/api/v1/namespaces", {"metadata": {"name": name, "labels": labels}}
    )
    assert answer.status == 201


def pod(name: str, container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx", **(container or {})}], **spec},
    }


RESTRICTED_OK = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
}


def create(server: LocalApiServer, ns: str, body: dict[str, Any]) -> tuple[int, str]:
    answer = server.call("POST", f"/api/v1/namespaces/{ns}/pods", body)
    return answer.status, answer.body.get("message", "")


def test_privileged_namespaces_and_unlabelled_ones_enforce_nothing(server: LocalApiServer) -> None:
    namespace(server, "open", "privileged")
    bad = pod("p", {"securityContext": {"privileged": True}}, hostNetwork=True)
    assert create(server, "open", bad)[0] == 201
    assert create(server, "default", bad)[0] == 201


def test_baseline_refuses_host_namespaces_and_privileged_containers(server: LocalApiServer) -> None:
    namespace(server, "base", "baseline")
    bad = pod(
        "web",
        {
            "securityContext": {
                "privileged": True,
                "capabilities": {"add": ["NET_ADMIN", "CHOWN"]},
            },
            "ports": [{"containerPort": 80, "hostPort": 8080}],
        },
        hostNetwork=True,
        hostPID=True,
        volumes=[{"name": "data", "hostPath": {"path": "/var"}}],
    )
    assert create(server, "base", bad) == (
        403,
        'pods "web" is forbidden: violates PodSecurity "baseline:latest": non-default '
        'capabilities (container "c" must not include "NET_ADMIN" in '
        "securityContext.capabilities.add), host namespaces (hostNetwork=true, hostPID=true), "
        'hostPath volumes (volume "data"), hostPort (container "c" uses hostPort 8080), '
        'privileged (container "c" must not set securityContext.privileged=true)',
    )
    assert create(server, "base", pod("fine"))[0] == 201


def test_restricted_needs_the_hardened_settings(server: LocalApiServer) -> None:
    namespace(server, "tight", "restricted")
    assert create(server, "tight", pod("nginx")) == (
        403,
        'pods "nginx" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
        '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
        'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost")',
    )
    assert create(server, "tight", pod("ok", RESTRICTED_OK))[0] == 201


@pytest.mark.parametrize("where", ["pod", "container"])
def test_run_as_non_root_and_seccomp_may_come_from_the_pod(
    server: LocalApiServer, where: str
) -> None:
    namespace(server, "tight", "restricted")
    hardened = {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
    }
    container = {
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    }
    if where == "container":
        container["securityContext"].update(hardened)
        body = pod("p", container)
    else:
        body = pod("p", container, securityContext=hardened)
    assert create(server, "tight", body)[0] == 201
    # A container's own false overrides the pod's true.
    container["securityContext"]["runAsNonRoot"] = False
    body = pod("q", container, securityContext=hardened)
    status, message = create(server, "tight", body)
    assert status == 403
    assert message.endswith(
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)'
    )


# The pod-changing plugins (--enable-admission-plugins) ---------------------------------------


def test_the_warn_label_warns_about_pods_and_pod_templates(server: LocalApiServer) -> None:
    labels = {"pod-security.kubernetes.io/warn": "restricted"}
    body = {"metadata": {"name": "warned", "labels": labels}}
    assert server.call("POST", "/api/v1/namespaces", body).status == 201
    answer = server.call("POST", "/api/v1/namespaces/warned/pods", pod("p", {"name": "web"}))
    assert answer.status == 201  # warned, not refused
    expected = (
        '299 - "would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != '
        'false (container \\"web\\" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container \\"web\\" must set '
        'securityContext.capabilities.drop=[\\"ALL\\"]), runAsNonRoot != true (pod or '
        'container \\"web\\" must set securityContext.runAsNonRoot=true), seccompProfile (pod '
        'or container \\"web\\" must set securityContext.seccompProfile.type to '
        '\\"RuntimeDefault\\" or \\"Localhost\\")"'
    )
    assert answer.headers["Warning"] == expected
    hardened = pod("q", {"name": "web", **RESTRICTED_OK})
    assert "Warning" not in server.call("POST", "/api/v1/namespaces/warned/pods", hardened).headers
    template = {"metadata": {"labels": {"app": "d"}}, "spec": pod("x", {"name": "web"})["spec"]}
    deployment = {
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": template},
    }
    answer = server.call("POST", "/apis/apps/v1/namespaces/warned/deployments", deployment)
    assert answer.status == 201
    assert answer.headers["Warning"] == expected
    # Without the label nothing is said.
    answer = server.call("POST", "/api/v1/namespaces/default/pods", pod("p", {"name": "web"}))
    assert "Warning" not in answer.headers


def test_default_toleration_seconds(config: Config) -> None:
    server = LocalApiServer(
        config=msgspec.structs.replace(config, admission_plugins=("DefaultTolerationSeconds",))
    )
    tolerations = server.call("POST", "/api/v1/namespaces/default/pods", pod("p")).body["spec"][
        "tolerations"
    ]
    assert tolerations == [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    ]
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    body = pod("q", tolerations=[own])
    kept = server.call("POST", "/api/v1/namespaces/default/pods", body).body["spec"]["tolerations"]
    assert kept == [
        own,
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]


def test_service_account_admission(config: Config) -> None:
    server = LocalApiServer(
        config=msgspec.structs.replace(config, admission_plugins=("ServiceAccount",))
    )
    refused = server.call("POST", "/api/v1/namespaces/default/pods", pod("p"))
    assert (refused.status, refused.body["message"]) == (
        403,
        'pods "p" is forbidden: error looking up service account default/default: '
        'serviceaccount "default" not found',
    )
    server.call(
        "POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "default"}}
    )
    spec = server.call("POST", "/api/v1/namespaces/default/pods", pod("p")).body["spec"]
    assert spec["serviceAccountName"] == "default"
    volume = spec["volumes"][0]
    assert volume["name"].startswith("kube-api-access-")
    assert len(volume["name"]) == len("kube-api-access-") + 5
    assert volume["projected"]["sources"][0] == {
        "serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}
    }
    assert spec["containers"][0]["volumeMounts"] == [
        {
            "name": volume["name"],
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    ]
    opted_out = server.call(
        "POST", "/api/v1/namespaces/default/pods", pod("q", automountServiceAccountToken=False)
    ).body["spec"]
    assert "volumes" not in opted_out


# ResourceQuota -------------------------------------------------------------------------------


def quota(server: LocalApiServer, name: str, hard: dict[str, str]) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name},
        "spec": {"hard": hard},
    }
    assert server.call("POST", "/api/v1/namespaces/default/resourcequotas", body).status == 201


def sized(name: str, cpu: str, memory: str = "") -> dict[str, Any]:
    requests = {"cpu": cpu, **({"memory": memory} if memory else {})}
    return pod(name, {"resources": {"requests": requests, "limits": requests}})


def test_a_pod_count_quota_is_enforced(server: LocalApiServer) -> None:
    quota(server, "q", {"pods": "2"})
    assert create(server, "default", pod("a"))[0] == 201
    assert create(server, "default", pod("b"))[0] == 201
    assert create(server, "default", pod("c")) == (
        403,
        'pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, '
        "limited: pods=2",
    )
    # Another namespace is not limited; a finished pod no longer counts.
    namespace(server, "free", "privileged")
    assert create(server, "free", pod("c"))[0] == 201
    server.call(
        "PATCH",
        "/api/v1/namespaces/default/pods/a/status",
        b'{"status":{"phase":"Succeeded"}}',
        content_type="application/merge-patch+json",
    )
    assert create(server, "default", pod("c"))[0] == 201


def test_a_compute_quota_needs_requests_and_sums_them(server: LocalApiServer) -> None:
    quota(server, "compute", {"requests.cpu": "1", "limits.memory": "1Gi"})
    assert create(server, "default", pod("bare")) == (
        403,
        'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: c; '
        "requests.cpu for: c",
    )
    assert create(server, "default", sized("a", "600m", "512Mi"))[0] == 201
    assert create(server, "default", sized("b", "500m", "256Mi")) == (
        403,
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: '
        "requests.cpu=600m, limited: requests.cpu=1",
    )
    assert create(server, "default", sized("c", "400m", "512Mi"))[0] == 201


# LimitRanger ---------------------------------------------------------------------------------


def limit_range(server: LocalApiServer, item: dict[str, Any]) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits"},
        "spec": {"limits": [{"type": "Container", **item}]},
    }
    assert server.call("POST", "/api/v1/namespaces/default/limitranges", body).status == 201


def test_limit_ranger_fills_defaults_and_annotates(server: LocalApiServer) -> None:
    limit_range(
        server, {"default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"}}
    )
    own = {"resources": {"limits": {"memory": "1Gi"}}}
    answer = server.call("POST", "/api/v1/namespaces/default/pods", pod("p", own))
    assert answer.status == 201
    resources = answer.body["spec"]["containers"][0]["resources"]
    # The container's own memory limit stays; the request defaults to the range's defaults
    # (defaultRequest, else default: kube defaults a LimitRange item's defaultRequest to default).
    assert resources == {
        "limits": {"memory": "1Gi", "cpu": "500m"},
        "requests": {"cpu": "100m", "memory": "256Mi"},
    }
    assert answer.body["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container c; cpu limit for container c"
    )


def test_limit_ranger_enforces_min_and_max(server: LocalApiServer) -> None:
    limit_range(server, {"min": {"cpu": "100m"}, "max": {"memory": "1Gi"}})
    small = pod("small", {"resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "2Gi"}}})
    assert create(server, "default", small) == (
        403,
        'pods "small" is forbidden: [minimum cpu usage per Container is 100m, but request is '
        "50m, maximum memory usage per Container is 1Gi, but limit is 2Gi]",
    )
    # Defaults come first: max becomes the default limit, min the default request.
    answer = server.call("POST", "/api/v1/namespaces/default/pods", pod("fine"))
    assert answer.status == 201
    assert answer.body["spec"]["containers"][0]["resources"] == {
        "limits": {"memory": "1Gi"},
        "requests": {"cpu": "100m", "memory": "1Gi"},
    }


# Priority ------------------------------------------------------------------------------------


def test_priority_resolves_the_class(config: Config) -> None:
    server = LocalApiServer(config=msgspec.structs.replace(config, admission_plugins=("Priority",)))
    plain = server.call("POST", "/api/v1/namespaces/default/pods", pod("plain")).body["spec"]
    assert (plain["priority"], plain["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    for name, value, default in (("high", 1000, False), ("usual", 10, True)):
        body = {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "globalDefault": default,
        }
        answer = server.call("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", body)
        assert answer.body["preemptionPolicy"] == "PreemptLowerPriority"
    high = server.call(
        "POST", "/api/v1/namespaces/default/pods", pod("h", priorityClassName="high")
    )
    assert high.body["spec"]["priority"] == 1000
    usual = server.call("POST", "/api/v1/namespaces/default/pods", pod("u")).body["spec"]
    assert (usual["priorityClassName"], usual["priority"]) == ("usual", 10)
    assert create(server, "default", pod("x", priorityClassName="nope")) == (
        403,
        'pods "x" is forbidden: no PriorityClass with name nope was found',
    )
    assert create(server, "default", pod("y", priorityClassName="high", priority=5)) == (
        403,
        'pods "y" is forbidden: the integer value of priority (5) must not be provided in pod '
        "spec; priority admission controller computed 1000 from the given PriorityClass name",
    )
