"""kube-proxy v1.35's iptables mode: the ``iptables-restore --noflush`` input of one sync.

Follows ``pkg/proxy/iptables/proxier.go`` ``syncProxyRules``. The input has a ``*filter`` and a
``*nat`` section; every chain named in a ``:CHAIN - [0:0]`` line is created or flushed, other
chains keep their rules (``--noflush``). Per service port:

- ``KUBE-SERVICES`` (nat) sends the cluster IP to the internal policy chain (``KUBE-SVC-`` for
  Cluster, ``KUBE-SVL-`` for Local), external and load-balancer IPs to ``KUBE-EXT-`` (through
  ``KUBE-FW-`` when ``loadBalancerSourceRanges`` are set), and ``KUBE-NODEPORTS`` sends the
  NodePort to ``KUBE-EXT-``; its last rule jumps to ``KUBE-NODEPORTS`` for local destinations.
- Without usable endpoints the filter table REJECTs (no endpoints anywhere) or DROPs (Local
  policy, none on this node) in ``KUBE-SERVICES`` and ``KUBE-EXTERNAL-SERVICES``.
- ``KUBE-SVC-``/``KUBE-SVL-`` first mark off-cluster traffic for masquerade, then (ClientIP
  affinity) one ``recent --rcheck`` rule per endpoint, then pick endpoint i of n with
  ``statistic --probability 1/(n-i)`` printed ``%0.10f``, the last rule unconditional.
- ``KUBE-SEP-`` marks hairpin traffic (source = endpoint) and DNATs, recording affinity.
- Partial sync: the nat chains of service ports whose Service and EndpointSlices did not change
  are left out (their chains keep their rules); stale service chains are flushed and deleted.

Rules are written in service port name order (kube-proxy walks a Go map, so its order varies
between syncs; rules of different service ports never match the same packet).
"""

from __future__ import annotations

from typing import Final

import msgspec

from impl.proxy.endpoints import Categorized, categorize
from impl.proxy.names import iptables_chain, iptables_endpoint_chain
from models.proxy.config import LOOPBACK_CIDR, ProxyConfig, in_cidr
from models.proxy.events import JumpRule
from models.proxy.view import EndpointView, ServicePortEndpoints

SERVICES: Final = "KUBE-SERVICES"
EXTERNAL_SERVICES: Final = "KUBE-EXTERNAL-SERVICES"
NODE_PORTS: Final = "KUBE-NODEPORTS"
POSTROUTING: Final = "KUBE-POSTROUTING"
MARK_MASQ: Final = "KUBE-MARK-MASQ"
FORWARD: Final = "KUBE-FORWARD"
PROXY_FIREWALL: Final = "KUBE-PROXY-FIREWALL"
KUBELET_FIREWALL: Final = "KUBE-FIREWALL"
LARGE_CLUSTER_ENDPOINTS: Final = 1000
SERVICE_CHAIN_PREFIXES: Final = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-FW-", "KUBE-EXT-")
NFACCT_INVALID: Final = "ct_state_invalid_dropped_pkts"
NFACCT_LOCALHOST: Final = "localhost_nps_accepted_pkts"

_NEW = ("-m", "conntrack", "--ctstate", "NEW")
_JUMPS = (
    ("filter", "INPUT", EXTERNAL_SERVICES, _NEW, "kubernetes externally-visible service portals"),
    ("filter", "FORWARD", EXTERNAL_SERVICES, _NEW, "kubernetes externally-visible service portals"),
    ("filter", "INPUT", NODE_PORTS, (), "kubernetes health check service ports"),
    ("filter", "FORWARD", SERVICES, _NEW, "kubernetes service portals"),
    ("filter", "OUTPUT", SERVICES, _NEW, "kubernetes service portals"),
    ("filter", "FORWARD", FORWARD, (), "kubernetes forwarding rules"),
    ("filter", "INPUT", PROXY_FIREWALL, _NEW, "kubernetes load balancer firewall"),
    ("filter", "OUTPUT", PROXY_FIREWALL, _NEW, "kubernetes load balancer firewall"),
    ("filter", "FORWARD", PROXY_FIREWALL, _NEW, "kubernetes load balancer firewall"),
    ("nat", "OUTPUT", SERVICES, (), "kubernetes service portals"),
    ("nat", "PREROUTING", SERVICES, (), "kubernetes service portals"),
    ("nat", "POSTROUTING", POSTROUTING, (), "kubernetes postrouting rules"),
    ("filter", "INPUT", KUBELET_FIREWALL, (), ""),
    ("filter", "OUTPUT", KUBELET_FIREWALL, (), ""),
)
JUMP_RULES: Final[tuple[JumpRule, ...]] = tuple(
    JumpRule(table=table, chain=chain, target=target, args=args, comment=comment)
    for table, chain, target, args, comment in _JUMPS
)
"""The jumps from the built-in chains, ensured (prepended) on every full sync; the last two
duplicate kubelet's own KUBE-FIREWALL jumps."""


class IptablesRender(msgspec.Struct, frozen=True, kw_only=True):
    """One sync's restore input and what it leaves in the kernel."""

    restore: str
    nat_chains: frozenset[str]
    filter_rules: int
    nat_rules: int
    cleaned_up: bool


def mark_text(config: ProxyConfig) -> str:
    """The masquerade mark as kube-proxy formats it (Go ``%#08x``: ``0x004000``)."""
    return f"{config.masquerade_mark:#08x}"


def chain_line(chain: str) -> str:
    return f":{chain} - [0:0]"


def is_service_chain(chain: str) -> bool:
    return chain.startswith(SERVICE_CHAIN_PREFIXES)


def probability(count: int) -> str:
    """``1/count`` as kube-proxy prints it (Go ``%0.10f``)."""
    return f"{1.0 / count:0.10f}"


class _Buffers:
    """The four line buffers of one sync (kube-proxy's filterChains/filterRules/natChains/
    natRules) and the service chains the sync keeps (``active``)."""

    def __init__(self) -> None:
        self.filter_chains: list[str] = []
        self.filter_rules: list[str] = []
        self.nat_chains: list[str] = []
        self.nat_rules: list[str] = []
        self.active: set[str] = set()


class _Service:
    """The names and decisions of one service port in one sync."""

    def __init__(self, config: ProxyConfig, entry: ServicePortEndpoints) -> None:
        port = entry.service_port
        self.port = port
        self.name = port.name
        self.categorized: Categorized = categorize(config, port, entry.endpoints)
        c = self.categorized
        self.cluster_chain = iptables_chain("KUBE-SVC-", port)
        self.local_chain = iptables_chain("KUBE-SVL-", port)
        self.external_chain = iptables_chain("KUBE-EXT-", port)
        self.firewall_chain = iptables_chain("KUBE-FW-", port)
        self.internal_chain = self.local_chain if port.internal_local else self.cluster_chain
        self.external_policy_chain = self.local_chain if port.external_local else self.cluster_chain
        self.has_internal = c.has_any and not (port.internal_local and not c.local)
        self.has_external = c.has_any and not (port.external_local and not c.local)
        self.uses_external_chain = c.has_any and port.externally_reachable
        self.uses_firewall = c.has_any and bool(port.load_balancer_ips) and bool(port.source_ranges)
        self.load_balancer_chain = (
            self.firewall_chain if self.uses_firewall else self.external_chain
        )
        why = "has no local endpoints" if c.has_any else "has no endpoints"
        self.filter_comment = f'-m comment --comment "{self.name} {why}"'
        self.internal_filter = "REJECT" if not c.has_any else "DROP"
        self.external_filter = self.internal_filter

    def to(self, address: str, port: int) -> str:
        """``-m tcp -p tcp -d ADDRESS --dport PORT``."""
        proto = self.port.proto
        return f"-m {proto} -p {proto} -d {address} --dport {port}"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _frontends(config: ProxyConfig, s: _Service, out: _Buffers) -> None:
    """Capture the cluster IP, external IPs, load-balancer IPs, NodePort and health check."""
    port, has_any = s.port, s.categorized.has_any
    cluster_ip = s.to(port.cluster_ip, port.port)
    if s.has_internal:
        out.nat_rules.append(
            f"-A {SERVICES} {_comment(s.name + ' cluster IP')} {cluster_ip} -j {s.internal_chain}"
        )
    else:
        out.filter_rules.append(
            f"-A {SERVICES} {s.filter_comment} {cluster_ip} -j {s.internal_filter}"
        )
    for address in port.external_ips:
        target = s.to(address, port.port)
        if has_any:
            comment = _comment(f"{s.name} external IP")
            out.nat_rules.append(f"-A {SERVICES} {comment} {target} -j {s.external_chain}")
        if not s.has_external:
            out.filter_rules.append(
                f"-A {EXTERNAL_SERVICES} {s.filter_comment} {target} -j {s.external_filter}"
            )
    for address in port.load_balancer_ips:
        target = s.to(address, port.port)
        if has_any:
            comment = _comment(f"{s.name} loadbalancer IP")
            out.nat_rules.append(f"-A {SERVICES} {comment} {target} -j {s.load_balancer_chain}")
        if s.uses_firewall:
            comment = _comment(f"{s.name} traffic not accepted by {s.firewall_chain}")
            out.filter_rules.append(f"-A {PROXY_FIREWALL} {comment} {target} -j DROP")
    if not s.has_external:
        for address in port.load_balancer_ips:
            target = s.to(address, port.port)
            out.filter_rules.append(
                f"-A {EXTERNAL_SERVICES} {s.filter_comment} {target} -j {s.external_filter}"
            )
    _node_port(config, s, out)


def _node_port(config: ProxyConfig, s: _Service, out: _Buffers) -> None:
    port, proto = s.port, s.port.proto
    match = f"-m {proto} -p {proto}"
    if port.node_port:
        if s.categorized.has_any:
            head = f"-A {NODE_PORTS} -m comment --comment {s.name} {match}"
            if config.localhost_node_ports and config.nfacct:
                out.nat_rules.append(
                    f"{head} -d {LOOPBACK_CIDR} --dport {port.node_port} -m nfacct "
                    f"--nfacct-name {NFACCT_LOCALHOST} -j {s.external_chain}"
                )
            out.nat_rules.append(f"{head} --dport {port.node_port} -j {s.external_chain}")
        if not s.has_external:
            out.filter_rules.append(
                f"-A {EXTERNAL_SERVICES} {s.filter_comment} -m addrtype --dst-type LOCAL "
                f"{match} --dport {port.node_port} -j {s.external_filter}"
            )
    if port.health_check_node_port:
        comment = _comment(f"{s.name} health check node port")
        out.filter_rules.append(
            f"-A {NODE_PORTS} {comment} -m tcp -p tcp --dport {port.health_check_node_port} "
            "-j ACCEPT"
        )


def _service_chains(
    config: ProxyConfig, s: _Service, chains: list[str], rules: list[str], large: bool
) -> None:
    """The SVC/SVL/EXT/FW/SEP chains of one service port."""
    port, c = s.port, s.categorized
    if s.has_internal:
        match = f"{_comment(s.name + ' cluster IP')} {s.to(port.cluster_ip, port.port)}"
        if config.masquerade_all:
            rules.append(f"-A {s.internal_chain} {match} -j {MARK_MASQ}")
        elif config.cluster_cidrs:
            pods = config.cluster_cidrs[0]
            rules.append(f"-A {s.internal_chain} {match} ! -s {pods} -j {MARK_MASQ}")
    if s.uses_external_chain:
        chains.append(chain_line(s.external_chain))
        _external_chain(config, s, rules)
    if s.uses_firewall:
        chains.append(chain_line(s.firewall_chain))
        _firewall_chain(config, s, rules)
    if c.cluster:
        chains.append(chain_line(s.cluster_chain))
        _policy_rules(s, s.cluster_chain, c.cluster, rules, large)
    if c.local:
        chains.append(chain_line(s.local_chain))
        _policy_rules(s, s.local_chain, c.local, rules, large)
    for endpoint in c.reachable:
        chain = iptables_endpoint_chain(port, endpoint)
        chains.append(chain_line(chain))
        head = f"-A {chain}" if large else f"-A {chain} -m comment --comment {s.name}"
        rules.append(f"{head} -s {endpoint.ip} -j {MARK_MASQ}")
        affinity = f" -m recent --name {chain} --set" if port.affinity_timeout_seconds else ""
        rules.append(
            f"{head}{affinity} -m {port.proto} -p {port.proto} -j DNAT "
            f"--to-destination {endpoint.address}"
        )


def _external_chain(config: ProxyConfig, s: _Service, rules: list[str]) -> None:
    head = f"-A {s.external_chain}"
    if not s.port.external_local:
        comment = _comment(f"masquerade traffic for {s.name} external destinations")
        rules.append(f"{head} {comment} -j {MARK_MASQ}")
    else:
        if config.cluster_cidrs:
            comment = _comment(f"pod traffic for {s.name} external destinations")
            rules.append(f"{head} {comment} -s {config.cluster_cidrs[0]} -j {s.cluster_chain}")
        local = "-m addrtype --src-type LOCAL"
        comment = _comment(f"masquerade LOCAL traffic for {s.name} external destinations")
        rules.append(f"{head} {comment} {local} -j {MARK_MASQ}")
        comment = _comment(f"route LOCAL traffic for {s.name} external destinations")
        rules.append(f"{head} {comment} {local} -j {s.cluster_chain}")
    if s.has_external:
        rules.append(f"{head} -j {s.external_policy_chain}")


def _firewall_chain(config: ProxyConfig, s: _Service, rules: list[str]) -> None:
    head = f"-A {s.firewall_chain} {_comment(s.name + ' loadbalancer IP')}"
    node = config.primary_address
    from_node = False
    for cidr in s.port.source_ranges:
        rules.append(f"{head} -s {cidr.strip()} -j {s.external_chain}")
        from_node = from_node or (bool(node) and in_cidr(node, cidr))
    if from_node:
        for address in s.port.load_balancer_ips:
            rules.append(f"{head} -s {address} -j {s.external_chain}")
    comment = _comment(f"other traffic to {s.name} will be dropped by KUBE-PROXY-FIREWALL")
    rules.append(f"-A {s.firewall_chain} {comment}")


def _policy_rules(
    s: _Service, chain: str, endpoints: tuple[EndpointView, ...], rules: list[str], large: bool
) -> None:
    port = s.port

    def comment(endpoint: EndpointView) -> str:
        return "" if large else f" {_comment(f'{s.name} -> {endpoint.address}')}"

    if port.affinity_timeout_seconds is not None:
        for endpoint in endpoints:
            target = iptables_endpoint_chain(port, endpoint)
            rules.append(
                f"-A {chain}{comment(endpoint)} -m recent --name {target} --rcheck --seconds "
                f"{port.affinity_timeout_seconds} --reap -j {target}"
            )
    count = len(endpoints)
    for index, endpoint in enumerate(endpoints):
        target = iptables_endpoint_chain(port, endpoint)
        chance = ""
        if index < count - 1:
            chance = f" -m statistic --mode random --probability {probability(count - index)}"
        rules.append(f"-A {chain}{comment(endpoint)}{chance} -j {target}")


def _fixed_rules(config: ProxyConfig, out: _Buffers) -> None:
    mark = mark_text(config)
    for chain in (SERVICES, EXTERNAL_SERVICES, FORWARD, NODE_PORTS, PROXY_FIREWALL):
        out.filter_chains.append(chain_line(chain))
    for chain in (SERVICES, NODE_PORTS, POSTROUTING, MARK_MASQ):
        out.nat_chains.append(chain_line(chain))
    out.nat_rules.append(f"-A {POSTROUTING} -m mark ! --mark {mark}/{mark} -j RETURN")
    out.nat_rules.append(f"-A {POSTROUTING} -j MARK --xor-mark {mark}")
    random_fully = " --random-fully" if config.random_fully else ""
    comment = _comment("kubernetes service traffic requiring SNAT")
    out.nat_rules.append(f"-A {POSTROUTING} {comment} -j MASQUERADE{random_fully}")
    out.nat_rules.append(f"-A {MARK_MASQ} -j MARK --or-mark {mark}")
    if config.localhost_node_ports:
        out.filter_chains.append(chain_line(KUBELET_FIREWALL))
        comment = _comment("block incoming localnet connections")
        out.filter_rules.append(
            f"-A {KUBELET_FIREWALL} {comment} -d {LOOPBACK_CIDR} ! -s {LOOPBACK_CIDR} "
            "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
        )


def _closing_rules(config: ProxyConfig, out: _Buffers) -> None:
    comment = _comment(
        "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
    )
    if config.node_port_addresses is None:
        loopback = "" if config.localhost_node_ports else f" ! -d {LOOPBACK_CIDR}"
        out.nat_rules.append(
            f"-A {SERVICES} {comment} -m addrtype --dst-type LOCAL{loopback} -j {NODE_PORTS}"
        )
    else:
        for address in config.node_port_addresses:
            if address.startswith("127.") and not config.localhost_node_ports:
                continue
            out.nat_rules.append(f"-A {SERVICES} {comment} -d {address} -j {NODE_PORTS}")
    mark = mark_text(config)
    if not config.conntrack_tcp_liberal:
        nfacct = f" -m nfacct --nfacct-name {NFACCT_INVALID}" if config.nfacct else ""
        out.filter_rules.append(f"-A {FORWARD} -m conntrack --ctstate INVALID{nfacct} -j DROP")
    comment = _comment("kubernetes forwarding rules")
    out.filter_rules.append(f"-A {FORWARD} {comment} -m mark --mark {mark}/{mark} -j ACCEPT")
    comment = _comment("kubernetes forwarding conntrack rule")
    out.filter_rules.append(
        f"-A {FORWARD} {comment} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    )


def render(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    *,
    changed: frozenset[tuple[str, str]] | None = None,
    existing_nat_chains: frozenset[str] = frozenset(),
    cleanup_due: bool = True,
) -> IptablesRender:
    """The restore input of one sync.

    ``changed`` is None for a full sync, else the (namespace, name) of every Service whose
    Service or EndpointSlices changed since the last successful sync: the other services' nat
    chains are left out. ``existing_nat_chains`` are the nat chains now in the kernel; stale
    service chains among them are flushed and deleted, in a large cluster (over 1000
    endpoints) only when ``cleanup_due`` (kube-proxy: once per sync period).
    """
    out = _Buffers()
    _fixed_rules(config, out)
    large = sum(len(entry.endpoints) for entry in cluster) > LARGE_CLUSTER_ENDPOINTS
    for entry in cluster:
        s = _Service(config, entry)
        _frontends(config, s, out)
        owner = (entry.service_port.namespace, entry.service_port.service)
        skip = changed is not None and owner not in changed
        chains: list[str] = []
        rules: list[str] = []
        _service_chains(config, s, chains, rules, large)
        out.active.update(line[1:].split(" ", 1)[0] for line in chains)
        if not skip:
            out.nat_chains.extend(chains)
            out.nat_rules.extend(rules)
    cleaned = not large or cleanup_due
    if cleaned:
        for chain in sorted(existing_nat_chains - out.active):
            if is_service_chain(chain):
                out.nat_chains.append(chain_line(chain))
                out.nat_rules.append(f"-X {chain}")
    _closing_rules(config, out)
    text = "\n".join(
        (
            "*filter",
            *out.filter_chains,
            *out.filter_rules,
            "COMMIT",
            "*nat",
            *out.nat_chains,
            *out.nat_rules,
            "COMMIT",
        )
    )
    return IptablesRender(
        restore=text + "\n",
        nat_chains=frozenset(out.active),
        filter_rules=len(out.filter_rules),
        nat_rules=len(out.nat_rules),
        cleaned_up=cleaned,
    )
