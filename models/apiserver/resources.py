"""The resources the API server serves: names, scope, verbs, subresources and etcd keys.

A ``Resource`` is one entry of discovery (``/api/v1``, ``/apis/apps/v1``, aggregated v2) plus
what the registry needs to store it: the typed model its schema comes from and the etcd key
prefix kube-apiserver uses (``/registry/<resource>/<namespace>/<name>``, with kube-apiserver's
historical exceptions: nodes under ``minions``, services under ``services/specs``, endpoints
under ``services/endpoints``, and non-core API groups' custom kinds under
``/registry/<group>/<resource>``). Custom resources get a ``Resource`` built from their CRD.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from models.k8s.admission_policy import (
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
)
from models.k8s.apiextensions import CustomResourceDefinition
from models.k8s.apps import Deployment, ReplicaSet, StatefulSet
from models.k8s.autoscaling import HorizontalPodAutoscaler
from models.k8s.batch import Job
from models.k8s.config import ConfigMap, Secret, ServiceAccount
from models.k8s.coordination import Lease
from models.k8s.core.namespace import Event, Namespace
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.quota import LimitRange, ResourceQuota
from models.k8s.core.service import Endpoints, Service
from models.k8s.daemonset import DaemonSet
from models.k8s.discovery import EndpointSlice
from models.k8s.policy import PodDisruptionBudget
from models.k8s.priority import PriorityClass
from models.k8s.rbac import ClusterRole, ClusterRoleBinding, Role, RoleBinding

STANDARD_VERBS: Final = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


class Subresource(msgspec.Struct, frozen=True, kw_only=True):
    """``status``, ``scale``, ``binding``, ``eviction``, ``finalize``: what it answers with."""

    name: str
    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    """One served resource (a REST collection)."""

    group: str
    version: str
    resource: str
    kind: str
    singular: str
    namespaced: bool
    key_prefix: str
    list_kind: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[Subresource, ...] = ()
    graceful: bool = False
    unconditional_update: bool = True
    create_on_update: bool = False
    return_deleted: bool = False
    custom: bool = False

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``resource.group`` as error messages write it (``pods``, ``deployments.apps``)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


def _status(group: str, version: str, kind: str) -> Subresource:
    return Subresource(
        name="status", group=group, version=version, kind=kind, verbs=("get", "patch", "update")
    )


_SCALE: Final = Subresource(
    name="scale", group="autoscaling", version="v1", kind="Scale", verbs=("get", "patch", "update")
)


def _core(resource: str, kind: str, **extra: Any) -> Resource:
    extra.setdefault("singular", kind.lower())  # kube-apiserver's singularName for built-ins
    extra.setdefault("key_prefix", f"/registry/{resource}")
    extra.setdefault("namespaced", True)
    return Resource(group="", version="v1", resource=resource, kind=kind, **extra)


def _grouped(group: str, version: str, resource: str, kind: str, **extra: Any) -> Resource:
    extra.setdefault("singular", kind.lower())
    extra.setdefault("key_prefix", f"/registry/{resource}")
    extra.setdefault("namespaced", True)
    return Resource(group=group, version=version, resource=resource, kind=kind, **extra)


BUILTIN_RESOURCES: Final = (
    _core(
        "pods",
        "Pod",
        short_names=("po",),
        return_deleted=True,
        categories=("all",),
        graceful=True,
        subresources=(
            _status("", "v1", "Pod"),
            Subresource(name="binding", group="", version="v1", kind="Binding", verbs=("create",)),
            Subresource(
                name="eviction", group="policy", version="v1", kind="Eviction", verbs=("create",)
            ),
        ),
    ),
    _core(
        "nodes",
        "Node",
        namespaced=False,
        short_names=("no",),
        key_prefix="/registry/minions",
        subresources=(_status("", "v1", "Node"),),
    ),
    _core(
        "services",
        "Service",
        short_names=("svc",),
        return_deleted=True,
        categories=("all",),
        key_prefix="/registry/services/specs",
        subresources=(_status("", "v1", "Service"),),
    ),
    _core(
        "endpoints",
        "Endpoints",
        short_names=("ep",),
        key_prefix="/registry/services/endpoints",
        create_on_update=True,
    ),
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        return_deleted=True,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(
            _status("", "v1", "Namespace"),
            Subresource(
                name="finalize", group="", version="v1", kind="Namespace", verbs=("update",)
            ),
        ),
    ),
    _core("events", "Event", short_names=("ev",), create_on_update=True),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("secrets", "Secret"),
    _core("limitranges", "LimitRange", short_names=("limits",)),
    _core(
        "resourcequotas",
        "ResourceQuota",
        short_names=("quota",),
        subresources=(_status("", "v1", "ResourceQuota"),),
    ),
    _core(
        "serviceaccounts",
        "ServiceAccount",
        short_names=("sa",),
        return_deleted=True,
        subresources=(
            Subresource(
                name="token",
                group="authentication.k8s.io",
                version="v1",
                kind="TokenRequest",
                verbs=("create",),
            ),
        ),
    ),
    _grouped(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=("all",),
        subresources=(_status("apps", "v1", "Deployment"), _SCALE),
    ),
    _grouped(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        categories=("all",),
        subresources=(_status("apps", "v1", "ReplicaSet"), _SCALE),
    ),
    _grouped(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short_names=("ds",),
        categories=("all",),
        subresources=(_status("apps", "v1", "DaemonSet"),),
    ),
    _grouped(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        categories=("all",),
        subresources=(_status("apps", "v1", "StatefulSet"), _SCALE),
    ),
    _grouped(
        "batch",
        "v1",
        "jobs",
        "Job",
        categories=("all",),
        subresources=(_status("batch", "v1", "Job"),),
    ),
    _grouped("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _grouped("coordination.k8s.io", "v1", "leases", "Lease", create_on_update=True),
    _grouped(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        short_names=("pc",),
        namespaced=False,
    ),
    _grouped(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=("all",),
        subresources=(_status("autoscaling", "v2", "HorizontalPodAutoscaler"),),
    ),
    _grouped(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short_names=("pdb",),
        subresources=(_status("policy", "v1", "PodDisruptionBudget"),),
    ),
    _grouped(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        namespaced=False,
        categories=("api-extensions",),
        subresources=(_status("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"),),
    ),
    _grouped(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _grouped("rbac.authorization.k8s.io", "v1", "roles", "Role", create_on_update=True),
    _grouped(
        "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", create_on_update=True
    ),
    _grouped(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        namespaced=False,
        create_on_update=True,
    ),
    _grouped(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
        create_on_update=True,
    ),
    _grouped(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        unconditional_update=False,
        key_prefix="/registry/apiextensions.k8s.io/customresourcedefinitions",
        subresources=(_status("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),),
    ),
)
"""Every built-in resource, in discovery order."""

MODELS: Final[dict[str, type[Any]]] = {
    "Pod": Pod,
    "Node": Node,
    "Service": Service,
    "Endpoints": Endpoints,
    "Namespace": Namespace,
    "Event": Event,
    "ConfigMap": ConfigMap,
    "Secret": Secret,
    "ServiceAccount": ServiceAccount,
    "ResourceQuota": ResourceQuota,
    "LimitRange": LimitRange,
    "PriorityClass": PriorityClass,
    "ValidatingAdmissionPolicy": ValidatingAdmissionPolicy,
    "ValidatingAdmissionPolicyBinding": ValidatingAdmissionPolicyBinding,
    "Deployment": Deployment,
    "ReplicaSet": ReplicaSet,
    "DaemonSet": DaemonSet,
    "StatefulSet": StatefulSet,
    "PodDisruptionBudget": PodDisruptionBudget,
    "Job": Job,
    "EndpointSlice": EndpointSlice,
    "Lease": Lease,
    "HorizontalPodAutoscaler": HorizontalPodAutoscaler,
    "Role": Role,
    "RoleBinding": RoleBinding,
    "ClusterRole": ClusterRole,
    "ClusterRoleBinding": ClusterRoleBinding,
    "CustomResourceDefinition": CustomResourceDefinition,
}
"""The typed model of each built-in kind: its schema is generated from it."""

REGISTRY_ROOT: Final = "/registry/"


def object_key(resource: Resource, namespace: str, name: str) -> str:
    """The etcd key of one object."""
    if resource.namespaced:
        return f"{resource.key_prefix}/{namespace}/{name}"
    return f"{resource.key_prefix}/{name}"


def collection_prefix(resource: Resource, namespace: str) -> str:
    """The etcd key prefix of a collection (all namespaces when ``namespace`` is empty)."""
    if resource.namespaced and namespace:
        return f"{resource.key_prefix}/{namespace}/"
    return f"{resource.key_prefix}/"


def custom_resource_prefix(group: str, plural: str) -> str:
    return f"/registry/{group}/{plural}"
