"""What a user of the cluster world does through the API: Deployments (each with a Service
in front of its pods) created, scaled and
rolled out, pods deleted (gracefully or forced, as ``kubectl delete --force --grace-period=0``),
nodes tainted NoSchedule and untainted, and drained (``kubectl drain``: cordon, then evict each
pod of the node through ``pods/eviction``; an eviction a PodDisruptionBudget refuses with 429
is sent again every ``EVICTION_RETRY_MS`` until the drain's ``DRAIN_TIMEOUT_MS``, as ``kubectl
drain --timeout`` does; uncordoned by ``untaint``), and Deployments given a
PodDisruptionBudget (``budget``: ``minAvailable`` over the Deployment's pods); the Job the
world starts with (``job_request``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from models.apiserver.messages import ApiRequest
from models.cluster_world import User

DEPLOYMENTS: Final = "/apis/apps/v1/namespaces/default/deployments"
MERGE: Final = "application/merge-patch+json"
CPU_REQUEST: Final = "100m"
TAINT: Final = {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}
BUDGETS: Final = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
EVICTION_RETRY_MS: Final = 5_000
DRAIN_TIMEOUT_MS: Final = 60_000


def deployment_name(index: int) -> str:
    return f"web-{index}"


def deployment(name: str, replicas: int, generation: int) -> dict[str, Any]:
    labels = {"app": name}
    container = {
        "name": "app",
        "image": f"registry.example/app:v{generation}",
        "resources": {"requests": {"cpu": CPU_REQUEST}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def _body(value: object) -> bytes:
    return json.dumps(value, sort_keys=True).encode()


def requests(action: User, node_pods: tuple[str, ...]) -> tuple[ApiRequest, ...]:
    """The requests ``action`` makes, in order (``node_pods``: the pods on the drained node,
    ``namespace/name``, as the user's ``kubectl get pods`` showed them)."""
    target = action.target
    match action.verb:
        case "create":
            body = _body(deployment(target, action.value, 1))
            return (
                ApiRequest(
                    method="POST", path=DEPLOYMENTS, content_type="application/json", body=body
                ),
            )
        case "scale":
            patch = _body({"spec": {"replicas": action.value}})
            return (
                ApiRequest(
                    method="PATCH", path=f"{DEPLOYMENTS}/{target}", content_type=MERGE, body=patch
                ),
            )
        case "rollout":
            image = f"registry.example/app:v{action.value}"
            containers = [
                {"name": "app", "image": image, "resources": {"requests": {"cpu": CPU_REQUEST}}}
            ]
            patch = _body({"spec": {"template": {"spec": {"containers": containers}}}})
            return (
                ApiRequest(
                    method="PATCH", path=f"{DEPLOYMENTS}/{target}", content_type=MERGE, body=patch
                ),
            )
        case "delete-pod" | "force-delete-pod":
            namespace, name = target.split("/", 1)
            options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
            if action.verb == "force-delete-pod":
                options["gracePeriodSeconds"] = 0
            path = f"/api/v1/namespaces/{namespace}/pods/{name}"
            return (
                ApiRequest(
                    method="DELETE", path=path, content_type="application/json", body=_body(options)
                ),
            )
        case "taint":
            patch = _body({"spec": {"taints": [TAINT]}})
            return (_node_patch(target, patch),)
        case "untaint":
            return (_node_patch(target, _body({"spec": {"taints": None, "unschedulable": None}})),)
        case "drain":
            cordon = _node_patch(target, _body({"spec": {"unschedulable": True}}))
            return (cordon, *(eviction(key) for key in node_pods))
        case "budget":
            return (budget_request(target, action.value),)
    raise AssertionError(action)


def service_request(name: str) -> ApiRequest:
    """A ClusterIP Service ``name`` in front of Deployment ``name``'s pods (port 80 to 8080)."""
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }
    path = "/api/v1/namespaces/default/services"
    return ApiRequest(method="POST", path=path, content_type="application/json", body=_body(body))


def _node_patch(name: str, patch: bytes) -> ApiRequest:
    return ApiRequest(method="PATCH", path=f"/api/v1/nodes/{name}", content_type=MERGE, body=patch)


JOBS: Final = "/apis/batch/v1/namespaces/default/jobs"
JOB_RUN_SECONDS: Final = 5


def job_request(name: str, completions: int) -> ApiRequest:
    """A Job ``name`` running ``completions`` pods to success, two at a time; each pod's
    container exits 0 after ``JOB_RUN_SECONDS`` (the simulated runtime's script)."""
    container = {"name": "work", "image": "registry.example/batch:v1",
                 "resources": {"requests": {"cpu": CPU_REQUEST}}}  # fmt: skip
    script = {
        "sim.kubeoracle.io/work.exit-code": "0",
        "sim.kubeoracle.io/work.run-seconds": str(JOB_RUN_SECONDS),
    }
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "completions": completions,
            "parallelism": 2,
            "backoffLimit": 6,
            "template": {
                "metadata": {"annotations": script},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }
    return ApiRequest(method="POST", path=JOBS, content_type="application/json", body=_body(body))


def budget_request(name: str, min_available: int) -> ApiRequest:
    """A PodDisruptionBudget ``name`` keeping ``min_available`` of Deployment ``name``'s pods."""
    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": name}}},
    }
    return ApiRequest(
        method="POST", path=BUDGETS, content_type="application/json", body=_body(body)
    )


def eviction(key: str) -> ApiRequest:
    """The eviction of pod ``key`` (``namespace/name``) through ``pods/eviction``."""
    namespace, name = key.split("/", 1)
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }
    path = f"/api/v1/namespaces/{namespace}/pods/{name}/eviction"
    return ApiRequest(method="POST", path=path, content_type="application/json", body=_body(body))
