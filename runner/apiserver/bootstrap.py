"""What kube-apiserver's post-start hooks create through its own API at start: the system
namespaces (``default``, ``kube-system``, ``kube-public``, ``kube-node-lease``) and the
``kubernetes`` Service in ``default`` on the first address of the service range; the served
API server also creates the system PriorityClasses (``system-node-critical``,
``system-cluster-critical``; ``priority_class_requests``), which the in-process worlds leave
out.

With RBAC on, the ``rbac/bootstrap-roles`` hook also creates the bootstrap ClusterRoles and
ClusterRoleBindings (``bootstrap_policy``). They are plain create requests; an object that
already exists (a restart on a kept store) answers 409, which is what the hooks ignore too.
"""

from __future__ import annotations

import ipaddress

import msgspec

from impl.apiserver.context import Config
from models.apiserver.messages import ApiRequest
from runner.apiserver.bootstrap_policy import cluster_role_bindings, cluster_roles

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
USER_AGENT = "kube-apiserver/bootstrap"


def _create(path: str, body: object) -> ApiRequest:
    return ApiRequest(
        method="POST",
        path=path,
        content_type="application/json",
        accept="application/json",
        user_agent=USER_AGENT,
        body=msgspec.json.encode(body),
    )


def kubernetes_service_ip(config: Config) -> str:
    """The first address of ``--service-cluster-ip-range`` (kube's ``kubernetes`` Service)."""
    network = ipaddress.ip_network(config.service_cluster_ip_range, strict=False)
    return str(network.network_address + 1)


def bootstrap_requests(config: Config) -> list[ApiRequest]:
    requests = [
        _create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        for name in SYSTEM_NAMESPACES
    ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": kubernetes_service_ip(config),
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            "sessionAffinity": "None",
        },
    }
    requests.append(_create("/api/v1/namespaces/default/services", service))
    return requests


SYSTEM_PRIORITY_CLASSES = (
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
)
"""kube-apiserver's built-in PriorityClasses (its ``scheduling/bootstrap-system-priority-classes``
post-start hook): name, value, description."""


def priority_class_requests() -> list[ApiRequest]:
    """Creates of the system PriorityClasses."""
    return [
        _create(
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "preemptionPolicy": "PreemptLowerPriority",
            },
        )
        for name, value, description in SYSTEM_PRIORITY_CLASSES
    ]


def policy_requests() -> list[ApiRequest]:
    """Creates of the RBAC bootstrap policy."""
    base = "/apis/rbac.authorization.k8s.io/v1"
    return [_create(f"{base}/clusterroles", role) for role in cluster_roles()] + [
        _create(f"{base}/clusterrolebindings", binding) for binding in cluster_role_bindings()
    ]
