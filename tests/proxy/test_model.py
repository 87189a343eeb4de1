"""The service model against the Service documentation, one documented behaviour a test.

Expected outcomes are written from the docs (Virtual IPs and Service Proxies, Service,
EndpointSlices, Topology Aware Routing), never from the model's own output.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from models.proxy.packet import (
    Affinity,
    AffinityEntry,
    Dropped,
    Forwarded,
    Outcome,
    Packet,
    Rejected,
    Unspecified,
    Untouched,
)
from models.proxy.view import ServicePortEndpoints
from spec.proxy.model import outcome
from tests.proxy.builders import NODE, NODE_IP, config, endpoint_slice, ep, service, tcp, view

Cluster = tuple[ServicePortEndpoints, ...]
CLUSTER_IP = "172.30.0.41"
POD = "10.0.0.9"
EXTERNAL = "203.0.113.2"


def shares(result: Outcome) -> dict[str, tuple[Fraction, bool]]:
    assert isinstance(result, Forwarded), result
    return {s.backend: (s.probability, s.masquerade) for s in result.shares}


def web(endpoints: list[dict[str, Any]], **spec: Any) -> Cluster:
    return view(
        [service("ns1", "svc1", CLUSTER_IP, [tcp("p80", 80, nodePort=30080)], **spec)],
        [endpoint_slice("ns1", "svc1", endpoints, [tcp("p80", 8080)])],
    )


def test_cluster_ip_spreads_evenly_and_keeps_pod_sources() -> None:
    cluster = web([ep("10.180.0.1"), ep("10.180.0.2"), ep("10.180.0.3")])
    result = outcome(config(), cluster, Packet(source=POD, destination=CLUSTER_IP, port=80))
    third = Fraction(1, 3)
    assert shares(result) == {
        "10.180.0.1:8080": (third, False),
        "10.180.0.2:8080": (third, False),
        "10.180.0.3:8080": (third, False),
    }


def test_off_cluster_source_to_cluster_ip_is_masqueraded() -> None:
    cluster = web([ep("10.180.0.1")])
    packet = Packet(source=EXTERNAL, destination=CLUSTER_IP, port=80)
    assert shares(outcome(config(), cluster, packet)) == {"10.180.0.1:8080": (Fraction(1), True)}


def test_masquerade_all_masquerades_pods_too() -> None:
    cluster = web([ep("10.180.0.1")])
    packet = Packet(source=POD, destination=CLUSTER_IP, port=80)
    result = outcome(config(masquerade_all=True), cluster, packet)
    assert shares(result) == {"10.180.0.1:8080": (Fraction(1), True)}


def test_hairpin_masquerades_only_the_connection_to_itself() -> None:
    cluster = web([ep("10.180.0.1"), ep("10.180.0.2")])
    packet = Packet(source="10.180.0.1", destination=CLUSTER_IP, port=80)
    assert shares(outcome(config(), cluster, packet)) == {
        "10.180.0.1:8080": (Fraction(1, 2), True),
        "10.180.0.2:8080": (Fraction(1, 2), False),
    }


def test_service_without_endpoints_rejects_at_every_frontend() -> None:
    cluster = view(
        [
            service(
                "ns1",
                "svc1",
                CLUSTER_IP,
                [tcp("p80", 80, nodePort=30080)],
                type="LoadBalancer",
                externalIPs=["192.168.99.11"],
                status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
            )
        ],
        [],
    )
    for destination, port in (
        (CLUSTER_IP, 80),
        ("192.168.99.11", 80),
        ("1.2.3.4", 80),
        (NODE_IP, 30080),
    ):
        for source in (POD, EXTERNAL):
            packet = Packet(source=source, destination=destination, port=port)
            assert isinstance(outcome(config(), cluster, packet), Rejected), packet


def test_internal_local_policy_uses_only_this_nodes_endpoints() -> None:
    cluster = web(
        [ep("10.180.0.1", NODE), ep("10.180.2.1", "node2")], internalTrafficPolicy="Local"
    )
    packet = Packet(source=POD, destination=CLUSTER_IP, port=80)
    assert shares(outcome(config(), cluster, packet)) == {"10.180.0.1:8080": (Fraction(1), False)}


def test_internal_local_policy_without_local_endpoints_drops() -> None:
    cluster = web([ep("10.180.2.1", "node2")], internalTrafficPolicy="Local")
    packet = Packet(source=POD, destination=CLUSTER_IP, port=80)
    assert isinstance(outcome(config(), cluster, packet), Dropped)


def local_lb() -> Cluster:
    return view(
        [
            service(
                "ns2",
                "svc2",
                "172.30.0.42",
                [tcp("p80", 80, nodePort=3001)],
                type="LoadBalancer",
                externalTrafficPolicy="Local",
                status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
            )
        ],
        [
            endpoint_slice(
                "ns2", "svc2", [ep("10.180.0.2", NODE), ep("10.180.2.2", "node2")], [tcp("p80", 80)]
            )
        ],
    )


def test_external_local_policy_keeps_client_ip_and_stays_on_node() -> None:
    for destination, port in (("1.2.3.4", 80), (NODE_IP, 3001)):
        packet = Packet(source=EXTERNAL, destination=destination, port=port)
        assert shares(outcome(config(), local_lb(), packet)) == {
            "10.180.0.2:80": (Fraction(1), False)
        }


def test_external_local_policy_from_a_pod_reaches_every_endpoint() -> None:
    packet = Packet(source=POD, destination="1.2.3.4", port=80)
    half = Fraction(1, 2)
    assert shares(outcome(config(), local_lb(), packet)) == {
        "10.180.0.2:80": (half, False),
        "10.180.2.2:80": (half, False),
    }


def test_external_local_policy_from_the_node_itself_is_masqueraded() -> None:
    packet = Packet(source=NODE_IP, destination="1.2.3.4", port=80, from_host=True)
    half = Fraction(1, 2)
    assert shares(outcome(config(), local_lb(), packet)) == {
        "10.180.0.2:80": (half, True),
        "10.180.2.2:80": (half, True),
    }


def test_external_local_policy_without_local_endpoints_drops_outside_traffic() -> None:
    packet = Packet(source=EXTERNAL, destination="1.2.3.4", port=80)
    assert isinstance(outcome(config(node_name="node3"), local_lb(), packet), Dropped)


def test_external_cluster_policy_masquerades() -> None:
    cluster = web([ep("10.180.0.1")], type="NodePort")
    packet = Packet(source=EXTERNAL, destination=NODE_IP, port=30080)
    assert shares(outcome(config(), cluster, packet)) == {"10.180.0.1:8080": (Fraction(1), True)}


def test_terminating_endpoints_are_a_fallback_only() -> None:
    ready = ep("10.180.0.1")
    terminating = ep("10.180.0.2", ready=False, serving=True, terminating=True)
    gone = ep("10.180.0.3", ready=False, serving=False, terminating=True)
    packet = Packet(source=POD, destination=CLUSTER_IP, port=80)
    assert set(shares(outcome(config(), web([ready, terminating, gone]), packet))) == {
        "10.180.0.1:8080"
    }
    assert set(shares(outcome(config(), web([terminating, gone]), packet))) == {"10.180.0.2:8080"}
    assert isinstance(outcome(config(), web([gone]), packet), Rejected)


def test_client_ip_affinity_sticks_within_the_timeout() -> None:
    cluster = web(
        [ep("10.180.0.1"), ep("10.180.0.2")],
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
    )
    packet = Packet(source=POD, destination=CLUSTER_IP, port=80)
    recent = Affinity(
        entries=(AffinityEntry(service="ns1/svc1:p80", backend="10.180.0.2:8080", age_seconds=59),)
    )
    stale = Affinity(
        entries=(AffinityEntry(service="ns1/svc1:p80", backend="10.180.0.2:8080", age_seconds=61),)
    )
    assert shares(outcome(config(), cluster, packet, recent)) == {
        "10.180.0.2:8080": (Fraction(1), False)
    }
    assert len(shares(outcome(config(), cluster, packet, stale))) == 2


def test_affinity_timeout_defaults_to_three_hours() -> None:
    cluster = web([ep("10.180.0.1"), ep("10.180.0.2")], sessionAffinity="ClientIP")
    assert cluster[0].service_port.affinity_timeout_seconds == 10800


def test_zone_hints_keep_traffic_in_zone_only_when_every_endpoint_has_one() -> None:
    def hinted(ip: str, zone: str) -> dict[str, object]:
        return {**ep(ip), "hints": {"forZones": [{"name": zone}]}}

    packet = Packet(source=POD, destination=CLUSTER_IP, port=80)
    both = web([hinted("10.180.0.1", "zone-a"), hinted("10.180.0.2", "zone-b")])
    assert set(shares(outcome(config(zone="zone-a"), both, packet))) == {"10.180.0.1:8080"}
    partial = web([hinted("10.180.0.1", "zone-a"), ep("10.180.0.2")])
    assert len(shares(outcome(config(zone="zone-a"), partial, packet))) == 2
    assert len(shares(outcome(config(zone="zone-c"), both, packet))) == 2


def test_node_hints_win_over_zone_hints() -> None:
    def hinted(ip: str, node: str) -> dict[str, object]:
        return {**ep(ip), "hints": {"forNodes": [{"name": node}], "forZones": [{"name": "z"}]}}

    cluster = web([hinted("10.180.0.1", NODE), hinted("10.180.0.2", "node2")])
    packet = Packet(source=POD, destination=CLUSTER_IP, port=80)
    assert set(shares(outcome(config(zone="z"), cluster, packet))) == {"10.180.0.1:8080"}


def test_load_balancer_source_ranges_admit_only_listed_clients() -> None:
    cluster = web(
        [ep("10.180.0.1")],
        type="LoadBalancer",
        loadBalancerSourceRanges=["203.0.113.0/25"],
        status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}},
    )
    allowed = Packet(source="203.0.113.2", destination="5.6.7.8", port=80)
    blocked = Packet(source="203.0.113.130", destination="5.6.7.8", port=80)
    through_node_port = Packet(source="203.0.113.130", destination=NODE_IP, port=30080)
    assert shares(outcome(config(), cluster, allowed)) == {"10.180.0.1:8080": (Fraction(1), True)}
    assert isinstance(outcome(config(), cluster, blocked), Dropped)
    assert isinstance(outcome(config(), cluster, through_node_port), Forwarded)


def test_proxy_mode_load_balancer_ips_are_not_frontends() -> None:
    cluster = web(
        [ep("10.180.0.1")],
        type="LoadBalancer",
        status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8", "ipMode": "Proxy"}]}},
    )
    assert isinstance(
        outcome(config(), cluster, Packet(source=EXTERNAL, destination="5.6.7.8", port=80)),
        Untouched,
    )


def test_undefined_port_of_a_cluster_ip_is_left_open_and_other_traffic_untouched() -> None:
    cluster = web([ep("10.180.0.1")])
    assert isinstance(
        outcome(config(), cluster, Packet(source=POD, destination=CLUSTER_IP, port=81)), Unspecified
    )
    assert isinstance(
        outcome(
            config(), cluster, Packet(source=POD, destination=CLUSTER_IP, port=80, protocol="UDP")
        ),
        Unspecified,
    )
    assert isinstance(
        outcome(config(), cluster, Packet(source=POD, destination="8.8.8.8", port=80)), Untouched
    )


def test_headless_external_name_and_foreign_proxy_services_are_not_proxied() -> None:
    services = [
        service("ns1", "headless", "None", [tcp("p80", 80)]),
        service("ns1", "name", "", [tcp("p80", 80)], type="ExternalName", externalName="x.example"),
        service(
            "ns1",
            "other",
            CLUSTER_IP,
            [tcp("p80", 80)],
            labels={"service.kubernetes.io/service-proxy-name": "x"},
        ),
    ]
    assert view(services, []) == ()
