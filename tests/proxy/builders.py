"""Small builders for Services, EndpointSlices and proxy configurations in proxy tests.

Objects are written as the API serialises them and decoded through ``models.k8s.codec``, so
tests exercise the same reading path as the CLI.
"""

from __future__ import annotations

from typing import Any

from models.k8s.codec import decode_data
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.config import ProxyConfig
from models.proxy.view import ServicePortEndpoints, cluster_view

NODE = "test-node"
NODE_IP = "192.168.0.2"
POD_CIDR = "10.0.0.0/8"


def config(**overrides: Any) -> ProxyConfig:
    """The node of kube-proxy's own unit tests: test-node at 192.168.0.2, pods in 10/8."""
    fields: dict[str, Any] = {
        "node_name": NODE,
        "local_addresses": (NODE_IP,),
        "cluster_cidrs": (POD_CIDR,),
    }
    fields.update(overrides)
    return ProxyConfig(**fields)


def service(
    namespace: str,
    name: str,
    cluster_ip: str,
    ports: list[dict[str, Any]],
    *,
    status: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> Service:
    data: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "namespace": namespace,
            "name": name,
            **({"labels": labels} if labels else {}),
        },
        "spec": {"clusterIP": cluster_ip, "ports": ports, **spec},
    }
    if status is not None:
        data["status"] = status
    decoded = decode_data(data).unwrap()
    assert isinstance(decoded, Service)
    return decoded


def endpoint_slice(
    namespace: str,
    service_name: str,
    endpoints: list[dict[str, Any]],
    ports: list[dict[str, Any]],
    *,
    suffix: str = "1",
) -> EndpointSlice:
    data = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": namespace,
            "name": f"{service_name}-{suffix}",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }
    decoded = decode_data(data).unwrap()
    assert isinstance(decoded, EndpointSlice)
    return decoded


def tcp(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": port, "protocol": "TCP", **extra}


def ep(ip: str, node: str | None = None, **conditions: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"addresses": [ip]}
    if node is not None:
        data["nodeName"] = node
    if conditions:
        data["conditions"] = conditions
    return data


def view(services: list[Service], slices: list[EndpointSlice]) -> tuple[ServicePortEndpoints, ...]:
    return cluster_view(services, slices)
