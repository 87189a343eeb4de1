"""The cluster of kube-proxy's own TestOverallIPTablesRules / TestOverallNFTablesRules
(kubernetes/kubernetes pkg/proxy/{iptables,nftables}/proxier_test.go), rebuilt as API objects,
and a reader for the expected rule sets copied from those tests into ``data/``."""

from __future__ import annotations

from pathlib import Path

from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.view import ServicePortEndpoints, cluster_view
from tests.proxy.builders import NODE, endpoint_slice, ep, service, tcp

DATA = Path(__file__).parent / "data"


def overall_objects() -> tuple[list[Service], list[EndpointSlice]]:
    lb_ingress = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    services = [
        service("ns1", "svc1", "172.30.0.41", [tcp("p80", 80)]),
        service(
            "ns2",
            "svc2",
            "172.30.0.42",
            [tcp("p80", 80, nodePort=3001)],
            type="LoadBalancer",
            externalTrafficPolicy="Local",
            externalIPs=["192.168.99.22"],
            healthCheckNodePort=30000,
            status=lb_ingress,
        ),
        service("ns3", "svc3", "172.30.0.43", [tcp("p80", 80, nodePort=3003)], type="NodePort"),
        service(
            "ns4",
            "svc4",
            "172.30.0.44",
            [tcp("p80", 80, targetPort=80)],
            type="NodePort",
            externalIPs=["192.168.99.33"],
        ),
        service(
            "ns5",
            "svc5",
            "172.30.0.45",
            [tcp("p80", 80, nodePort=3002)],
            type="LoadBalancer",
            externalTrafficPolicy="Cluster",
            healthCheckNodePort=30000,
            loadBalancerSourceRanges=[" 203.0.113.0/25"],
            sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}},
            status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}},
        ),
        service("ns6", "svc6", "172.30.0.46", [tcp("p80", 80, targetPort=80)], type="ClusterIP"),
    ]
    port = [tcp("p80", 80)]
    slices = [
        endpoint_slice("ns1", "svc1", [ep("10.180.0.1")], port),
        endpoint_slice("ns2", "svc2", [ep("10.180.0.2")], port),
        endpoint_slice("ns3", "svc3", [ep("10.180.0.3")], port),
        endpoint_slice("ns4", "svc4", [ep("10.180.0.4"), ep("10.180.0.5", NODE)], port),
        endpoint_slice("ns5", "svc5", [ep("10.180.0.3")], port),
    ]
    return services, slices


def overall_cluster() -> tuple[ServicePortEndpoints, ...]:
    return cluster_view(*overall_objects())


def data_lines(name: str) -> list[str]:
    """The non-comment, non-blank lines of a data file."""
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
