"""What kube-apiserver's post-start hooks create through its own API at start: the system
namespaces (``default``, ``kube-system``, ``kube-public``, ``kube-node-lease``) and the
``kubernetes`` Service in ``default`` on the first address of the service range, and the
``scheduling/bootstrap-system-priority-classes`` hook's ``system-node-critical`` and
``system-cluster-critical`` PriorityClasses.

With RBAC on, the ``rbac/bootstrap-roles`` hook also creates the bootstrap ClusterRoles and
ClusterRoleBindings (``bootstrap_policy``); when the server serves the metrics API
(``--metric-resolution``), also the ClusterRole metrics-server's manifests install,
``system:aggregated-metrics-reader`` (get, list and watch on ``metrics.k8s.io`` pods and nodes,
aggregated into view, edit and admin). They are plain create requests; an object that
already exists (a restart on a kept store) answers 409, which is what the hooks ignore too.
"""

from __future__ import annotations

import ipaddress

import msgspec

from impl.apiserver.context import Config
from impl.apiserver.priority_classes import system_class_objects
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


def bootstrap_requests(config: Config, secure_port: int = 6443) -> list[ApiRequest]:
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
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": secure_port}],
            "sessionAffinity": "None",
        },
    }
    requests.append(_create("/api/v1/namespaces/default/services", service))
    requests += [
        _create("/apis/scheduling.k8s.io/v1/priorityclasses", priority_class)
        for priority_class in system_class_objects()
    ]
    return requests


def endpoint_requests(host: str, port: int) -> list[ApiRequest]:
    """The ``kubernetes`` Endpoints and EndpointSlice for a secure port on ``host``."""
    address = "127.0.0.1" if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)
    https = {"name": "https", "port": port, "protocol": "TCP"}
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{"addresses": [{"ip": address}], "ports": [https]}],
    }
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "labels": {"kubernetes.io/service-name": "kubernetes"},
        },
        "addressType": "IPv6" if ":" in address else "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [https],
    }
    return [
        _create("/api/v1/namespaces/default/endpoints", endpoints),
        _create("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", endpoint_slice),
    ]


def policy_requests() -> list[ApiRequest]:
    """Creates of the RBAC bootstrap policy."""
    base = "/apis/rbac.authorization.k8s.io/v1"
    return [_create(f"{base}/clusterroles", role) for role in cluster_roles()] + [
        _create(f"{base}/clusterrolebindings", binding) for binding in cluster_role_bindings()
    ]


def metrics_reader_requests() -> list[ApiRequest]:
    """Create ``system:aggregated-metrics-reader``, as metrics-server's manifests do."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "system:aggregated-metrics-reader",
            "labels": {
                "k8s-app": "metrics-server",
                "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                "rbac.authorization.k8s.io/aggregate-to-view": "true",
            },
        },
        "rules": [
            {
                "apiGroups": ["metrics.k8s.io"],
                "resources": ["pods", "nodes"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }
    return [_create("/apis/rbac.authorization.k8s.io/v1/clusterroles", role)]
