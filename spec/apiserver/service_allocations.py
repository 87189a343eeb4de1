"""Service allocation's guarantee, stated over the Services a server holds: no two Services
share a cluster IP, and no two share a node port (``spec.ports[].nodePort`` or
``spec.healthCheckNodePort``); within one Service a node port appears at most once per
protocol. Source: "Service ClusterIP allocation" (kubernetes.io/docs/concepts/services-
networking/cluster-ip-allocation/): "every Service ClusterIP must be unique", and "Type
NodePort" (kubernetes.io/docs/concepts/services-networking/service/#type-nodeport): the control
plane allocates a port from the range, and a port asked for explicitly that another Service
holds is refused. The node port allocator keeps one set of ports for all protocols, so two
Services may not share a port number even over different protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Json = Mapping[str, Any]


def _name(service: Json) -> str:
    meta = service.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _ips(spec: Json) -> set[str]:
    found = [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])]
    return {ip for ip in found if isinstance(ip, str) and ip not in ("", "None")}


def _node_ports(spec: Json) -> list[tuple[int, str]]:
    ports = [port for port in spec.get("ports") or [] if isinstance(port, Mapping)]
    found = [
        (port["nodePort"], str(port.get("protocol", "TCP")))
        for port in ports
        if isinstance(port.get("nodePort"), int) and port["nodePort"]
    ]
    if isinstance(spec.get("healthCheckNodePort"), int) and spec["healthCheckNodePort"]:
        found.append((spec["healthCheckNodePort"], "TCP"))
    return found


def violations(services: Sequence[Json]) -> list[str]:
    """Each cluster IP or node port two Services share, and each node port a Service lists
    twice for one protocol."""
    found: list[str] = []
    ip_owner: dict[str, str] = {}
    port_owner: dict[int, str] = {}
    for service in services:
        name, spec = _name(service), service.get("spec") or {}
        for ip in sorted(_ips(spec)):
            if ip in ip_owner:
                found.append(f"cluster IP {ip} is held by {ip_owner[ip]} and {name}")
            ip_owner.setdefault(ip, name)
        pairs = _node_ports(spec)
        for pair in sorted(set(pairs)):
            if pairs.count(pair) > 1:
                found.append(f"{name} lists node port {pair[0]}/{pair[1]} twice")
        for port in sorted({port for port, _ in pairs}):
            if port in port_owner:
                found.append(f"node port {port} is held by {port_owner[port]} and {name}")
            port_owner.setdefault(port, name)
    return found
