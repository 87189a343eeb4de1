"""Defaulting, as kube's generated ``SetDefaults_*`` functions do for v1.35 (on JSON objects).

Each function fills the fields the API server fills when they are absent and leaves set fields
alone; pod templates inside workloads get the pod spec defaults. Only defaulting lives here:
allocation (a Service's cluster IP) and admission plugins (tolerations, service accounts,
priority) are not defaults.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Final

Json = dict[str, Any]


def _child(parent: Json, key: str) -> Json:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _items(parent: Json, key: str) -> list[Json]:
    value = parent.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _image_pull_policy(image: object) -> str:
    """``Always`` for ``:latest`` or an untagged image, else ``IfNotPresent``."""
    text = str(image or "")
    if "@" in text:
        return "IfNotPresent"
    last = text.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(container: Json) -> None:
    container.setdefault("imagePullPolicy", _image_pull_policy(container.get("image")))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in _items(container, "ports"):
        port.setdefault("protocol", "TCP")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)


def pod_spec(spec: Json) -> None:
    """``SetDefaults_PodSpec`` and its containers'."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    if spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    for key in ("containers", "initContainers"):
        for container in _items(spec, key):
            _container(container)


def _template(spec: Json) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        pod_spec(_child(template, "spec"))


def pod(obj: Json) -> None:
    pod_spec(_child(obj, "spec"))


def deployment(obj: Json) -> None:
    spec = _child(obj, "spec")
    spec.setdefault("replicas", 1)
    strategy = _child(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)


def replica_set(obj: Json) -> None:
    spec = _child(obj, "spec")
    spec.setdefault("replicas", 1)
    _template(spec)


def daemon_set(obj: Json) -> None:
    spec = _child(obj, "spec")
    strategy = _child(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)


def stateful_set(obj: Json) -> None:
    """``SetDefaults_StatefulSet`` (apps/v1); MaxUnavailableStatefulSet is beta, on, in v1.35."""
    spec = _child(obj, "spec")
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        _child(strategy, "rollingUpdate")
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
        rolling.setdefault("partition", 0)
        rolling.setdefault("maxUnavailable", 1)
    retention = _child(spec, "persistentVolumeClaimRetentionPolicy")
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)


def job(obj: Json) -> None:
    spec = _child(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _template(spec)


def service(obj: Json) -> None:
    spec = _child(obj, "spec")
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in _items(spec, "ports"):
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and "port" in port:
            port["targetPort"] = port["port"]
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def namespace(obj: Json) -> None:
    spec = _child(obj, "spec")
    spec.setdefault("finalizers", ["kubernetes"])
    metadata = _child(obj, "metadata")
    name = metadata.get("name")
    if isinstance(name, str) and name:
        labels = _child(metadata, "labels")
        labels["kubernetes.io/metadata.name"] = name


def secret(obj: Json) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = _child(obj, "data")
        for key in sorted(string_data):
            data[key] = base64.b64encode(str(string_data[key]).encode()).decode()


def endpoints(obj: Json) -> None:
    for subset in _items(obj, "subsets"):
        for port in _items(subset, "ports"):
            port.setdefault("protocol", "TCP")


def endpoint_slice(obj: Json) -> None:
    for port in _items(obj, "ports"):
        port.setdefault("protocol", "TCP")


def horizontal_pod_autoscaler(obj: Json) -> None:
    spec = _child(obj, "spec")
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]


def role_binding(obj: Json) -> None:
    for subject in _items(obj, "subjects"):
        if subject.get("kind") in ("User", "Group"):
            subject.setdefault("apiGroup", "rbac.authorization.k8s.io")


def custom_resource_definition(obj: Json) -> None:
    spec = _child(obj, "spec")
    names = _child(spec, "names")
    if "kind" in names:
        names.setdefault("listKind", f"{names['kind']}List")
        names.setdefault("singular", str(names["kind"]).lower())
    spec.setdefault("conversion", {"strategy": "None"})


def priority_class(obj: Json) -> None:
    """``SetDefaults_PriorityClass``."""
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


DEFAULTERS: Final[dict[str, Callable[[Json], None]]] = {
    "Pod": pod,
    "PriorityClass": priority_class,
    "Deployment": deployment,
    "ReplicaSet": replica_set,
    "DaemonSet": daemon_set,
    "StatefulSet": stateful_set,
    "Job": job,
    "Service": service,
    "Namespace": namespace,
    "Secret": secret,
    "Endpoints": endpoints,
    "EndpointSlice": endpoint_slice,
    "HorizontalPodAutoscaler": horizontal_pod_autoscaler,
    "RoleBinding": role_binding,
    "ClusterRoleBinding": role_binding,
    "CustomResourceDefinition": custom_resource_definition,
}


def apply_defaults(kind: str, obj: Json) -> None:
    """Fill ``obj``'s defaults in place (a copy the caller owns)."""
    defaulter = DEFAULTERS.get(kind)
    if defaulter is not None:
        defaulter(obj)
