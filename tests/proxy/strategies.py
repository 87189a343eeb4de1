"""Hypothesis strategies for proxy tests: small clusters that exercise every Service feature.

Addresses follow kube-proxy's unit-test conventions: pods in 10.180.0.0/16 (inside the pod CIDR
10/8), cluster IPs in 172.30.0.0/16, external IPs in 192.168.99.0/24, load-balancer IPs
1.2.3.x, the node at 192.168.0.2.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from tests.proxy.builders import NODE, endpoint_slice, service

NODES = (NODE, "node2")


@st.composite
def endpoint_dicts(draw: st.DrawFn, index: int) -> dict[str, Any]:
    node = draw(st.sampled_from((*NODES, None)))
    data: dict[str, Any] = {"addresses": [f"10.180.{index // 200}.{index % 200 + 1}"]}
    if node is not None:
        data["nodeName"] = node
    state = draw(st.sampled_from(("ready", "ready", "terminating", "gone", "not-ready")))
    conditions = {
        "ready": {"ready": True, "serving": True, "terminating": False},
        "terminating": {"ready": False, "serving": True, "terminating": True},
        "gone": {"ready": False, "serving": False, "terminating": True},
        "not-ready": {"ready": False, "serving": False, "terminating": False},
    }[state]
    data["conditions"] = conditions
    if draw(st.booleans()) and draw(st.booleans()):
        data["hints"] = {"forZones": [{"name": draw(st.sampled_from(("zone-a", "zone-b")))}]}
    return data


@st.composite
def services_and_slices(
    draw: st.DrawFn, max_services: int = 4
) -> tuple[list[Service], list[EndpointSlice]]:
    count = draw(st.integers(min_value=1, max_value=max_services))
    services: list[Service] = []
    slices: list[EndpointSlice] = []
    endpoint_index = 0
    for number in range(count):
        name = f"svc{number}"
        kind = draw(st.sampled_from(("ClusterIP", "NodePort", "LoadBalancer")))
        protocol = draw(st.sampled_from(("TCP", "TCP", "UDP")))
        port: dict[str, Any] = {"name": "p80", "port": 80, "protocol": protocol}
        spec: dict[str, Any] = {"type": kind}
        status: dict[str, Any] | None = None
        if kind != "ClusterIP":
            port["nodePort"] = 30000 + number
            spec["externalTrafficPolicy"] = draw(st.sampled_from(("Cluster", "Local")))
        if kind == "LoadBalancer":
            status = {"loadBalancer": {"ingress": [{"ip": f"1.2.3.{number + 1}"}]}}
            if draw(st.booleans()):
                spec["loadBalancerSourceRanges"] = ["203.0.113.0/25"]
        if draw(st.booleans()) and draw(st.booleans()):
            spec["externalIPs"] = [f"192.168.99.{number + 1}"]
        if draw(st.booleans()) and draw(st.booleans()):
            spec["internalTrafficPolicy"] = "Local"
        if draw(st.booleans()) and draw(st.booleans()):
            spec["sessionAffinity"] = "ClientIP"
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 60}}
        services.append(
            service("ns", name, f"172.30.0.{number + 1}", [port], status=status, **spec)
        )
        size = draw(st.integers(min_value=0, max_value=4))
        endpoints: list[dict[str, Any]] = []
        for _ in range(size):
            endpoints.append(draw(endpoint_dicts(endpoint_index)))
            endpoint_index += 1
        keep_empty_slice = draw(st.booleans())
        if endpoints or keep_empty_slice:
            target = {"name": "p80", "port": 8080, "protocol": protocol}
            slices.append(endpoint_slice("ns", name, endpoints, [target]))
    return services, slices
