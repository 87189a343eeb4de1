"""Judging a proxy against the service model over every packet class of a cluster.

Rules in the interpreted subsets (iptables, nftables, ipvs) test a packet only by equality
with addresses and ports written in them, by membership of CIDRs, by "is a local address" and
by protocol. So every packet falls in a class determined by which of those constants and
ranges its fields hit, and one representative per class decides the class. ``packet_classes``
builds the representatives from the constants of the cluster and the node (every endpoint,
cluster, external and load-balancer address, every NodePort address, an address inside each
pod CIDR and source range that is none of those, and one outside everything), for both
arriving packets and packets from host processes, with each affinity memory that matters.

``first_difference`` runs a proxy (any function from packet and affinity to outcome) on every
class and reports the first whose outcome the model does not allow. Probabilities must agree to
``TOLERANCE``: iptables prints probabilities with ten decimals, so a chain of n rules is off
by at most n * 5e-11.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Final

import msgspec

from models.proxy.config import LOOPBACK_CIDR, ProxyConfig, in_any, is_local
from models.proxy.packet import (
    NO_AFFINITY,
    PROTOCOLS,
    Affinity,
    AffinityEntry,
    Forwarded,
    Outcome,
    Packet,
    Unspecified,
)
from models.proxy.view import ServicePortEndpoints
from spec.proxy.model import Frontend, find_frontend, outcome
from spec.proxy.properties import Observation, broken

TOLERANCE: Final = Fraction(1, 10**8)
OUTSIDE_CANDIDATES: Final = ("203.0.113.2", "198.51.100.7", "192.0.2.9", "100.64.9.9")

Proxy = Callable[[Packet, Affinity], Outcome]
Expectation = Callable[[Packet, Affinity], tuple[Outcome, tuple[str, ...]]]
"""What a packet should meet, and the names of the documented departures from the model that
decided it (none: the model's own outcome)."""


class PacketClass(msgspec.Struct, frozen=True, kw_only=True):
    packet: Packet
    affinity: Affinity = NO_AFFINITY


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    """The first packet class where a proxy departs from the model."""

    packet: Packet
    affinity: Affinity
    expected: Outcome
    actual: Outcome
    reason: str
    properties: tuple[str, ...] = ()
    departures: tuple[str, ...] = ()


def _constants(config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]) -> set[str]:
    found = set(config.local_addresses)
    for entry in cluster:
        port = entry.service_port
        found.update((port.cluster_ip, *port.external_ips, *port.load_balancer_ips))
        found.update(e.ip for e in entry.endpoints)
    return found


def _inside(cidr: str, avoid: set[str]) -> str | None:
    network = ipaddress.IPv4Network(cidr.strip(), strict=False)
    for offset in (7, 3, 1, 2, 5, 11, 13):
        if offset < network.num_addresses:
            candidate = str(network.network_address + offset)
            if candidate not in avoid:
                return candidate
    return None


def _sources(
    config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> tuple[tuple[str, bool], ...]:
    """(source, from_host) representatives."""
    constants = _constants(config, cluster)
    ranges = set(config.cluster_cidrs)
    for entry in cluster:
        ranges.update(entry.service_port.source_ranges)
    arriving = {ip for entry in cluster for ip in (e.ip for e in entry.endpoints)}
    arriving.update(ip for entry in cluster for ip in entry.service_port.load_balancer_ips)
    for cidr in sorted(ranges):
        inside = _inside(cidr, constants)
        if inside is not None:
            arriving.add(inside)
    every_range = (*ranges, LOOPBACK_CIDR)
    outside = next(
        (a for a in OUTSIDE_CANDIDATES if a not in constants and not in_any(a, every_range)), None
    )
    if outside is not None:
        arriving.add(outside)
    arriving = {a for a in arriving if not is_local(config, a)}
    host = {config.primary_address} if config.primary_address else set()
    return tuple(sorted((a, False) for a in arriving)) + tuple((a, True) for a in sorted(host))


def _destinations(
    config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> Iterator[tuple[str, int, str]]:
    node_port_addresses = (
        config.node_port_addresses
        if config.node_port_addresses is not None
        else tuple(a for a in config.local_addresses if not a.startswith("127."))
    )
    used_ports = {e.service_port.port for e in cluster}
    for entry in cluster:
        port = entry.service_port
        for protocol in PROTOCOLS[:2]:
            for address in (port.cluster_ip, *port.external_ips, *port.load_balancer_ips):
                yield address, port.port, protocol
            if port.node_port:
                for address in node_port_addresses:
                    yield address, port.node_port, protocol
        spare = next(p for p in range(port.port + 1, port.port + 100) if p not in used_ports)
        yield port.cluster_ip, spare, port.protocol
    outside = next((a for a in OUTSIDE_CANDIDATES if a not in _constants(config, cluster)), None)
    if outside is not None:
        yield outside, 80, "TCP"


def _affinities(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    destination: tuple[str, int, str],
) -> tuple[Affinity, ...]:
    address, number, protocol = destination
    for entry in cluster:
        port = entry.service_port
        frontends = (port.cluster_ip, *port.external_ips, *port.load_balancer_ips)
        hit = (address in frontends and number == port.port) or (
            is_local(config, address) and number == port.node_port
        )
        if hit and protocol == port.protocol and port.affinity_timeout_seconds is not None:
            timeout = port.affinity_timeout_seconds
            remembered = tuple(
                Affinity(
                    entries=(AffinityEntry(service=port.name, backend=e.address, age_seconds=0),)
                )
                for e in entry.endpoints
            )
            expired = tuple(
                Affinity(
                    entries=(
                        AffinityEntry(
                            service=port.name, backend=e.address, age_seconds=timeout + 1
                        ),
                    )
                )
                for e in entry.endpoints[:1]
            )
            return (NO_AFFINITY, *remembered, *expired)
    return (NO_AFFINITY,)


def packet_classes(
    config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> tuple[PacketClass, ...]:
    """One representative packet (and affinity memory) per class, deduplicated, in order."""
    seen: set[PacketClass] = set()
    result: list[PacketClass] = []
    destinations = list(dict.fromkeys(_destinations(config, cluster)))
    for source, from_host in _sources(config, cluster):
        for destination in destinations:
            address, number, protocol = destination
            packet = Packet(
                source=source,
                destination=address,
                port=number,
                protocol=protocol,
                from_host=from_host,
            )
            for affinity in _affinities(config, cluster, destination):
                item = PacketClass(packet=packet, affinity=affinity)
                if item not in seen:
                    seen.add(item)
                    result.append(item)
    return tuple(result)


def affinity_ages(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    packet: Packet,
    affinity: Affinity,
) -> dict[str, int]:
    """backend -> seconds since the client last used it, for the service port ``packet``
    addresses (rule interpreters keep affinity per backend of one service port)."""
    frontend = find_frontend(config, cluster, packet)
    if not isinstance(frontend, Frontend):
        return {}
    name = frontend.entry.service_port.name
    return {e.backend: e.age_seconds for e in affinity.entries if e.service == name}


def disagreement(expected: Outcome, actual: Outcome) -> str | None:
    """Why ``actual`` is not an outcome the model allows, or None when it is."""
    if isinstance(expected, Unspecified):
        return None if expected.admits(actual) else f"{actual.describe()}; {expected.describe()}"
    if not isinstance(expected, Forwarded) or not isinstance(actual, Forwarded):
        if type(expected) is type(actual):
            return None
        return f"expected {expected.describe()}, got {actual.describe()}"
    want = {(s.backend, s.masquerade): s.probability for s in expected.shares}
    got = {(s.backend, s.masquerade): s.probability for s in actual.shares}
    for key in sorted(want.keys() | got.keys()):
        backend, masquerade = key
        if key in want and key in got:
            if abs(want[key] - got[key]) > TOLERANCE:
                return (
                    f"{backend} is reached with p={float(got[key]):.10f}, "
                    f"expected {float(want[key]):.10f}"
                )
            continue
        if (backend, not masquerade) in want.keys() | got.keys():
            if (backend, True) in got:
                return f"masquerades traffic to {backend}; the model keeps the client's address"
            return f"keeps the client's address on traffic to {backend}; the model masquerades it"
        if key in want:
            return f"never reaches {backend}, expected p={float(want[key]):.6f}"
        return f"reaches {backend} with p={float(got[key]):.6f}; the model forbids it"
    return None


def first_difference(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    proxy: Proxy,
    expect: Expectation | None = None,
) -> Difference | None:
    """The first packet class where ``proxy`` departs from the service model (or from
    ``expect``: the model with a proxy mode's documented departures, and their names)."""
    for item in packet_classes(config, cluster):
        departures: tuple[str, ...] = ()
        if expect is None:
            expected = outcome(config, cluster, item.packet, item.affinity)
        else:
            expected, departures = expect(item.packet, item.affinity)
        actual = proxy(item.packet, item.affinity)
        reason = disagreement(expected, actual)
        if reason is not None:
            observation = Observation(
                config=config,
                cluster=cluster,
                packet=item.packet,
                affinity=item.affinity,
                outcome=actual,
            )
            return Difference(
                packet=item.packet,
                affinity=item.affinity,
                expected=expected,
                actual=actual,
                reason=reason,
                properties=broken(observation),
                departures=departures,
            )
    return None
