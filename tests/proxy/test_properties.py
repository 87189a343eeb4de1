"""The service model satisfies its own named properties, each companion shows up, and the
judge catches a proxy that departs from the model."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings

from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.packet import Affinity, Forwarded, Outcome, Packet, share
from models.proxy.view import cluster_view
from spec.proxy.judge import first_difference, packet_classes
from spec.proxy.model import outcome
from spec.proxy.properties import COMPANIONS, SAFETY, Observation
from tests.proxy.builders import config, endpoint_slice, ep, service, tcp
from tests.proxy.strategies import services_and_slices

Generated = tuple[list[Service], list[EndpointSlice]]


def observations(generated: Generated, zone: str = "zone-a") -> list[Observation]:
    node = config(zone=zone)
    cluster = cluster_view(*generated)
    return [
        Observation(
            config=node,
            cluster=cluster,
            packet=item.packet,
            affinity=item.affinity,
            outcome=outcome(node, cluster, item.packet, item.affinity),
        )
        for item in packet_classes(node, cluster)
    ]


@settings(max_examples=60, deadline=None)
@given(services_and_slices())
def test_the_model_keeps_every_safety_property(generated: Generated) -> None:
    for observation in observations(generated):
        for prop in SAFETY:
            assert prop.holds(observation), (prop.name, observation.packet)


def test_every_companion_arises_in_a_fixed_cluster() -> None:
    services = [
        service("ns", "web", "172.30.0.1", [tcp("p80", 80)], sessionAffinity="ClientIP"),
        service("ns", "empty", "172.30.0.2", [tcp("p80", 80)]),
        service(
            "ns",
            "local",
            "172.30.0.3",
            [tcp("p80", 80, nodePort=30003)],
            type="NodePort",
            externalTrafficPolicy="Local",
        ),
        service("ns", "draining", "172.30.0.4", [tcp("p80", 80)]),
    ]
    slices = [
        endpoint_slice("ns", "web", [ep("10.180.0.1"), ep("10.180.0.2")], [tcp("p80", 80)]),
        endpoint_slice("ns", "local", [ep("10.180.0.3", "test-node")], [tcp("p80", 80)]),
        endpoint_slice(
            "ns",
            "draining",
            [ep("10.180.0.4", ready=False, serving=True, terminating=True)],
            [tcp("p80", 80)],
        ),
    ]
    seen = observations((services, slices))
    missing = [p.name for p in COMPANIONS if not any(p.holds(o) for o in seen)]
    assert missing == []


def test_the_model_judged_against_itself_has_no_difference() -> None:
    services = [
        service("ns", "web", "172.30.0.1", [tcp("p80", 80, nodePort=30001)], type="NodePort")
    ]
    slices = [endpoint_slice("ns", "web", [ep("10.180.0.1"), ep("10.180.0.2")], [tcp("p80", 80)])]
    node, cluster = config(), cluster_view(services, slices)

    def model(packet: Packet, affinity: Affinity) -> Outcome:
        return outcome(node, cluster, packet, affinity)

    assert first_difference(node, cluster, model) is None


def test_the_judge_names_a_proxy_that_forgets_to_masquerade() -> None:
    services = [
        service("ns", "web", "172.30.0.1", [tcp("p80", 80, nodePort=30001)], type="NodePort")
    ]
    slices = [endpoint_slice("ns", "web", [ep("10.180.0.1")], [tcp("p80", 80)])]
    node, cluster = config(), cluster_view(services, slices)

    def forgetful(packet: Packet, affinity: Affinity) -> Outcome:
        result = outcome(node, cluster, packet, affinity)
        if isinstance(result, Forwarded):
            return Forwarded(
                shares=tuple(
                    share(s.backend, s.probability, masquerade=False) for s in result.shares
                )
            )
        return result

    difference = first_difference(node, cluster, forgetful)
    assert difference is not None
    assert difference.actual != difference.expected
    assert "the model masquerades it" in difference.reason


def test_the_judge_names_a_skewed_probability() -> None:
    services = [service("ns", "web", "172.30.0.1", [tcp("p80", 80)])]
    slices = [endpoint_slice("ns", "web", [ep("10.180.0.1"), ep("10.180.0.2")], [tcp("p80", 80)])]
    node, cluster = config(), cluster_view(services, slices)

    def skewed(packet: Packet, affinity: Affinity) -> Outcome:
        result = outcome(node, cluster, packet, affinity)
        if isinstance(result, Forwarded) and len(result.shares) == 2:
            first, second = result.shares
            return Forwarded(
                shares=(
                    share(first.backend, Fraction(6, 10), masquerade=first.masquerade),
                    share(second.backend, Fraction(4, 10), masquerade=second.masquerade),
                )
            )
        return result

    difference = first_difference(node, cluster, skewed)
    assert difference is not None
    assert "0.6000000000" in difference.reason
