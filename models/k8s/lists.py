"""Lists: the typed ``<Kind>List`` objects the API returns, and the generic ``v1 List`` that
``kubectl get a,b -o yaml`` prints (items of any kind, each carrying its apiVersion/kind)."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
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


class List(ApiStruct, frozen=True, kw_only=True):
    """``v1 List``. ``items`` hold decoded objects of any registered kind; the codec decodes
    them one by one (by their apiVersion/kind), so this type is not decoded directly."""

    api_version: Literal["v1"] | None = None
    kind: Literal["List"] | None = None
    metadata: ListMeta | None = None
    items: tuple[object, ...] | None = None
