"""Where kube-proxy v1.35's ipvs mode departs from the service model, and what it does there.

Facts (read from ``pkg/proxy/ipvs/proxier.go``, ``syncProxyRules``/``syncEndpoint``/
``writeIptablesRules``, and Linux IPVS behaviour; see docs/proxy.md):

- One real-server list per virtual server, whoever the client: with a Local policy it is this
  node's endpoints, or, when the node has none, the Cluster-policy endpoints (kubernetes#97081:
  "allow access from local pods even if no local endpoints exist"); kube-proxy computes those
  only when the port uses them (internal policy Cluster, or any external frontend), else the
  list is empty and IPVS rejects.
- The masquerade mark comes from the ipsets: cluster IPs from outside the pod CIDRs (or all,
  with ``--masquerade-all``), external and load-balancer IPs and NodePorts with Cluster
  external policy; hairpin connections are masqueraded through ``KUBE-LOOP-BACK``, which lists
  only this node's endpoints.
- Service addresses other than the node's are bound to ``kube-ipvs0``, so a new connection to
  an external or load-balancer IP on a port no Service uses is rejected (``KUBE-IPVS-FILTER``).
- ``loadBalancerSourceRanges`` are enforced in filter INPUT, which the node's own connections
  to a load-balancer IP do not pass before IPVS takes them (kube-proxy's ``KUBE-IPVS-OUT-
  FILTER`` drops only connections whose source is the load-balancer IP itself).

``expected(config, cluster, packet, affinity)`` is the model's outcome, replaced by the ipvs
mode's where they differ, with the names of the departures that apply (``DEPARTURES``).
"""

from __future__ import annotations

from typing import Final

from models.proxy.config import ProxyConfig, is_local, is_pod_source
from models.proxy.packet import (
    NO_AFFINITY,
    Affinity,
    Dropped,
    Outcome,
    Packet,
    Rejected,
    Unspecified,
)
from models.proxy.view import EndpointView, ServicePortEndpoints, ServicePortView
from spec.proxy.judge import Expectation, disagreement, packet_classes
from spec.proxy.model import (
    Frontend,
    cluster_candidates,
    find_frontend,
    local_candidates,
    outcome,
    source_admitted,
    spread,
    usable,
)

DEPARTURES: Final = {
    "local-policy-falls-back-to-cluster": "a Local policy with no endpoint on this node uses the "
    "Cluster-policy endpoints (none unless the port uses them: then rejected), not dropped",
    "local-policy-for-every-source": "an external Local frontend sends pods and the node to "
    "this node's endpoints only, source kept",
    "hairpin-masquerade-local-only": "a hairpin connection is masqueraded only when the "
    "endpoint is on this node",
    "bound-address-rejects-other-ports": "a new connection to an external or load-balancer IP "
    "on a port no Service uses is rejected",
    "node-bypasses-source-ranges": "the node's own connections to a load-balancer IP are not "
    "filtered by loadBalancerSourceRanges",
}


def _uses_cluster(port: ServicePortView) -> bool:
    return not port.internal_local or port.externally_reachable


def _real_servers(
    config: ProxyConfig, port: ServicePortView, endpoints: tuple[EndpointView, ...], local: bool
) -> tuple[tuple[EndpointView, ...], bool]:
    """The real servers of a virtual server with policy Local (``local``) or Cluster, and
    whether the Local policy fell back to the Cluster endpoints."""
    cluster = cluster_candidates(config, endpoints) if _uses_cluster(port) else ()
    if not local:
        return cluster, False
    mine = local_candidates(config, endpoints)
    return (mine, False) if mine else (cluster, bool(usable(endpoints)))


def _marked(config: ProxyConfig, frontend: Frontend, packet: Packet) -> bool:
    port = frontend.entry.service_port
    if frontend.kind == "internal":
        return config.masquerade_all or (
            bool(config.cluster_cidrs) and not is_pod_source(config, packet.source)
        )
    return not port.external_local


def _bound(config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...], address: str) -> bool:
    return not is_local(config, address) and any(
        address in (*e.service_port.external_ips, *e.service_port.load_balancer_ips)
        for e in cluster
    )


def _ipvs_outcome(
    config: ProxyConfig, frontend: Frontend, packet: Packet, affinity: Affinity
) -> tuple[Outcome, list[str]]:
    port, endpoints = frontend.entry.service_port, frontend.entry.endpoints
    names: list[str] = []
    if frontend.kind == "load-balancer" and not source_admitted(config, port, packet):
        if not packet.from_host:
            return Dropped(), names
        names.append("node-bypasses-source-ranges")
    local = port.internal_local if frontend.kind == "internal" else port.external_local
    servers, fell_back = _real_servers(config, port, endpoints, local)
    if fell_back:
        names.append("local-policy-falls-back-to-cluster")
    elif local and frontend.kind != "internal":
        source_inside = is_pod_source(config, packet.source) or is_local(config, packet.source)
        if source_inside and usable(endpoints):
            names.append("local-policy-for-every-source")
    if not servers:
        return Rejected(), names
    marked = _marked(config, frontend, packet)
    result = spread(
        port, servers, packet, affinity, masquerade=marked, hairpin_only_on=config.node_name
    )
    if result != spread(port, servers, packet, affinity, masquerade=marked):
        names.append("hairpin-masquerade-local-only")
    return result, names


def expected(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    packet: Packet,
    affinity: Affinity = NO_AFFINITY,
) -> tuple[Outcome, tuple[str, ...]]:
    """What kube-proxy's ipvs mode does with ``packet``: the model's outcome unless a
    departure applies and changes it; the names of the departures that changed it."""
    model = outcome(config, cluster, packet, affinity)
    frontend = find_frontend(config, cluster, packet)
    if frontend is None:
        if _bound(config, cluster, packet.destination):
            return Rejected(), ("bound-address-rejects-other-ports",)
        return model, ()
    if isinstance(frontend, Unspecified) or isinstance(model, Unspecified):
        return model, ()
    ipvs, names = _ipvs_outcome(config, frontend, packet, affinity)
    if disagreement(model, ipvs) is None:
        return model, ()
    return ipvs, tuple(names)


def ipvs_expectation(config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]) -> Expectation:
    """``expected`` for the judge (``first_difference``)."""

    def run(packet: Packet, affinity: Affinity) -> tuple[Outcome, tuple[str, ...]]:
        return expected(config, cluster, packet, affinity)

    return run


def departures_used(
    config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> dict[str, int]:
    """How many packet classes of ``cluster`` each departure decides."""
    counts: dict[str, int] = {}
    for item in packet_classes(config, cluster):
        for name in expected(config, cluster, item.packet, item.affinity)[1]:
            counts[name] = counts.get(name, 0) + 1
    return counts
