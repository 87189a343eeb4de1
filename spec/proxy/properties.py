"""Named properties of a proxy's behaviour, judged on one observation: a packet, the cluster it
was sent in, and the outcome some proxy (the model, an interpreter over rules) gave it.

Each ``always`` property has a ``sometimes`` companion showing that the situation it guards
arises in the observations at hand; a run of observations where a companion never holds
leaves its safety property vacuous. Sources: the Kubernetes Service documentation
(``Virtual IPs and Service Proxies``: traffic policies, session affinity, terminating
endpoints) and the EndpointSlice API reference (conditions).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

import msgspec

from models.proxy.config import ProxyConfig, in_any, is_local, is_pod_source
from models.proxy.packet import (
    Affinity,
    Dropped,
    Forwarded,
    Outcome,
    Packet,
    Rejected,
    Unspecified,
)
from models.proxy.view import ServicePortEndpoints
from spec.property import Property
from spec.proxy.model import Frontend, find_frontend, usable


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    config: ProxyConfig
    cluster: tuple[ServicePortEndpoints, ...]
    packet: Packet
    affinity: Affinity
    outcome: Outcome


def _frontend(observation: Observation) -> Frontend | None:
    found = find_frontend(observation.config, observation.cluster, observation.packet)
    return found if isinstance(found, Frontend) else None


def _backends(observation: Observation) -> tuple[str, ...]:
    result = observation.outcome
    return tuple(s.backend for s in result.shares) if isinstance(result, Forwarded) else ()


def shares_sum_to_one(observation: Observation) -> bool:
    """A forwarded packet goes somewhere: its probabilities add up to 1 (to 1e-8)."""
    result = observation.outcome
    if not isinstance(result, Forwarded):
        return True
    total = sum((s.probability for s in result.shares), Fraction(0))
    return abs(total - 1) <= Fraction(1, 10**8)


def backends_are_endpoints(observation: Observation) -> bool:
    """A service packet is delivered only to an endpoint of the service port it addressed."""
    frontend = _frontend(observation)
    backends = _backends(observation)
    if frontend is None:
        return not backends
    allowed = {e.address for e in frontend.entry.endpoints}
    return all(b in allowed for b in backends)


def local_policy_stays_on_node(observation: Observation) -> bool:
    """externalTrafficPolicy Local: traffic from outside the cluster reaches only endpoints on
    the node it arrived at (and keeps its source address)."""
    frontend = _frontend(observation)
    if frontend is None or frontend.kind == "internal":
        return True
    port = frontend.entry.service_port
    config, packet = observation.config, observation.packet
    if not port.external_local or is_pod_source(config, packet.source):
        return True
    if is_local(config, packet.source):
        return True
    local = {e.address for e in frontend.entry.endpoints if e.node_name == config.node_name}
    result = observation.outcome
    if not isinstance(result, Forwarded):
        return True
    return all(s.backend in local and not s.masquerade for s in result.shares)


def no_endpoints_rejects(observation: Observation) -> bool:
    """A Service with no usable endpoint anywhere rejects connections at every frontend (except
    a host process's connection to an external address that is not the node's own)."""
    frontend = _frontend(observation)
    if frontend is None or usable(frontend.entry.endpoints):
        return True
    packet = observation.packet
    leaving = packet.from_host and not is_local(observation.config, packet.destination)
    if leaving and frontend.kind != "internal":
        return True
    if isinstance(observation.outcome, Unspecified):
        return True
    if isinstance(observation.outcome, Dropped) and frontend.kind == "load-balancer":
        port = frontend.entry.service_port
        return bool(port.source_ranges) and not in_any(packet.source, port.source_ranges)
    return isinstance(observation.outcome, Rejected)


def terminating_only_as_fallback(observation: Observation) -> bool:
    """A terminating endpoint is used only when its service port has no ready endpoint left
    among the candidates of the packet's policy (here: no ready endpoint at all, or none on
    this node for a Local policy)."""
    frontend = _frontend(observation)
    if frontend is None:
        return True
    endpoints = {e.address: e for e in frontend.entry.endpoints}
    chosen = [endpoints[b] for b in _backends(observation) if b in endpoints]
    if not any(e.terminating and not e.ready for e in chosen):
        return True
    node = observation.config.node_name
    return not any(e.ready for e in endpoints.values()) or not any(
        e.ready and e.node_name == node for e in endpoints.values()
    )


def affinity_sticks(observation: Observation) -> bool:
    """ClientIP affinity: a client whose last connection to this service port, within the
    timeout, went to a backend that is still a candidate goes there again."""
    frontend = _frontend(observation)
    result = observation.outcome
    if frontend is None or not isinstance(result, Forwarded):
        return True
    port = frontend.entry.service_port
    if port.affinity_timeout_seconds is None:
        return True
    live = observation.affinity.live(port.name, port.affinity_timeout_seconds)
    offered = {s.backend for s in result.shares}
    remembered = [b for b in live if b in {e.address for e in frontend.entry.endpoints}]
    if len(remembered) != 1 or len(offered) == 1:
        return True
    return remembered[0] not in offered


def hairpin_masquerades(observation: Observation) -> bool:
    """A pod reaching itself through a Service is masqueraded, so the reply comes back."""
    result = observation.outcome
    if not isinstance(result, Forwarded):
        return True
    source = observation.packet.source
    return all(s.masquerade for s in result.shares if s.backend.rsplit(":", 1)[0] == source)


def _forwarded_to_several(observation: Observation) -> bool:
    result = observation.outcome
    return isinstance(result, Forwarded) and len(result.shares) > 1


def _local_policy_forwarded(observation: Observation) -> bool:
    frontend = _frontend(observation)
    return (
        frontend is not None
        and frontend.kind != "internal"
        and frontend.entry.service_port.external_local
        and isinstance(observation.outcome, Forwarded)
    )


def _service_without_endpoints(observation: Observation) -> bool:
    frontend = _frontend(observation)
    return frontend is not None and not usable(frontend.entry.endpoints)


def _terminating_used(observation: Observation) -> bool:
    frontend = _frontend(observation)
    if frontend is None:
        return False
    terminating = {e.address for e in frontend.entry.endpoints if e.terminating}
    return any(b in terminating for b in _backends(observation))


def _affinity_applies(observation: Observation) -> bool:
    frontend = _frontend(observation)
    if frontend is None or frontend.entry.service_port.affinity_timeout_seconds is None:
        return False
    return bool(observation.affinity.entries) and isinstance(observation.outcome, Forwarded)


def _hairpin(observation: Observation) -> bool:
    source = observation.packet.source
    return any(b.rsplit(":", 1)[0] == source for b in _backends(observation))


PROPERTIES: Final[tuple[Property[Observation], ...]] = (
    Property("shares-sum-to-one", "always", shares_sum_to_one),
    Property("forwarded-to-several", "sometimes", _forwarded_to_several),
    Property("backends-are-endpoints", "always", backends_are_endpoints),
    Property("local-policy-stays-on-node", "always", local_policy_stays_on_node),
    Property("local-policy-forwarded", "sometimes", _local_policy_forwarded),
    Property("no-endpoints-rejects", "always", no_endpoints_rejects),
    Property("service-without-endpoints", "sometimes", _service_without_endpoints),
    Property("terminating-only-as-fallback", "always", terminating_only_as_fallback),
    Property("terminating-endpoint-used", "sometimes", _terminating_used),
    Property("affinity-sticks", "always", affinity_sticks),
    Property("affinity-applies", "sometimes", _affinity_applies),
    Property("hairpin-masquerades", "always", hairpin_masquerades),
    Property("hairpin-connection", "sometimes", _hairpin),
)
"""Safety properties, each followed by its ``sometimes`` companion."""

SAFETY: Final = tuple(p for p in PROPERTIES if p.kind == "always")
COMPANIONS: Final = tuple(p for p in PROPERTIES if p.kind == "sometimes")


def broken(observation: Observation) -> tuple[str, ...]:
    """Names of the safety properties ``observation`` breaks."""
    return tuple(p.name for p in SAFETY if not p.holds(observation))
