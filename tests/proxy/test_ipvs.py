"""The IPVS interpreter (``spec/proxy/ipvs_eval.py``): reading ``ipvsadm-save -n`` and ``ipset
save`` text, IPVS scheduling semantics, and the ipvs mode's rules judged against the service
model with kube-proxy's documented departures (``spec/proxy/ipvs_mode.py``) over every packet
class: the same backends and the same probabilities."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings

from impl.proxy import ipvs
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.config import ProxyConfig
from models.proxy.packet import (
    NO_AFFINITY,
    Affinity,
    AffinityEntry,
    Dropped,
    Forwarded,
    Packet,
    Rejected,
    Untouched,
)
from models.proxy.view import ServicePortEndpoints, cluster_view
from spec.proxy.ipset_rules import IpSets, apply_ipset
from spec.proxy.iptables_eval import ensure_jumps
from spec.proxy.iptables_rules import RulesError, Ruleset, apply_restore
from spec.proxy.ipvs_eval import IpvsProxy, ipvs_proxy
from spec.proxy.ipvs_mode import DEPARTURES, departures_used, ipvs_expectation
from spec.proxy.ipvs_rules import IpvsTable, RealServer, apply_ipvsadm
from spec.proxy.judge import Difference, first_difference
from spec.proxy.walk import PacketState
from tests.proxy.builders import NODE, config, endpoint_slice, ep, service, tcp
from tests.proxy.strategies import services_and_slices
from tests.proxy.upstream import overall_cluster

Generated = tuple[list[Service], list[EndpointSlice]]

SAVED_IPVS = """\
-A -t 172.30.0.1:80 -s rr
-a -t 172.30.0.1:80 -r 10.180.0.1:8080 -m -w 1
-a -t 172.30.0.1:80 -r 10.180.0.2:8080 -m -w 1
-a -t 172.30.0.1:80 -r 10.180.0.3:8080 -m -w 0
-A -u 172.30.0.2:53 -s wrr -p 10800
-a -u 172.30.0.2:53 -r 10.180.0.4:53 -m -w 1
-a -u 172.30.0.2:53 -r 10.180.0.5:53 -m -w 3
-A -t 172.30.0.3:80 -s rr
"""
SAVED_IPSET = """\
create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment bucketsize 12
add KUBE-CLUSTER-IP 172.30.0.1,tcp:80 comment "Kubernetes service cluster ip + port"
add KUBE-CLUSTER-IP 172.30.0.2,udp:53 comment "Kubernetes service cluster ip + port"
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 comment
add KUBE-NODE-PORT-TCP 30000-30002
create KUBE-IPVS-IPS hash:ip family inet hashsize 1024 maxelem 65536 comment
add KUBE-IPVS-IPS 172.30.0.1
add KUBE-IPVS-IPS 172.30.0.2
add KUBE-IPVS-IPS 172.30.0.3
create KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536
add KUBE-LOAD-BALANCER-SOURCE-CIDR 1.2.3.4,tcp:80,203.0.113.0/25
"""


def packet(destination: str, port: int, protocol: str = "TCP", source: str = "10.0.0.9") -> Packet:
    return Packet(source=source, destination=destination, port=port, protocol=protocol)


def saved_proxy() -> IpvsProxy:
    return IpvsProxy(apply_ipvsadm({}, SAVED_IPVS), apply_ipset({}, SAVED_IPSET), {}, config())


def test_ipvsadm_save_is_read_with_schedulers_persistence_and_weights() -> None:
    table = apply_ipvsadm({}, SAVED_IPVS)
    dns = table[("udp", "172.30.0.2", 53)]
    assert (dns.scheduler, dns.persistence_seconds) == ("wrr", 10800)
    assert dns.reals == (
        RealServer(address="10.180.0.4", port=53, weight=1),
        RealServer(address="10.180.0.5", port=53, weight=3),
    )
    edited = apply_ipvsadm(table, "-e -u 172.30.0.2:53 -r 10.180.0.5:53 -m -w 1\n")
    assert [r.weight for r in edited[("udp", "172.30.0.2", 53)].reals] == [1, 1]
    deleted = apply_ipvsadm(table, "-D -t 172.30.0.1:80\n-d -u 172.30.0.2:53 -r 10.180.0.4:53\n")
    assert ("tcp", "172.30.0.1", 80) not in deleted
    assert [r.port for r in deleted[("udp", "172.30.0.2", 53)].reals] == [53]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-A -f 7 -s rr", "firewall-mark virtual services are not interpreted"),
        ("-a -t 172.30.0.1:80 -r 10.0.0.1:80 -g -w 1", "forwarding method -g is not interpreted"),
        ("-A -t 172.30.0.9:80 -s rr -p 60 -M 255.255.255.0", "netmask other than /32"),
        ("-a -t 172.30.0.9:80 -r 10.0.0.1:80 -m", "virtual service tcp 172.30.0.9:80 does not"),
        ("-A -t 172.30.0.1:99999 -s rr", "is not an IPv4 address:port"),
    ],
)
def test_ipvsadm_lines_outside_the_subset_are_refused(line: str, message: str) -> None:
    with pytest.raises(RulesError) as error:
        apply_ipvsadm({}, f"# saved\n{line}\n")
    assert error.value.line == 2
    assert message in error.value.message


def test_ipset_membership_follows_the_set_type_and_the_match_flags() -> None:
    sets = apply_ipset({}, SAVED_IPSET)
    tcp80 = PacketState(source="10.0.0.9", destination="172.30.0.1", port=80, protocol="tcp")
    udp80 = PacketState(source="10.0.0.9", destination="172.30.0.1", port=80, protocol="udp")
    assert sets["KUBE-CLUSTER-IP"].contains(tcp80, "dst,dst")
    assert not sets["KUBE-CLUSTER-IP"].contains(udp80, "dst,dst")
    node_port = PacketState(source="1.1.1.1", destination="192.168.0.2", port=30001, protocol="udp")
    assert sets["KUBE-NODE-PORT-TCP"].contains(node_port, "dst")
    lb = PacketState(source="203.0.113.100", destination="1.2.3.4", port=80, protocol="tcp")
    outside = PacketState(source="203.0.113.200", destination="1.2.3.4", port=80, protocol="tcp")
    assert sets["KUBE-LOAD-BALANCER-SOURCE-CIDR"].contains(lb, "dst,dst,src")
    assert not sets["KUBE-LOAD-BALANCER-SOURCE-CIDR"].contains(outside, "dst,dst,src")
    flushed = apply_ipset(sets, "flush KUBE-IPVS-IPS\n")
    assert flushed["KUBE-IPVS-IPS"].members == frozenset()
    with pytest.raises(RulesError, match="set type list:set is not interpreted"):
        apply_ipset({}, "create X list:set\n")


def test_rr_spreads_evenly_over_real_servers_of_positive_weight() -> None:
    result = saved_proxy().outcome(packet("172.30.0.1", 80), {})
    assert isinstance(result, Forwarded)
    assert {s.backend: s.probability for s in result.shares} == {
        "10.180.0.1:8080": Fraction(1, 2),
        "10.180.0.2:8080": Fraction(1, 2),
    }


def test_wrr_follows_weights_and_persistence_sticks_within_its_timeout() -> None:
    proxy = saved_proxy()
    fresh = proxy.outcome(packet("172.30.0.2", 53, "UDP"), {})
    assert isinstance(fresh, Forwarded)
    assert {s.backend: s.probability for s in fresh.shares} == {
        "10.180.0.4:53": Fraction(1, 4),
        "10.180.0.5:53": Fraction(3, 4),
    }
    sticky = proxy.outcome(packet("172.30.0.2", 53, "UDP"), {"10.180.0.4:53": 10800})
    assert isinstance(sticky, Forwarded)
    assert [s.backend for s in sticky.shares] == ["10.180.0.4:53"]
    expired = proxy.outcome(packet("172.30.0.2", 53, "UDP"), {"10.180.0.4:53": 10801})
    assert expired == fresh


def test_no_real_server_rejects_and_other_traffic_passes() -> None:
    proxy = saved_proxy()
    assert proxy.outcome(packet("172.30.0.3", 80), {}) == Rejected()
    assert proxy.outcome(packet("8.8.8.8", 80), {}) == Untouched()


def test_a_scheduler_outside_the_subset_is_refused_with_its_line() -> None:
    table = apply_ipvsadm({}, "-A -t 172.30.0.1:80 -s lc\n")
    with pytest.raises(RulesError) as error:
        IpvsProxy(table, {}, {}, config())
    assert (error.value.line, "scheduler lc" in error.value.message) == (1, True)


def test_a_set_match_needs_its_set() -> None:
    rules = apply_restore({}, "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m set "
                          "--match-set KUBE-NOPE dst,dst -j ACCEPT\nCOMMIT\n")  # fmt: skip
    with pytest.raises(RulesError, match="line 3: ipset KUBE-NOPE is not given"):
        IpvsProxy({}, {}, rules, config())


def parts(
    node: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> tuple[IpvsTable, IpSets, Ruleset]:
    """The machine's ipvs commands of one full sync, applied to empty kernel state."""
    rendered = ipvs.render(node, cluster, {})
    rules = apply_restore(ensure_jumps({}, ipvs.JUMP_RULES), rendered.iptables)
    return apply_ipvsadm({}, rendered.ipvsadm), apply_ipset({}, rendered.ipset), rules


def kernel(node: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]) -> IpvsProxy:
    return IpvsProxy(*parts(node, cluster), node)


def judge(node: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]) -> Difference | None:
    proxy = ipvs_proxy(*parts(node, cluster), node, cluster)
    return first_difference(node, cluster, proxy, ipvs_expectation(node, cluster))


@settings(max_examples=40, deadline=None)
@given(services_and_slices())
def test_ipvs_rules_implement_the_model_with_the_ipvs_departures(objects: Generated) -> None:
    node = config()
    assert judge(node, cluster_view(*objects)) is None


def test_upstream_cluster_ipvs_rules_implement_the_model_with_the_ipvs_departures() -> None:
    node = config(service_cidrs=("172.30.0.0/16",))
    assert judge(node, overall_cluster()) is None


DEPARTING = (
    # Local external policy, endpoints here and on node2; a hairpin-prone remote endpoint.
    service("ns", "local", "172.30.0.1", [tcp("p", 80, nodePort=30001)], type="LoadBalancer",
            externalTrafficPolicy="Local", loadBalancerSourceRanges=["203.0.113.0/25"],
            status={"loadBalancer": {"ingress": [{"ip": "1.2.3.1"}]}},
            externalIPs=["192.168.99.1"]),
    # Local internal policy with endpoints only elsewhere, no external frontend.
    service("ns", "elsewhere", "172.30.0.2", [tcp("p", 80)], internalTrafficPolicy="Local"),
    # Cluster policy whose only endpoint is a pod on node2 (hairpin through this node).
    service("ns", "remote", "172.30.0.3", [tcp("p", 80, nodePort=30003)], type="NodePort"),
)  # fmt: skip
DEPARTING_SLICES = (
    endpoint_slice("ns", "local", [ep("10.180.0.1", NODE), ep("10.180.0.2", "node2")],
                   [tcp("p", 8080)]),
    endpoint_slice("ns", "elsewhere", [ep("10.180.0.3", "node2")], [tcp("p", 8080)]),
    endpoint_slice("ns", "remote", [ep("10.180.0.4", "node2")], [tcp("p", 8080)]),
)  # fmt: skip


def test_every_documented_departure_arises_and_only_those() -> None:
    node = config()
    cluster = cluster_view(list(DEPARTING), list(DEPARTING_SLICES))
    assert judge(node, cluster) is None
    assert set(departures_used(node, cluster)) == set(DEPARTURES)


def test_departures_are_real_differences_from_the_model() -> None:
    node = config()
    cluster = cluster_view(list(DEPARTING), list(DEPARTING_SLICES))
    proxy = ipvs_proxy(*parts(node, cluster), node, cluster)
    assert first_difference(node, cluster, proxy) is not None
    hairpin = kernel(node, cluster).outcome(
        Packet(source="10.180.0.4", destination="172.30.0.3", port=80, protocol="TCP"), {}
    )
    assert isinstance(hairpin, Forwarded)
    assert [(s.backend, s.masquerade) for s in hairpin.shares] == [("10.180.0.4:8080", False)]
    elsewhere = kernel(node, cluster).outcome(packet("172.30.0.2", 80), {})
    assert elsewhere == Rejected()


def test_affinity_memory_becomes_the_persistence_template() -> None:
    node = config()
    sticky = service("ns", "s", "172.30.0.5", [tcp("p", 80)], sessionAffinity="ClientIP",
                     sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})  # fmt: skip
    slices = [endpoint_slice("ns", "s", [ep("10.180.0.6"), ep("10.180.0.7")], [tcp("p", 8080)])]
    cluster = cluster_view([sticky], slices)
    proxy = ipvs_proxy(*parts(node, cluster), node, cluster)
    memory = Affinity(
        entries=(AffinityEntry(service=cluster[0].service_port.name, backend="10.180.0.7:8080",
                               age_seconds=60),)
    )  # fmt: skip
    sent = packet("172.30.0.5", 80)
    assert isinstance(proxy(sent, NO_AFFINITY), Forwarded)
    remembered = proxy(sent, memory)
    assert isinstance(remembered, Forwarded)
    assert [s.backend for s in remembered.shares] == ["10.180.0.7:8080"]


def test_a_load_balancer_admits_the_node_through_its_own_ip_when_the_ranges_hold_the_node() -> None:
    node = config()
    lb = service("ns", "lb", "172.30.0.6", [tcp("p", 80, nodePort=30006)], type="LoadBalancer",
                 loadBalancerSourceRanges=["192.168.0.0/24"],
                 status={"loadBalancer": {"ingress": [{"ip": "1.2.3.6"}]}})  # fmt: skip
    slices = [endpoint_slice("ns", "lb", [ep("10.180.0.6", "node2")], [tcp("p", 8080)])]
    cluster = cluster_view([lb], slices)
    assert judge(node, cluster) is None
    built = kernel(node, cluster)
    from_itself = built.outcome(packet("1.2.3.6", 80, source="1.2.3.6"), {})
    assert isinstance(from_itself, Forwarded)
    assert built.outcome(packet("1.2.3.6", 80, source="203.0.113.2"), {}) == Dropped()


def test_ipvs_and_physdev_matches_follow_the_packet() -> None:
    rules = apply_restore(
        {},
        """*filter
:OUTPUT ACCEPT [0:0]
-A OUTPUT -s 1.2.3.4/32 -m ipvs --vaddr 1.2.3.4/32 --vport 80 --vproto 6 -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -m physdev --physdev-is-in -j DROP
COMMIT
""",
    )
    table = apply_ipvsadm({}, "-A -t 1.2.3.4:80 -s rr\n-a -t 1.2.3.4:80 -r 10.180.0.1:80 -m -w 1\n")
    proxy = IpvsProxy(table, {}, rules, config(local_addresses=("192.168.0.2", "1.2.3.4")))
    own = Packet(source="1.2.3.4", destination="1.2.3.4", port=80, protocol="TCP", from_host=True)
    assert proxy.outcome(own, {}) == Dropped()
    other = Packet(source="192.168.0.2", destination="1.2.3.4", port=80, protocol="TCP",
                   from_host=True)  # fmt: skip
    assert isinstance(proxy.outcome(other, {}), Forwarded)
    # No packet of the model is bridged, so --physdev-is-in never matches.
    assert isinstance(proxy.outcome(packet("1.2.3.4", 80), {}), Forwarded)
