"""core/v1 Service (ClusterIP, NodePort, LoadBalancer, ExternalName) and Endpoints."""

from __future__ import annotations

from typing import Literal

import msgspec

from models.k8s.base import ApiStruct, FrozenMap
from models.k8s.core.reference import ObjectReference
from models.k8s.meta import Condition, ObjectMeta

IntOrString = int | str


class ServicePort(ApiStruct, frozen=True, kw_only=True):
    """``targetPort`` is a number or a named container port."""

    name: str | None = None
    protocol: str | None = None
    app_protocol: str | None = None
    port: int | None = None
    target_port: IntOrString | None = None
    node_port: int | None = None


class ClientIPConfig(ApiStruct, frozen=True, kw_only=True):
    timeout_seconds: int | None = None


class SessionAffinityConfig(ApiStruct, frozen=True, kw_only=True):
    client_ip: ClientIPConfig | None = msgspec.field(default=None, name="clientIP")


class ServiceSpec(ApiStruct, frozen=True, kw_only=True):
    """Types: ClusterIP (default), NodePort, LoadBalancer, ExternalName."""

    ports: tuple[ServicePort, ...] | None = None
    selector: FrozenMap[str, str] | None = None
    cluster_ip: str | None = msgspec.field(default=None, name="clusterIP")
    cluster_ips: tuple[str, ...] | None = msgspec.field(default=None, name="clusterIPs")
    type: str | None = None
    external_ips: tuple[str, ...] | None = msgspec.field(default=None, name="externalIPs")
    session_affinity: str | None = None
    load_balancer_ip: str | None = msgspec.field(default=None, name="loadBalancerIP")
    load_balancer_source_ranges: tuple[str, ...] | None = None
    external_name: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: tuple[str, ...] | None = None
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None


class PortStatus(ApiStruct, frozen=True, kw_only=True):
    port: int | None = None
    protocol: str | None = None
    error: str | None = None


class LoadBalancerIngress(ApiStruct, frozen=True, kw_only=True):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None
    ports: tuple[PortStatus, ...] | None = None


class LoadBalancerStatus(ApiStruct, frozen=True, kw_only=True):
    ingress: tuple[LoadBalancerIngress, ...] | None = None


class ServiceStatus(ApiStruct, frozen=True, kw_only=True):
    load_balancer: LoadBalancerStatus | None = None
    conditions: tuple[Condition, ...] | None = None


class Service(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["v1"] | None = None
    kind: Literal["Service"] | None = None
    metadata: ObjectMeta | None = None
    spec: ServiceSpec | None = None
    status: ServiceStatus | None = None


class EndpointAddress(ApiStruct, frozen=True, kw_only=True):
    ip: str | None = None
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSubset(ApiStruct, frozen=True, kw_only=True):
    addresses: tuple[EndpointAddress, ...] | None = None
    not_ready_addresses: tuple[EndpointAddress, ...] | None = None
    ports: tuple[EndpointPort, ...] | None = None


class Endpoints(ApiStruct, frozen=True, kw_only=True):
    """``core/v1 Endpoints`` (named after its Service)."""

    api_version: Literal["v1"] | None = None
    kind: Literal["Endpoints"] | None = None
    metadata: ObjectMeta | None = None
    subsets: tuple[EndpointSubset, ...] | None = None
