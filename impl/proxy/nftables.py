"""kube-proxy v1.35's nftables mode: the ``nft -f`` transaction of one sync.

Follows ``pkg/proxy/nftables/proxier.go`` (``setupNFTables``, ``syncProxyRules``) as written
by knftables (one operation per line). Everything lives in table ``ip kube-proxy``:

- base chains ``filter-prerouting-pre-dnat``/``filter-output-pre-dnat`` (priority -110, the
  ``firewall-check`` for ``loadBalancerSourceRanges``), ``filter-input``/``filter-forward``/
  ``filter-output`` (priority 0: ``service-endpoints-check`` and ``nodeport-endpoints-check``
  reject or drop packets for services without endpoints, ``cluster-ips-check`` rejects unknown
  ports of cluster IPs and drops unallocated service CIDR addresses) and ``nat-prerouting``/
  ``nat-output`` (-100, jump to ``services``), ``nat-postrouting`` (100, ``masquerading``);
- dispatch through verdict maps: ``service-ips`` (address . protocol . port), ``service-
  nodeports`` (protocol . port), ``no-endpoint-services``, ``no-endpoint-nodeports``,
  ``firewall-ips``;
- per service port ``service-``/``local-`` chains that mark off-cluster traffic and pick an
  endpoint with ``numgen random mod N vmap``, ``external-`` and ``firewall-`` chains, and per
  endpoint an ``endpoint-`` chain (hairpin mark, affinity set update, DNAT) and, with ClientIP
  affinity, a dynamic ``affinity-`` set with the timeout.

A full sync recreates the base chains and flushes the maps; a partial sync only writes the
chains of changed services and the map elements that changed. A chain that falls out of use is
flushed at once and deleted by a later sync, after a second (a map element pointing at it may
linger in older kernels); stale affinity sets are deleted at once.
"""

from __future__ import annotations

from typing import Final

import msgspec

from impl.proxy.endpoints import categorize
from impl.proxy.names import nft_endpoint_base, nft_service_base
from models.proxy.config import ProxyConfig, in_cidr
from models.proxy.state import NftablesState
from models.proxy.view import EndpointView, ServicePortEndpoints

TABLE: Final = "ip kube-proxy"
STALE_CHAIN_SECONDS: Final = 1.0
CONTAINERS: Final = (
    ("set", "cluster-ips"),
    ("map", "service-ips"),
    ("map", "firewall-ips"),
    ("map", "no-endpoint-services"),
    ("map", "no-endpoint-nodeports"),
    ("map", "service-nodeports"),
)
BASE_CHAINS: Final = (
    ("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
    ("filter-output-pre-dnat", "filter", "output", -110),
    ("filter-input", "filter", "input", 0),
    ("filter-forward", "filter", "forward", 0),
    ("filter-output", "filter", "output", 0),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
)
JUMPS: Final = (
    ("nodeport-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-forward", "ct state new"),
    ("service-endpoints-check", "filter-output", "ct state new"),
    ("firewall-check", "filter-prerouting-pre-dnat", "ct state new"),
    ("firewall-check", "filter-output-pre-dnat", "ct state new"),
    ("services", "nat-output", ""),
    ("services", "nat-prerouting", ""),
    ("masquerading", "nat-postrouting", ""),
    ("cluster-ips-check", "filter-forward", "ct state new"),
    ("cluster-ips-check", "filter-output", "ct state new"),
)
VERDICT_MAP: Final = "ipv4_addr . inet_proto . inet_service : verdict"
PORT_MAP: Final = "inet_proto . inet_service : verdict"


class NftablesRender(msgspec.Struct, frozen=True, kw_only=True):
    """The transactions of one sync (a cleanup transaction may come first) and the state the
    kernel is in once they have run."""

    transactions: tuple[str, ...]
    state: NftablesState


class _Tx:
    """A transaction being written, and the containers' elements as kube-proxy tracks them."""

    def __init__(self, previous: NftablesState, full: bool) -> None:
        self.lines: list[str] = []
        self.created: set[str] = set()
        self.previous = {name: dict(items) for name, items in previous.elements}
        self.elements: dict[str, dict[str, str]] = {
            name: ({} if full else dict(self.previous.get(name, {}))) for _, name in CONTAINERS
        }
        self.leftover = {name: set(self.elements[name]) for _, name in CONTAINERS}

    def add(self, text: str) -> None:
        self.lines.append(f"add {text}")

    def rule(self, chain: str, rule: str, comment: str = "") -> None:
        tail = f' comment "{comment}"' if comment else ""
        self.lines.append(f"add rule {TABLE} {chain} {rule}{tail}")

    def ensure_chain(self, chain: str, *, skip: bool = False) -> None:
        if chain in self.created:
            return
        self.created.add(chain)
        if not skip:
            self.lines.append(f"add chain {TABLE} {chain}")
            self.lines.append(f"flush chain {TABLE} {chain}")

    def element(self, container: str, key: str, value: str = "", comment: str = "") -> None:
        """kube-proxy's ``ensureElem``: write only what is new or changed."""
        stored = self.elements[container]
        text = f"{container} {{ {key}"
        text += f' comment "{comment}"' if comment else ""
        text += f" : {value} }}" if value else " }"
        if key in stored:
            if stored[key] != value:
                self.lines.append(f"delete element {TABLE} {container} {{ {key} }}")
                self.lines.append(f"add element {TABLE} {text}")
                stored[key] = value
            self.leftover[container].discard(key)
        else:
            self.lines.append(f"add element {TABLE} {text}")
            stored[key] = value

    def cleanup_elements(self) -> None:
        for _, container in CONTAINERS:
            for key in sorted(self.leftover[container]):
                self.lines.append(f"delete element {TABLE} {container} {{ {key} }}")
                del self.elements[container][key]


def _setup(config: ProxyConfig, tx: _Tx, recreated: bool) -> None:
    """``setupNFTables``: the table, base chains, top-level chains, sets and maps."""
    mark = f"{config.masquerade_mark:#08x}"
    tx.add(f'table {TABLE} {{ comment "rules for kube-proxy" ; }}')
    if not recreated:
        for name, *_ in BASE_CHAINS:
            tx.add(f"chain {TABLE} {name}")
            tx.lines.append(f"delete chain {TABLE} {name}")
    for name, kind, hook, priority in BASE_CHAINS:
        tx.add(f"chain {TABLE} {name} {{ type {kind} hook {hook} priority {priority} ; }}")
        tx.lines.append(f"flush chain {TABLE} {name}")
    for target, source, condition in JUMPS:
        tx.ensure_chain(target)
        tx.rule(source, f"{condition} jump {target}".strip())
    for chain in ("services", "cluster-ips-check", "masquerading", "mark-for-masquerade"):
        tx.ensure_chain(chain)
    tx.rule("mark-for-masquerade", f"mark set mark or {mark}")
    tx.rule("masquerading", f"mark and {mark} == 0 return")
    tx.rule("masquerading", f"mark set mark xor {mark}")
    tx.rule("masquerading", "masquerade fully-random")
    tx.add(f'set {TABLE} cluster-ips {{ type ipv4_addr ; comment "Active ClusterIPs" ; }}')
    tx.rule("cluster-ips-check", "ip daddr @cluster-ips reject",
            "Reject traffic to invalid ports of ClusterIPs")  # fmt: skip
    if config.service_cidrs:
        cidrs = ",".join(config.service_cidrs)
        tx.rule("cluster-ips-check", f"ip daddr {{ {cidrs} }} drop",
                "Drop traffic to unallocated ClusterIPs")  # fmt: skip
    _node_port_ips(config, tx)
    _dispatch(config, tx)


def _node_port_ips(config: ProxyConfig, tx: _Tx) -> None:
    tx.add(f'set {TABLE} nodeport-ips {{ type ipv4_addr ; comment "IPs that accept NodePort '
           'traffic" ; }')  # fmt: skip
    if config.node_port_addresses is None:
        tx.lines.append(f"delete set {TABLE} nodeport-ips")
        return
    tx.lines.append(f"flush set {TABLE} nodeport-ips")
    for address in config.node_port_addresses:
        if not address.startswith("127."):
            tx.lines.append(f"add element {TABLE} nodeport-ips {{ {address} }}")


def _dispatch(config: ProxyConfig, tx: _Tx) -> None:
    """No-endpoint handling, the firewall check and the service dispatch maps."""
    no_localhost = "ip daddr != 127.0.0.0/8"
    all_addresses = config.node_port_addresses is None
    tx.add(f"map {TABLE} no-endpoint-services {{ type {VERDICT_MAP} ; comment \"vmap to drop or "
           "reject packets to services with no endpoints\" ; }")  # fmt: skip
    tx.add(f"map {TABLE} no-endpoint-nodeports {{ type {PORT_MAP} ; comment \"vmap to drop or "
           "reject packets to service nodeports with no endpoints\" ; }")  # fmt: skip
    tx.add(f'chain {TABLE} reject-chain {{ comment "helper for @no-endpoint-services / '
           '@no-endpoint-nodeports" ; }')  # fmt: skip
    tx.lines.append(f"flush chain {TABLE} reject-chain")
    tx.rule("reject-chain", "reject")
    tuple_match = "ip daddr . meta l4proto . th dport"
    tx.rule("service-endpoints-check", f"{tuple_match} vmap @no-endpoint-services")
    node_ports = no_localhost if all_addresses else "ip daddr @nodeport-ips"
    tx.rule("nodeport-endpoints-check",
            f"{node_ports} meta l4proto . th dport vmap @no-endpoint-nodeports")  # fmt: skip
    tx.add(f"map {TABLE} firewall-ips {{ type {VERDICT_MAP} ; comment \"destinations that are "
           "subject to LoadBalancerSourceRanges\" ; }")  # fmt: skip
    tx.ensure_chain("firewall-check")
    tx.rule("firewall-check", f"{tuple_match} vmap @firewall-ips")
    tx.add(f"map {TABLE} service-ips {{ type {VERDICT_MAP} ; comment \"ClusterIP, ExternalIP and "
           "LoadBalancer IP traffic\" ; }")  # fmt: skip
    tx.add(f'map {TABLE} service-nodeports {{ type {PORT_MAP} ; comment "NodePort traffic" ; }}')
    tx.rule("services", f"{tuple_match} vmap @service-ips")
    local = f"fib daddr type local {no_localhost}"
    selector = local if all_addresses else "ip daddr @nodeport-ips"
    tx.rule("services", f"{selector} meta l4proto . th dport vmap @service-nodeports")
    for kind, container in CONTAINERS:
        tx.lines.append(f"flush {kind} {TABLE} {container}")


class _Names:
    def __init__(self, entry: ServicePortEndpoints) -> None:
        base = nft_service_base(entry.service_port)
        self.cluster = f"service-{base}"
        self.local = f"local-{base}"
        self.external = f"external-{base}"
        self.firewall = f"firewall-{base}"


def _endpoint_chain(entry: ServicePortEndpoints, endpoint: EndpointView) -> str:
    return f"endpoint-{nft_endpoint_base(entry.service_port, endpoint)}"


def _affinity_set(entry: ServicePortEndpoints, endpoint: EndpointView) -> str:
    return f"affinity-{nft_endpoint_base(entry.service_port, endpoint)}"


def _service(config: ProxyConfig, entry: ServicePortEndpoints, tx: _Tx, skip: bool) -> set[str]:
    """One service port's elements (always) and chains (unless ``skip``); returns the affinity
    sets it uses."""
    port, names = entry.service_port, _Names(entry)
    c = categorize(config, port, entry.endpoints)
    affinity_sets: set[str] = set()
    for endpoint in c.reachable:
        tx.ensure_chain(_endpoint_chain(entry, endpoint), skip=skip)
        if port.affinity_timeout_seconds is not None:
            affinity_sets.add(_affinity_set(entry, endpoint))
    if c.cluster:
        tx.ensure_chain(names.cluster, skip=skip)
    if c.local:
        tx.ensure_chain(names.local, skip=skip)
    internal_chain = names.local if port.internal_local else names.cluster
    has_internal = c.has_any and not (port.internal_local and not c.local)
    has_external = c.has_any and not (port.external_local and not c.local)
    if c.has_any and port.externally_reachable:
        tx.ensure_chain(names.external, skip=skip)
    verdict = "drop" if c.has_any else "goto reject-chain"
    key = f"{port.proto} . {port.port}"
    tx.element("cluster-ips", port.cluster_ip)
    if has_internal:
        tx.element("service-ips", f"{port.cluster_ip} . {key}", f"goto {internal_chain}")
    else:
        tx.element("no-endpoint-services", f"{port.cluster_ip} . {key}", verdict, port.name)
    for address in port.external_ips:
        if c.has_any:
            tx.element("service-ips", f"{address} . {key}", f"goto {names.external}")
        if not has_external:
            tx.element("no-endpoint-services", f"{address} . {key}", verdict, port.name)
    uses_firewall = bool(port.load_balancer_ips) and bool(port.source_ranges)
    if uses_firewall:
        tx.ensure_chain(names.firewall, skip=skip)
    for address in port.load_balancer_ips:
        if c.has_any:
            tx.element("service-ips", f"{address} . {key}", f"goto {names.external}")
        if uses_firewall:
            tx.element("firewall-ips", f"{address} . {key}", f"goto {names.firewall}")
    if not has_external:
        for address in port.load_balancer_ips:
            tx.element("no-endpoint-services", f"{address} . {key}", verdict, port.name)
    if port.node_port:
        node_key = f"{port.proto} . {port.node_port}"
        if c.has_any:
            tx.element("service-nodeports", node_key, f"goto {names.external}")
        if not has_external:
            tx.element("no-endpoint-nodeports", node_key, verdict, port.name)
    if not skip:
        _service_chains(config, entry, tx, names, has_internal=has_internal)
    return affinity_sets


def _service_chains(
    config: ProxyConfig, entry: ServicePortEndpoints, tx: _Tx, names: _Names, *, has_internal: bool
) -> None:
    port = entry.service_port
    c = categorize(config, port, entry.endpoints)
    internal_chain = names.local if port.internal_local else names.cluster
    if has_internal and config.masquerade_all:
        tx.rule(internal_chain, f"ip daddr {port.cluster_ip} jump mark-for-masquerade")
    elif has_internal and config.cluster_cidrs:
        pods = config.cluster_cidrs[0]
        tx.rule(internal_chain, f"ip daddr {port.cluster_ip} ip saddr != {pods} "
                "jump mark-for-masquerade")  # fmt: skip
    if c.has_any and port.externally_reachable:
        _external_chain(config, port.external_local, names, tx, bool(c.local))
    if port.load_balancer_ips and port.source_ranges:
        sources = [cidr.strip() for cidr in port.source_ranges]
        node = config.primary_address
        if node and any(in_cidr(node, cidr) for cidr in sources):
            sources.extend(port.load_balancer_ips)
        tx.rule(names.firewall, f"ip saddr != {{ {' , '.join(sources)} }} drop")
    if port.affinity_timeout_seconds is not None:
        for endpoint in c.reachable:
            tx.add(f"set {TABLE} {_affinity_set(entry, endpoint)} {{ type ipv4_addr ; flags "
                   f"dynamic,timeout ; timeout {port.affinity_timeout_seconds}s ; }}")  # fmt: skip
    if c.cluster:
        _spread(entry, names.cluster, c.cluster, tx)
    if c.local:
        _spread(entry, names.local, c.local, tx)
    for endpoint in c.reachable:
        chain = _endpoint_chain(entry, endpoint)
        tx.rule(chain, f"ip saddr {endpoint.ip} jump mark-for-masquerade")
        if port.affinity_timeout_seconds is not None:
            tx.rule(chain, f"update @{_affinity_set(entry, endpoint)} {{ ip saddr }}")
        tx.rule(chain, f"meta l4proto {port.proto} dnat to {endpoint.address}")


def _external_chain(
    config: ProxyConfig, local_policy: bool, names: _Names, tx: _Tx, has_local: bool
) -> None:
    if not local_policy:
        tx.rule(names.external, "jump mark-for-masquerade")
        tx.rule(names.external, f"goto {names.cluster}")
        return
    if config.cluster_cidrs:
        tx.rule(names.external, f"ip saddr {config.cluster_cidrs[0]} goto {names.cluster}",
                "short-circuit pod traffic")  # fmt: skip
    tx.rule(names.external, "fib saddr type local jump mark-for-masquerade",
            "masquerade local traffic")  # fmt: skip
    tx.rule(names.external, f"fib saddr type local goto {names.cluster}",
            "short-circuit local traffic")  # fmt: skip
    if has_local:
        tx.rule(names.external, f"goto {names.local}")


def _spread(
    entry: ServicePortEndpoints, chain: str, endpoints: tuple[EndpointView, ...], tx: _Tx
) -> None:
    if entry.service_port.affinity_timeout_seconds is not None:
        for endpoint in endpoints:
            affinity = _affinity_set(entry, endpoint)
            tx.rule(chain, f"ip saddr @{affinity} goto {_endpoint_chain(entry, endpoint)}")
    choices = " , ".join(
        f"{index} : goto {_endpoint_chain(entry, endpoint)}"
        for index, endpoint in enumerate(endpoints)
    )
    tx.rule(chain, f"numgen random mod {len(endpoints)} vmap {{ {choices} }}")


def render(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    previous: NftablesState,
    *,
    changed: frozenset[tuple[str, str]] | None = None,
    now_seconds: float = 0.0,
) -> NftablesRender:
    """The transactions of one sync from ``previous`` (``changed`` None: a full sync)."""
    cleanup: list[str] = []
    stale = dict(previous.stale_chains)
    kernel_chains = set(previous.chains)
    for chain, since in sorted(stale.items()):
        if since < now_seconds - STALE_CHAIN_SECONDS:
            cleanup.append(f"delete chain {TABLE} {chain}")
            del stale[chain]
            kernel_chains.discard(chain)
    tx = _Tx(previous, full=changed is None)
    if changed is None:
        _setup(config, tx, previous.recreated)
    affinity_sets: set[str] = set()
    for entry in cluster:
        owner = (entry.service_port.namespace, entry.service_port.service)
        skip = changed is not None and owner not in changed
        affinity_sets |= _service(config, entry, tx, skip)
    active = {chain for chain in tx.created if "/" in chain}
    for chain in sorted(kernel_chains - active):
        tx.lines.append(f"flush chain {TABLE} {chain}")
        stale.setdefault(chain, now_seconds)
    for chain in active:
        stale.pop(chain, None)
    for name in sorted(previous.affinity_sets - affinity_sets):
        tx.lines.append(f"delete set {TABLE} {name}")
    tx.cleanup_elements()
    state = NftablesState(
        elements=tuple(
            (name, tuple(sorted(items.items()))) for name, items in sorted(tx.elements.items())
        ),
        chains=frozenset(kernel_chains | active),
        affinity_sets=frozenset(affinity_sets),
        stale_chains=tuple(sorted(stale.items())),
        recreated=previous.recreated or changed is None,
    )
    transactions = ("\n".join(cleanup) + "\n",) if cleanup else ()
    return NftablesRender(transactions=(*transactions, "\n".join(tx.lines) + "\n"), state=state)
