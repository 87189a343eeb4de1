"""discovery.k8s.io/v1 EndpointSlice."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct, FrozenMap
from models.k8s.core.reference import ObjectReference
from models.k8s.meta import ObjectMeta


class EndpointConditions(ApiStruct, frozen=True, kw_only=True):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None


class ForNode(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None


class EndpointHints(ApiStruct, frozen=True, kw_only=True):
    for_zones: tuple[ForZone, ...] | None = None
    for_nodes: tuple[ForNode, ...] | None = None


class Endpoint(ApiStruct, frozen=True, kw_only=True):
    addresses: tuple[str, ...] | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: FrozenMap[str, str] | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointSlicePort(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


class EndpointSlice(ApiStruct, frozen=True, kw_only=True):
    """Address types: IPv4, IPv6, FQDN."""

    api_version: Literal["discovery.k8s.io/v1"] | None = None
    kind: Literal["EndpointSlice"] | None = None
    metadata: ObjectMeta | None = None
    address_type: str | None = None
    endpoints: tuple[Endpoint, ...] | None = None
    ports: tuple[EndpointSlicePort, ...] | None = None
