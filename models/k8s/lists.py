"""Lists: the typed ``<Kind>List`` objects the API returns, and the generic ``v1 List`` that
``kubectl get a,b -o yaml`` prints (items of any kind, each carrying its apiVersion/kind)."""

from __future__ import annotations

from typing import Literal

from models.k8s.apps import Deployment, ReplicaSet
from models.k8s.base import ApiStruct
from models.k8s.coordination import Lease
from models.k8s.core.namespace import Event, Namespace
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.service import Endpoints, Service
from models.k8s.discovery import EndpointSlice
from models.k8s.meta import ListMeta


class PodList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["PodList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Pod, ...] | None = None


class NodeList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["NodeList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Node, ...] | None = None


class ServiceList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["ServiceList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Service, ...] | None = None


class EndpointsList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["EndpointsList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Endpoints, ...] | None = None


class NamespaceList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["NamespaceList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Namespace, ...] | None = None


class EventList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["EventList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Event, ...] | None = None


class ReplicaSetList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["ReplicaSetList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[ReplicaSet, ...] | None = None


class DeploymentList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["apps/v1"] | None = None
    kind: Literal["DeploymentList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Deployment, ...] | None = None


class EndpointSliceList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["discovery.k8s.io/v1"] | None = None
    kind: Literal["EndpointSliceList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[EndpointSlice, ...] | None = None


class LeaseList(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["coordination.k8s.io/v1"] | None = None
    kind: Literal["LeaseList"] | None = None
    metadata: ListMeta | None = None
    items: tuple[Lease, ...] | None = None


class List(ApiStruct, frozen=True, kw_only=True):
    """``v1 List``. ``items`` hold decoded objects of any registered kind; the codec decodes
    them one by one (by their apiVersion/kind), so this type is not decoded directly."""

    api_version: Literal["v1"] | None = None
    kind: Literal["List"] | None = None
    metadata: ListMeta | None = None
    items: tuple[object, ...] | None = None
