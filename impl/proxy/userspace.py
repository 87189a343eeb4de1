"""The userspace mode's routing table and its round-robin choice with ClientIP affinity.

The userspace proxier (removed from Kubernetes in v1.26, named in the seed) listened on a
socket per service frontend and copied each accepted connection to a backend chosen round
robin, sticking to the client's previous backend under ``sessionAffinity: ClientIP``. Here a
route per frontend (cluster IP, external and load-balancer IPs, NodePort on each NodePort
address) lists the backends the traffic policies allow, categorized as the other modes do:
internal routes use the internal policy's endpoints; external routes use the external
policy's (Local: this node's only). A frontend without backends rejects (no endpoints
anywhere) or drops (Local policy, none here).

``choose`` is the pure round-robin step: given the route, the rotation state and the client,
it returns the backend and the new state; the runner's asyncio proxy calls it per connection.
"""

from __future__ import annotations

import immutables
import msgspec

from impl.proxy.endpoints import categorize
from models.proxy.config import ProxyConfig
from models.proxy.events import UserspaceRoute
from models.proxy.view import EndpointView, ServicePortEndpoints


class Rotation(msgspec.Struct, frozen=True, kw_only=True):
    """Per route: the next index to hand out, and each client's last backend and when."""

    next_index: immutables.Map[str, int] = msgspec.field(default_factory=immutables.Map)
    sticky: immutables.Map[tuple[str, str], tuple[str, float]] = msgspec.field(
        default_factory=immutables.Map
    )


def _route(
    entry: ServicePortEndpoints,
    address: str,
    port: int,
    backends: tuple[EndpointView, ...],
    verdict_when_empty: str,
) -> UserspaceRoute:
    service_port = entry.service_port
    return UserspaceRoute(
        service=service_port.name,
        protocol=service_port.protocol,
        address=address,
        port=port,
        backends=tuple(e.address for e in backends),
        affinity_timeout_seconds=service_port.affinity_timeout_seconds,
        verdict="forward" if backends else verdict_when_empty,  # type: ignore[arg-type]
    )


def routes(
    config: ProxyConfig, cluster: tuple[ServicePortEndpoints, ...]
) -> tuple[UserspaceRoute, ...]:
    """Every frontend of every service port, with its backends."""
    node_port_addresses = config.node_port_addresses
    if node_port_addresses is None:
        node_port_addresses = tuple(a for a in config.local_addresses if not a.startswith("127."))
    result: list[UserspaceRoute] = []
    for entry in cluster:
        port = entry.service_port
        c = categorize(config, port, entry.endpoints)
        empty = "drop" if c.has_any else "reject"
        internal = c.local if port.internal_local else c.cluster
        external = c.local if port.external_local else c.cluster
        result.append(_route(entry, port.cluster_ip, port.port, internal, empty))
        for address in (*port.external_ips, *port.load_balancer_ips):
            result.append(_route(entry, address, port.port, external, empty))
        if port.node_port:
            for address in node_port_addresses:
                result.append(_route(entry, address, port.node_port, external, empty))
    return tuple(result)


def route_key(route: UserspaceRoute) -> str:
    return f"{route.protocol}/{route.address}:{route.port}"


def choose(
    route: UserspaceRoute, rotation: Rotation, client: str, now_seconds: float
) -> tuple[str, Rotation]:
    """The backend for a new connection from ``client`` (round robin, ClientIP affinity)."""
    assert route.backends, "a route without backends forwards nothing"
    key = route_key(route)
    timeout = route.affinity_timeout_seconds
    if timeout is not None:
        remembered = rotation.sticky.get((key, client))
        if remembered is not None:
            backend, since = remembered
            if backend in route.backends and now_seconds - since < timeout:
                sticky = rotation.sticky.set((key, client), (backend, now_seconds))
                return backend, msgspec.structs.replace(rotation, sticky=sticky)
    index = rotation.next_index.get(key, 0) % len(route.backends)
    backend = route.backends[index]
    next_index = rotation.next_index.set(key, index + 1)
    sticky = rotation.sticky
    if timeout is not None:
        sticky = sticky.set((key, client), (backend, now_seconds))
    return backend, Rotation(next_index=next_index, sticky=sticky)
