"""The iptables interpreter, and the generated iptables rules judged against the service model
over every packet class."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings

from impl.proxy.iptables import JUMP_RULES, render
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.config import ProxyConfig
from models.proxy.packet import Forwarded, Packet, Rejected
from models.proxy.view import ServicePortEndpoints, cluster_view
from spec.proxy.iptables_eval import IptablesProxy, ensure_jumps, iptables_proxy
from spec.proxy.iptables_rules import RulesError, Ruleset, apply_restore, parse_save
from spec.proxy.judge import first_difference
from tests.proxy.builders import config, endpoint_slice, ep, service, tcp
from tests.proxy.strategies import services_and_slices
from tests.proxy.upstream import DATA, overall_cluster

Generated = tuple[list[Service], list[EndpointSlice]]


def kernel(node: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]) -> Ruleset:
    """What the kernel holds after one full sync: the jumps, then the restore input."""
    return apply_restore(ensure_jumps({}, JUMP_RULES), render(node, cluster).restore)


def test_three_endpoints_multiply_out_to_thirds_within_print_precision() -> None:
    services = [service("ns", "s", "172.30.0.1", [tcp("p", 80)])]
    slices = [endpoint_slice("ns", "s", [ep(f"10.180.0.{i}") for i in (1, 2, 3)], [tcp("p", 80)])]
    node = config()
    proxy = IptablesProxy(kernel(node, cluster_view(services, slices)), node)
    result = proxy.outcome(Packet(source="10.0.0.9", destination="172.30.0.1", port=80), {})
    assert isinstance(result, Forwarded)
    chances = {s.backend: s.probability for s in result.shares}
    # 0.3333333333, then 0.5000000000 of the rest, then the rest.
    assert chances["10.180.0.1:80"] == Fraction("0.3333333333")
    assert chances["10.180.0.2:80"] == (1 - Fraction("0.3333333333")) / 2
    assert sum(chances.values()) == 1


def test_upstream_cluster_rules_implement_the_model() -> None:
    node = config(localhost_node_ports=True, nfacct=True, random_fully=False)
    cluster = overall_cluster()
    assert (
        first_difference(node, cluster, iptables_proxy(kernel(node, cluster), node, cluster))
        is None
    )


@settings(max_examples=40, deadline=None)
@given(services_and_slices())
def test_generated_rules_implement_the_model(generated: Generated) -> None:
    for node in (config(zone="zone-a"), config(masquerade_all=True), config(node_name="node2")):
        cluster = cluster_view(*generated)
        difference = first_difference(
            node, cluster, iptables_proxy(kernel(node, cluster), node, cluster)
        )
        assert difference is None, difference


def test_a_service_without_endpoints_is_rejected_by_the_filter_table() -> None:
    services = [service("ns", "s", "172.30.0.1", [tcp("p", 80)])]
    node = config()
    proxy = IptablesProxy(kernel(node, cluster_view(services, [])), node)
    assert isinstance(
        proxy.outcome(Packet(source="10.0.0.9", destination="172.30.0.1", port=80), {}), Rejected
    )


def test_iptables_save_output_reads_back() -> None:
    proxy = IptablesProxy(parse_save((DATA / "saved_affinity_iptables.txt").read_text()), config())
    packet = Packet(source="10.0.0.9", destination="172.30.0.1", port=80)
    remembered = proxy.outcome(packet, {"10.180.0.1:80": 5})
    assert isinstance(remembered, Forwarded)
    assert remembered.shares[0].probability == 1
    fresh = proxy.outcome(packet, {})
    assert isinstance(fresh, Forwarded)
    assert {s.backend for s in fresh.shares} == {"10.180.0.1:80", "(untouched)"}


def test_rules_outside_the_subset_are_refused_with_their_line() -> None:
    with pytest.raises(RulesError, match="line 3"):
        parse_save(
            "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m owner --uid-owner 0 -j ACCEPT\nCOMMIT\n"
        )
