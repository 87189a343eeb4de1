"""The service model: what a Service promises for one packet arriving at one node.

Written from the Kubernetes documentation of the Service and EndpointSlice APIs (``Service``,
``Virtual IPs and Service Proxies``, ``Topology Aware Routing``, ``EndpointSlices``,
``Service Traffic Policy``, ``kube-proxy`` command line reference), not from kube-proxy's
code. ``outcome(config, cluster, packet, affinity)`` says what becomes of the first packet of a
connection:

1. **Frontends.** A Service port is reached at its cluster IP (internal traffic), at its
   ``externalIPs`` and load-balancer ingress IPs, and at its ``nodePort`` on the node addresses
   that accept NodePorts (external traffic). Any other port of a cluster IP is left open by the
   API; any other destination is not service traffic.
2. **Usable endpoints.** Endpoints whose condition ``ready`` is true; when there are none,
   endpoints that are ``serving`` and ``terminating`` (the terminating fallback). With
   topology hints, traffic stays on endpoints hinted for this node (``forNodes``) or else this
   node's zone (``forZones``), but only when every ready endpoint carries such a hint and at
   least one names this node or zone.
3. **Traffic policies.** ``internalTrafficPolicy: Local`` (cluster IP) and
   ``externalTrafficPolicy: Local`` (external addresses) use only endpoints on this node
   (ready, else serving and terminating). With Local external policy, traffic from pods and
   from the node itself is treated as if it came from inside the cluster.
4. **No endpoints.** A Service with no usable endpoint anywhere rejects connections at every
   frontend; a Local policy with no endpoint on this node drops them. (A host process's
   connection to an external or load-balancer address that is not the node's own leaves the
   node; the API does not say who rejects it, and kube-proxy's modes differ.)
5. **Load balancing.** Each candidate endpoint is equally likely. With
   ``sessionAffinity: ClientIP``, a client whose last connection (within
   ``timeoutSeconds``) went to a candidate goes there again.
6. **Source addresses.** The client's address is kept for pod traffic and for Local external
   policy; external traffic with Cluster policy, traffic to a cluster IP from outside the pod
   CIDRs (``--cluster-cidr``) and everything under ``--masquerade-all`` is masqueraded. A
   connection that a pod makes to itself through a Service (hairpin) is masqueraded.
7. ``loadBalancerSourceRanges`` admits to load-balancer IPs only clients inside the ranges
   (a client outside them, of a Service without endpoints, is refused: dropped or rejected).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import msgspec

from models.proxy.config import ProxyConfig, accepts_node_port, in_any, is_local, is_pod_source
from models.proxy.packet import (
    NO_AFFINITY,
    Affinity,
    Dropped,
    Outcome,
    Packet,
    Rejected,
    Unspecified,
    Untouched,
    forwarded,
)
from models.proxy.view import EndpointView, ServicePortEndpoints, ServicePortView


class Frontend(msgspec.Struct, frozen=True, kw_only=True):
    """How a packet reached a service port: ``internal`` (cluster IP), ``external`` (external
    IP or NodePort) or ``load-balancer`` (ingress IP)."""

    entry: ServicePortEndpoints
    kind: str


def find_frontend(
    config: ProxyConfig, cluster: Iterable[ServicePortEndpoints], packet: Packet
) -> Frontend | Unspecified | None:
    """The service port ``packet`` is addressed to; ``Unspecified`` for an undefined port of a
    cluster IP; ``None`` when it is not service traffic."""
    cluster_ip_seen = False
    node_port_match: ServicePortEndpoints | None = None
    for entry in cluster:
        port = entry.service_port
        same_protocol = port.protocol == packet.protocol
        if packet.destination == port.cluster_ip:
            cluster_ip_seen = True
            if same_protocol and packet.port == port.port:
                return Frontend(entry=entry, kind="internal")
        if same_protocol and packet.port == port.port:
            if packet.destination in port.external_ips:
                return Frontend(entry=entry, kind="external")
            if packet.destination in port.load_balancer_ips:
                return Frontend(entry=entry, kind="load-balancer")
        if same_protocol and port.node_port == packet.port and node_port_match is None:
            node_port_match = entry
    if node_port_match is not None:
        if accepts_node_port(config, packet.destination):
            return Frontend(entry=node_port_match, kind="external")
        if is_local(config, packet.destination):
            return Unspecified()
    if cluster_ip_seen or in_any(packet.destination, config.service_cidrs):
        return Unspecified()
    return None


def usable(endpoints: Iterable[EndpointView]) -> tuple[EndpointView, ...]:
    """Ready endpoints, else the serving and terminating ones."""
    listed = tuple(endpoints)
    ready = tuple(e for e in listed if e.ready)
    return ready or tuple(e for e in listed if e.serving and e.terminating)


def _topology_filter(
    config: ProxyConfig, endpoints: tuple[EndpointView, ...]
) -> tuple[EndpointView, ...]:
    ready = tuple(e for e in endpoints if e.ready)
    if ready and all(e.node_hints for e in ready):
        same_node = tuple(e for e in ready if config.node_name in e.node_hints)
        if same_node:
            return same_node
    if ready and all(e.zone_hints for e in ready) and config.zone:
        same_zone = tuple(e for e in ready if config.zone in e.zone_hints)
        if same_zone:
            return same_zone
    return ready


def cluster_candidates(
    config: ProxyConfig, endpoints: tuple[EndpointView, ...]
) -> tuple[EndpointView, ...]:
    """Endpoints for Cluster policy: ready ones (narrowed by topology hints), else serving and
    terminating ones anywhere."""
    return _topology_filter(config, endpoints) or usable(endpoints)


def local_candidates(
    config: ProxyConfig, endpoints: tuple[EndpointView, ...]
) -> tuple[EndpointView, ...]:
    """Endpoints for Local policy: this node's ready ones, else its serving and terminating
    ones."""
    return usable(e for e in endpoints if e.node_name == config.node_name)


def spread(
    port: ServicePortView,
    candidates: tuple[EndpointView, ...],
    packet: Packet,
    affinity: Affinity,
    *,
    masquerade: bool,
    hairpin_only_on: str | None = None,
) -> Outcome:
    """Each candidate equally likely (or the one a live affinity names); the source is
    masqueraded when ``masquerade`` or the backend is the client itself (hairpin; with
    ``hairpin_only_on``, only when that endpoint is on that node)."""
    by_address = {e.address: e for e in candidates}
    chosen = tuple(e.address for e in candidates)
    if port.affinity_timeout_seconds is not None:
        live = [
            b for b in affinity.live(port.name, port.affinity_timeout_seconds) if b in by_address
        ]
        if live:
            chosen = (live[0],)
    shares: dict[tuple[str, bool], Fraction] = {}
    for backend in chosen:
        hairpin = backend.rsplit(":", 1)[0] == packet.source and (
            hairpin_only_on is None or by_address[backend].node_name == hairpin_only_on
        )
        key = (backend, masquerade or hairpin)
        shares[key] = shares.get(key, Fraction(0)) + Fraction(1, len(chosen))
    return forwarded(shares)


def _internal(
    config: ProxyConfig, entry: ServicePortEndpoints, packet: Packet, affinity: Affinity
) -> Outcome:
    port, endpoints = entry.service_port, entry.endpoints
    if port.internal_local:
        candidates = local_candidates(config, endpoints)
        if not candidates:
            return Dropped() if usable(endpoints) else Rejected()
    else:
        candidates = cluster_candidates(config, endpoints)
        if not candidates:
            return Rejected()
    masquerade = config.masquerade_all or (
        bool(config.cluster_cidrs) and not is_pod_source(config, packet.source)
    )
    return spread(port, candidates, packet, affinity, masquerade=masquerade)


def source_admitted(config: ProxyConfig, port: ServicePortView, packet: Packet) -> bool:
    if not port.source_ranges or in_any(packet.source, port.source_ranges):
        return True
    node_admitted = in_any(config.primary_address, port.source_ranges)
    return node_admitted and packet.source in port.load_balancer_ips


def _external(
    config: ProxyConfig, frontend: Frontend, packet: Packet, affinity: Affinity
) -> Outcome:
    port, endpoints = frontend.entry.service_port, frontend.entry.endpoints
    if not usable(endpoints):
        leaving = packet.from_host and not is_local(config, packet.destination)
        if leaving:
            return Unspecified()
        if frontend.kind == "load-balancer" and not source_admitted(config, port, packet):
            return Unspecified(allowed=("rejected", "dropped"))
        return Rejected()
    if frontend.kind == "load-balancer" and not source_admitted(config, port, packet):
        return Dropped()
    if not port.external_local:
        candidates = cluster_candidates(config, endpoints)
        return spread(port, candidates, packet, affinity, masquerade=True)
    if is_pod_source(config, packet.source):
        candidates = cluster_candidates(config, endpoints)
        return spread(port, candidates, packet, affinity, masquerade=False)
    if is_local(config, packet.source):
        candidates = cluster_candidates(config, endpoints)
        return spread(port, candidates, packet, affinity, masquerade=True)
    candidates = local_candidates(config, endpoints)
    if not candidates:
        return Dropped()
    return spread(port, candidates, packet, affinity, masquerade=False)


def outcome(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    packet: Packet,
    affinity: Affinity = NO_AFFINITY,
) -> Outcome:
    """What the Service API promises for ``packet`` at the node ``config`` describes."""
    frontend = find_frontend(config, cluster, packet)
    if frontend is None:
        return Untouched()
    if isinstance(frontend, Unspecified):
        return frontend
    if frontend.kind == "internal":
        return _internal(config, frontend.entry, packet, affinity)
    return _external(config, frontend, packet, affinity)
