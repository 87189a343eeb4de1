"""Which endpoints each traffic policy uses, as kube-proxy v1.35 categorizes them
(``pkg/proxy/topology.go`` ``CategorizeEndpoints``).

- Cluster policy: ready endpoints, narrowed by topology hints when the mode allows (node hints
  when every ready endpoint has one and one names this node, else zone hints likewise), else,
  when no endpoint is ready anywhere, the serving-and-terminating ones.
- Local policy: this node's ready endpoints, else its serving-and-terminating ones.
- ``has_any``: the service has a usable endpoint somewhere.
- ``reachable``: the union, in ``ip:port`` order: the endpoints that get a chain on this node.
"""

from __future__ import annotations

import msgspec

from models.proxy.config import ProxyConfig
from models.proxy.view import EndpointView, ServicePortView


class Categorized(msgspec.Struct, frozen=True, kw_only=True):
    cluster: tuple[EndpointView, ...] = ()
    local: tuple[EndpointView, ...] = ()
    reachable: tuple[EndpointView, ...] = ()
    has_any: bool = False


def uses_cluster_endpoints(port: ServicePortView) -> bool:
    """Cluster-policy endpoints are needed for Cluster internal policy, and for any external
    traffic (with Local external policy, pods and the node short-circuit to them)."""
    return not port.internal_local or port.externally_reachable


def uses_local_endpoints(port: ServicePortView) -> bool:
    return port.internal_local or (port.externally_reachable and port.external_local)


def _topology_mode(config: ProxyConfig, endpoints: tuple[EndpointView, ...]) -> str:
    ready = [e for e in endpoints if e.ready]
    if all(e.node_hints for e in ready) and any(config.node_name in e.node_hints for e in ready):
        return "PreferSameNode"
    if all(e.zone_hints for e in ready) and any(config.zone in e.zone_hints for e in ready):
        return "PreferSameZone"
    return ""


def _available(config: ProxyConfig, endpoint: EndpointView, mode: str) -> bool:
    if mode == "PreferSameNode":
        return config.node_name in endpoint.node_hints
    if mode == "PreferSameZone":
        return config.zone in endpoint.zone_hints
    return True


def _serving_terminating(endpoint: EndpointView) -> bool:
    return endpoint.serving and endpoint.terminating


def categorize(
    config: ProxyConfig, port: ServicePortView, endpoints: tuple[EndpointView, ...]
) -> Categorized:
    cluster: tuple[EndpointView, ...] = ()
    has_any = False
    mode = ""
    if uses_cluster_endpoints(port):
        mode = _topology_mode(config, endpoints)
        cluster = tuple(e for e in endpoints if e.ready and _available(config, e, mode))
        if not cluster:
            cluster = tuple(e for e in endpoints if _serving_terminating(e))
        has_any = bool(cluster)
    if not uses_local_endpoints(port):
        return Categorized(cluster=cluster, reachable=cluster, has_any=has_any)
    has_any = has_any or any(e.ready or _serving_terminating(e) for e in endpoints)
    mine = tuple(e for e in endpoints if e.node_name == config.node_name)
    local = tuple(e for e in mine if e.ready) or tuple(e for e in mine if _serving_terminating(e))
    if not uses_cluster_endpoints(port):
        return Categorized(local=local, reachable=local, has_any=has_any)
    merged = {e.address: e for e in (*cluster, *local)}
    reachable = tuple(merged[address] for address in sorted(merged))
    return Categorized(cluster=cluster, local=local, reachable=reachable, has_any=has_any)
