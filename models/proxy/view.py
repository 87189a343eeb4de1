"""Services and EndpointSlices as a service proxy reads them: one record per service port and
one per endpoint, with the API's defaults filled in.

This projection is computed here once, for the service model (``spec/proxy``) and the rule
generators (``impl/proxy``) alike. It reads the objects; it decides nothing about traffic:

- A Service is proxied unless it is headless (``clusterIP: None`` or unset), of type
  ExternalName, or labelled ``service.kubernetes.io/service-proxy-name`` (it belongs to another
  proxy). Only its IPv4 addresses are read: kubeoracle proxies single-stack IPv4.
- ``protocol`` defaults to TCP; ``sessionAffinity: ClientIP`` has a timeout of
  ``sessionAffinityConfig.clientIP.timeoutSeconds`` (default 10800 s).
- Load-balancer addresses are ``status.loadBalancer.ingress[].ip`` unless their ``ipMode`` is
  ``Proxy`` (the load balancer then delivers to the node, not to the VIP).
- ``externalTrafficPolicy: Local`` counts only for externally reachable Services (NodePort,
  LoadBalancer, or any Service with externalIPs), as the API says.
- The endpoints of a service port are those of every IPv4 EndpointSlice labelled
  ``kubernetes.io/service-name`` with the Service's name, whose port has the same name and
  protocol; an endpoint is its first address. Absent conditions read as the API documents
  them: ``ready`` and ``serving`` true, ``terminating`` false. One address listed twice counts
  once, preferring the copy that is not terminating.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from models.k8s.core.service import Service, ServicePort
from models.k8s.discovery import Endpoint, EndpointSlice
from models.proxy.config import DEFAULT_AFFINITY_TIMEOUT_SECONDS

SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
SERVICE_PROXY_NAME_LABEL: Final = "service.kubernetes.io/service-proxy-name"
EXTERNALLY_REACHABLE_TYPES: Final = frozenset({"NodePort", "LoadBalancer"})


class ServicePortView(msgspec.Struct, frozen=True, kw_only=True):
    """One port of a proxied Service."""

    namespace: str
    service: str
    port_name: str
    protocol: str
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    affinity_timeout_seconds: int | None = None
    internal_local: bool = False
    external_local: bool = False
    health_check_node_port: int = 0

    @property
    def name(self) -> str:
        """``ns/svc:port`` (``ns/svc`` for an unnamed port), as kube-proxy writes it."""
        base = f"{self.namespace}/{self.service}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def proto(self) -> str:
        """The protocol in lower case (``tcp``), as iptables and nftables spell it."""
        return self.protocol.lower()

    @property
    def externally_reachable(self) -> bool:
        return self.node_port != 0 or bool(self.load_balancer_ips) or bool(self.external_ips)


class EndpointView(msgspec.Struct, frozen=True, kw_only=True):
    """One endpoint of one service port."""

    ip: str
    port: int
    node_name: str | None = None
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    zone_hints: tuple[str, ...] = ()
    node_hints: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """``ip:port``."""
        return f"{self.ip}:{self.port}"


class ServicePortEndpoints(msgspec.Struct, frozen=True, kw_only=True):
    """A service port and its endpoints (sorted by ``ip:port`` text)."""

    service_port: ServicePortView
    endpoints: tuple[EndpointView, ...] = ()


def is_ipv4(address: str) -> bool:
    parts = address.split(".")
    return len(parts) == 4 and all(part.isdigit() and int(part) <= 255 for part in parts)


def is_proxied(service: Service) -> bool:
    spec = service.spec
    if spec is None or spec.type == "ExternalName":
        return False
    if spec.cluster_ip in (None, "", "None"):
        return False
    labels = service.metadata.labels if service.metadata is not None else None
    return labels is None or SERVICE_PROXY_NAME_LABEL not in labels


def _ipv4_cluster_ip(service: Service) -> str | None:
    spec = service.spec
    assert spec is not None
    candidates = (spec.cluster_ip, *(spec.cluster_ips or ()))
    return next((ip for ip in candidates if ip is not None and is_ipv4(ip)), None)


def _load_balancer_ips(service: Service) -> tuple[str, ...]:
    status = service.status
    if status is None or status.load_balancer is None:
        return ()
    return tuple(
        ingress.ip
        for ingress in status.load_balancer.ingress or ()
        if ingress.ip and is_ipv4(ingress.ip) and ingress.ip_mode != "Proxy"
    )


def service_ports(service: Service) -> tuple[ServicePortView, ...]:
    """The proxied ports of one Service (none when it is not proxied)."""
    if not is_proxied(service):
        return ()
    spec = service.spec
    metadata = service.metadata
    assert spec is not None
    cluster_ip = _ipv4_cluster_ip(service)
    if cluster_ip is None:
        return ()
    externally_reachable = spec.type in EXTERNALLY_REACHABLE_TYPES or bool(spec.external_ips)
    external_local = externally_reachable and spec.external_traffic_policy == "Local"
    timeout: int | None = None
    if spec.session_affinity == "ClientIP":
        config = spec.session_affinity_config
        client_ip = config.client_ip if config is not None else None
        configured = client_ip.timeout_seconds if client_ip is not None else None
        timeout = configured if configured is not None else DEFAULT_AFFINITY_TIMEOUT_SECONDS
    health = spec.health_check_node_port or 0
    return tuple(
        _service_port(
            port,
            namespace=metadata.namespace or "default" if metadata else "default",
            service=metadata.name or "" if metadata else "",
            cluster_ip=cluster_ip,
            external_ips=tuple(ip for ip in spec.external_ips or () if is_ipv4(ip)),
            load_balancer_ips=_load_balancer_ips(service),
            source_ranges=tuple(spec.load_balancer_source_ranges or ()),
            affinity_timeout_seconds=timeout,
            internal_local=spec.internal_traffic_policy == "Local",
            external_local=external_local,
            health_check_node_port=health if external_local else 0,
        )
        for port in spec.ports or ()
    )


def _service_port(port: ServicePort, **common: object) -> ServicePortView:
    return msgspec.convert(
        {
            **common,
            "port_name": port.name or "",
            "protocol": port.protocol or "TCP",
            "port": port.port or 0,
            "node_port": port.node_port or 0,
        },
        ServicePortView,
    )


def _endpoint(endpoint: Endpoint, port: int) -> EndpointView | None:
    if not endpoint.addresses:
        return None
    conditions = endpoint.conditions
    zones = endpoint.hints.for_zones if endpoint.hints is not None else None
    nodes = endpoint.hints.for_nodes if endpoint.hints is not None else None
    return EndpointView(
        ip=endpoint.addresses[0],
        port=port,
        node_name=endpoint.node_name,
        ready=conditions is None or conditions.ready is not False,
        serving=conditions is None or conditions.serving is not False,
        terminating=conditions is not None and conditions.terminating is True,
        zone_hints=tuple(sorted(zone.name or "" for zone in zones or ())),
        node_hints=tuple(sorted(node.name or "" for node in nodes or ())),
    )


def slice_service(endpoint_slice: EndpointSlice) -> tuple[str, str] | None:
    """(namespace, service name) an EndpointSlice belongs to, from its label."""
    metadata = endpoint_slice.metadata
    if metadata is None or metadata.labels is None:
        return None
    name = metadata.labels.get(SERVICE_NAME_LABEL)
    return (metadata.namespace or "default", name) if name else None


def endpoints_of(
    service_port: ServicePortView, slices: Iterable[EndpointSlice]
) -> tuple[EndpointView, ...]:
    """The endpoints of ``service_port`` in ``slices`` (any slices; others are skipped)."""
    owner = (service_port.namespace, service_port.service)
    found: dict[str, EndpointView] = {}
    for endpoint_slice in slices:
        if slice_service(endpoint_slice) != owner or endpoint_slice.address_type != "IPv4":
            continue
        for slice_port in endpoint_slice.ports or ():
            if (slice_port.name or "") != service_port.port_name:
                continue
            if (slice_port.protocol or "TCP") != service_port.protocol or not slice_port.port:
                continue
            for endpoint in endpoint_slice.endpoints or ():
                view = _endpoint(endpoint, slice_port.port)
                if view is None:
                    continue
                if view.address not in found or not view.terminating:
                    found[view.address] = view
    return tuple(found[address] for address in sorted(found))


def cluster_view(
    services: Iterable[Service], slices: Iterable[EndpointSlice]
) -> tuple[ServicePortEndpoints, ...]:
    """Every proxied service port with its endpoints, sorted by service port name."""
    by_owner: dict[tuple[str, str], list[EndpointSlice]] = {}
    for endpoint_slice in slices:
        owner = slice_service(endpoint_slice)
        if owner is not None:
            by_owner.setdefault(owner, []).append(endpoint_slice)
    ports = [port for service in services for port in service_ports(service)]
    ports.sort(key=lambda port: (port.name, port.proto))
    return tuple(
        ServicePortEndpoints(
            service_port=port,
            endpoints=endpoints_of(port, by_owner.get((port.namespace, port.service), ())),
        )
        for port in ports
    )
