"""The resources controllers list and watch, their paths, and how their objects decode.

``RESOURCES`` names each resource the way the API does (the plural), with its group, version,
kind, scope and the ``models.k8s`` type its objects decode to. The garbage collector reads only
metadata (kube-controller-manager gives it metadata-only informers): :class:`MetadataOnly`
decodes any object's ``metadata`` and ignores the rest.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from models.k8s.apps import Deployment, ReplicaSet, StatefulSet
from models.k8s.autoscaling import HorizontalPodAutoscaler
from models.k8s.batch import Job
from models.k8s.config import ConfigMap, Secret, ServiceAccount
from models.k8s.coordination import Lease
from models.k8s.core.namespace import Namespace
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.service import Endpoints, Service
from models.k8s.daemonset import DaemonSet
from models.k8s.discovery import EndpointSlice
from models.k8s.meta import ObjectMeta
from models.k8s.policy import PodDisruptionBudget


class MetadataOnly(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Any object, seen through its type meta and metadata only (``PartialObjectMetadata``)."""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta | None = None


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    """A resource the API serves: where it lives and what its objects are."""

    name: str
    group: str
    version: str
    kind: str
    namespaced: bool
    model: type[Any]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str = "") -> str:
        """The collection URL path (all namespaces when ``namespace`` is empty)."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.name}"
        return f"{root}/{self.name}"

    def object_path(self, namespace: str, name: str, subresource: str = "") -> str:
        """One object's URL path, or its subresource's."""
        path = f"{self.collection_path(namespace)}/{name}"
        return f"{path}/{subresource}" if subresource else path


def _resource(
    name: str, group: str, kind: str, model: type[Any], namespaced: bool = True
) -> Resource:
    version = "v2" if group == "autoscaling" else "v1"
    return Resource(
        name=name, group=group, version=version, kind=kind, namespaced=namespaced, model=model
    )


RESOURCES: Final = {
    resource.name: resource
    for resource in (
        _resource("pods", "", "Pod", Pod),
        _resource("nodes", "", "Node", Node, namespaced=False),
        _resource("namespaces", "", "Namespace", Namespace, namespaced=False),
        _resource("services", "", "Service", Service),
        _resource("endpoints", "", "Endpoints", Endpoints),
        _resource("serviceaccounts", "", "ServiceAccount", ServiceAccount),
        _resource("secrets", "", "Secret", Secret),
        _resource("configmaps", "", "ConfigMap", ConfigMap),
        _resource("replicasets", "apps", "ReplicaSet", ReplicaSet),
        _resource("deployments", "apps", "Deployment", Deployment),
        _resource("daemonsets", "apps", "DaemonSet", DaemonSet),
        _resource("statefulsets", "apps", "StatefulSet", StatefulSet),
        _resource("poddisruptionbudgets", "policy", "PodDisruptionBudget", PodDisruptionBudget),
        _resource("jobs", "batch", "Job", Job),
        _resource("endpointslices", "discovery.k8s.io", "EndpointSlice", EndpointSlice),
        _resource("leases", "coordination.k8s.io", "Lease", Lease),
        _resource(
            "horizontalpodautoscalers",
            "autoscaling",
            "HorizontalPodAutoscaler",
            HorizontalPodAutoscaler,
        ),
    )
}
"""Every resource a controller here watches or writes, by plural name."""

BY_KIND: Final = {
    (resource.api_version, resource.kind): resource for resource in RESOURCES.values()
}
"""The same resources by ``(apiVersion, kind)``, as owner references name them."""
