"""kube-proxy v1.35's ipvs mode: IPVS virtual servers in ``ipvsadm-restore`` form, the ipsets
in ``ipset restore`` form and the iptables helper rules in ``iptables-restore`` form.

Follows ``pkg/proxy/ipvs/proxier.go`` (``syncProxyRules``, ``syncEndpoint``,
``writeIptablesRules``); where the structure was taken from memory of that file rather than
read, ``docs/proxy.md`` says so. Per service port, one virtual server per frontend: the
cluster IP, each external and load-balancer IP (all three bound to the dummy interface
``kube-ipvs0``, listed in ipset ``KUBE-IPVS-IPS``) and the NodePort on each NodePort address;
scheduler ``rr`` (``--ipvs-scheduler``), ClientIP affinity as persistence (``-p timeout``).
Real servers (masquerading forwarding, weight 1) are the Cluster-policy endpoints, or, for a
Local policy, this node's endpoints when it has some (else the Cluster ones: kube-proxy lets
local pods reach the service anyway).

The iptables rules only mark for masquerade (off-cluster clients of cluster IPs, external and
load-balancer traffic except Local policy, NodePorts except Local), masquerade hairpin
connections (``KUBE-LOOP-BACK``), filter load-balancer source ranges and reject traffic to
bound addresses on ports that are not services (``KUBE-IPVS-FILTER``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import immutables
import msgspec

from impl.proxy.endpoints import categorize
from impl.proxy.iptables import mark_text
from models.proxy.config import LOOPBACK_CIDR, ProxyConfig, in_any
from models.proxy.events import JumpRule
from models.proxy.view import EndpointView, ServicePortEndpoints

DUMMY_DEVICE: Final = "kube-ipvs0"
_KUBERNETES = "Kubernetes "
SETS: Final = (
    (
        "KUBE-LOOP-BACK",
        "hash:ip,port,ip",
        _KUBERNETES + "endpoints dst ip:port, source ip for solving hairpin purpose",
    ),
    (
        "KUBE-CLUSTER-IP",
        "hash:ip,port",
        _KUBERNETES + "service cluster ip + port for masquerade purpose",
    ),
    (
        "KUBE-EXTERNAL-IP",
        "hash:ip,port",
        _KUBERNETES + "service external ip + port for masquerade and filter purpose",
    ),
    (
        "KUBE-EXTERNAL-IP-LOCAL",
        "hash:ip,port",
        _KUBERNETES + "service external ip + port with externalTrafficPolicy=local",
    ),
    ("KUBE-LOAD-BALANCER", "hash:ip,port", _KUBERNETES + "service lb portal"),
    (
        "KUBE-LOAD-BALANCER-FW",
        "hash:ip,port",
        _KUBERNETES + "service load balancer ip + port for load balancer with sourceRange",
    ),
    (
        "KUBE-LOAD-BALANCER-LOCAL",
        "hash:ip,port",
        _KUBERNETES + "service load balancer ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-IP",
        "hash:ip,port,ip",
        _KUBERNETES + "service load balancer ip + port + source IP for packet filter purpose",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        "hash:ip,port,net",
        _KUBERNETES + "service load balancer ip + port + source cidr for packet filter purpose",
    ),
    ("KUBE-NODE-PORT-TCP", "bitmap:port", _KUBERNETES + "nodeport TCP port for masquerade purpose"),
    (
        "KUBE-NODE-PORT-LOCAL-TCP",
        "bitmap:port",
        _KUBERNETES + "nodeport TCP port with externalTrafficPolicy=local",
    ),
    ("KUBE-NODE-PORT-UDP", "bitmap:port", _KUBERNETES + "nodeport UDP port for masquerade purpose"),
    (
        "KUBE-NODE-PORT-LOCAL-UDP",
        "bitmap:port",
        _KUBERNETES + "nodeport UDP port with externalTrafficPolicy=local",
    ),
    ("KUBE-HEALTH-CHECK-NODE-PORT", "bitmap:port", _KUBERNETES + "health check node port"),
    ("KUBE-IPVS-IPS", "hash:ip", "IPVS service ip"),
)
PROTOCOL_FLAGS: Final = {"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}
_NEW = ("-m", "conntrack", "--ctstate", "NEW")
JUMP_RULES: Final = tuple(
    JumpRule(table=table, chain=chain, target=target, args=args, comment=comment)
    for table, chain, target, args, comment in (
        ("nat", "OUTPUT", "KUBE-SERVICES", (), "kubernetes service portals"),
        ("nat", "PREROUTING", "KUBE-SERVICES", (), "kubernetes service portals"),
        ("nat", "POSTROUTING", "KUBE-POSTROUTING", (), "kubernetes postrouting rules"),
        ("filter", "FORWARD", "KUBE-FORWARD", (), "kubernetes forwarding rules"),
        ("filter", "INPUT", "KUBE-NODE-PORT", (), "kubernetes health check rules"),
        ("filter", "INPUT", "KUBE-PROXY-FIREWALL", _NEW, "kube-proxy firewall rules"),
        ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", _NEW, "kube-proxy firewall rules"),
        ("filter", "INPUT", "KUBE-IPVS-FILTER", _NEW, "kubernetes ipvs access filter"),
        ("filter", "OUTPUT", "KUBE-IPVS-OUT-FILTER", (), "kubernetes ipvs access filter"),
    )
)


class IpvsRender(msgspec.Struct, frozen=True, kw_only=True):
    ipvsadm: str
    ipset: str
    iptables: str
    servers: immutables.Map[str, tuple[str, ...]]
    """Each virtual server (``PROTO/ip:port``) and its ipvsadm lines, for the next sync."""
    sets: immutables.Map[str, frozenset[str]]
    """Each ipset's entries, for the next sync."""
    bound: tuple[str, ...]


class _Out:
    def __init__(self) -> None:
        self.servers: dict[str, list[str]] = {}
        self.entries: dict[str, set[str]] = {name: set() for name, _, _ in SETS}


def _server(
    out: _Out,
    protocol: str,
    address: str,
    port: int,
    scheduler: str,
    timeout: int | None,
    endpoints: tuple[EndpointView, ...],
) -> None:
    flag = PROTOCOL_FLAGS[protocol]
    virtual = f"{flag} {address}:{port}"
    persistence = f" -p {timeout}" if timeout is not None else ""
    lines = [f"-A {virtual} -s {scheduler}{persistence}"]
    lines.extend(f"-a {virtual} -r {e.address} -m -w 1" for e in endpoints)
    out.servers[f"{protocol}/{address}:{port}"] = lines


def _sets(config: ProxyConfig, entry: ServicePortEndpoints, out: _Out) -> None:
    port = entry.service_port
    proto = port.proto
    e = out.entries
    e["KUBE-CLUSTER-IP"].add(f"{port.cluster_ip},{proto}:{port.port}")
    e["KUBE-IPVS-IPS"].add(port.cluster_ip)
    for endpoint in entry.endpoints:
        if endpoint.node_name == config.node_name:
            e["KUBE-LOOP-BACK"].add(f"{endpoint.ip},{proto}:{endpoint.port},{endpoint.ip}")
    for address in port.external_ips:
        e["KUBE-EXTERNAL-IP-LOCAL" if port.external_local else "KUBE-EXTERNAL-IP"].add(
            f"{address},{proto}:{port.port}"
        )
        e["KUBE-IPVS-IPS"].add(address)
    for address in port.load_balancer_ips:
        e["KUBE-LOAD-BALANCER"].add(f"{address},{proto}:{port.port}")
        e["KUBE-IPVS-IPS"].add(address)
        if port.external_local:
            e["KUBE-LOAD-BALANCER-LOCAL"].add(f"{address},{proto}:{port.port}")
        if port.source_ranges:
            e["KUBE-LOAD-BALANCER-FW"].add(f"{address},{proto}:{port.port}")
            for cidr in port.source_ranges:
                e["KUBE-LOAD-BALANCER-SOURCE-CIDR"].add(
                    f"{address},{proto}:{port.port},{cidr.strip()}"
                )
            # The node reaches a load-balancer IP bound here from that IP itself.
            if config.primary_address and in_any(config.primary_address, port.source_ranges):
                e["KUBE-LOAD-BALANCER-SOURCE-IP"].add(f"{address},{proto}:{port.port},{address}")
    if port.node_port and port.protocol in ("TCP", "UDP"):
        e[f"KUBE-NODE-PORT-{port.protocol}"].add(str(port.node_port))
        if port.external_local:
            e[f"KUBE-NODE-PORT-LOCAL-{port.protocol}"].add(str(port.node_port))
    if port.health_check_node_port:
        e["KUBE-HEALTH-CHECK-NODE-PORT"].add(str(port.health_check_node_port))


def _service(config: ProxyConfig, entry: ServicePortEndpoints, out: _Out) -> None:
    port = entry.service_port
    c = categorize(config, port, entry.endpoints)
    internal = c.local if port.internal_local and c.local else c.cluster
    external = c.local if port.external_local and c.local else c.cluster
    scheduler, timeout = config.ipvs_scheduler, port.affinity_timeout_seconds
    _server(out, port.protocol, port.cluster_ip, port.port, scheduler, timeout, internal)
    for address in (*port.external_ips, *port.load_balancer_ips):
        _server(out, port.protocol, address, port.port, scheduler, timeout, external)
    if port.node_port:
        addresses = config.node_port_addresses
        if addresses is None:
            addresses = tuple(a for a in config.local_addresses if not a.startswith("127."))
        for address in addresses:
            _server(out, port.protocol, address, port.node_port, scheduler, timeout, external)
    _sets(config, entry, out)


def _ipset_text(out: _Out, previous: Mapping[str, frozenset[str]] | None) -> str:
    """``ipset restore`` input: every set created if missing; a full sync (``previous`` None)
    flushes and fills each, a partial one deletes and adds only the changed entries (kube-proxy's
    ``syncIPSetEntries``)."""
    lines = []
    for name, kind, comment in SETS:
        family = "" if kind.startswith("bitmap") else " family inet"
        bounds = " range 0-65535" if kind.startswith("bitmap") else " hashsize 1024 maxelem 65536"
        lines.append(f"create {name} {kind}{family}{bounds} comment -exist")
        wanted = out.entries[name]
        if previous is None:
            lines.append(f"flush {name}")
            before: frozenset[str] = frozenset()
        else:
            before = previous.get(name, frozenset())
            lines.extend(f"del {name} {item}" for item in sorted(before - wanted))
        lines.extend(f'add {name} {item} comment "{comment}"' for item in sorted(wanted - before))
    return "\n".join(lines) + "\n"


def _set_rule(chain: str, name: str, match: str, target: str, proto: str = "") -> str:
    protocol = f" -p {proto}" if proto else ""
    return f"-A {chain}{protocol} -m set --match-set {name} {match} -j {target}"


def _iptables_text(config: ProxyConfig) -> str:
    mark = mark_text(config)
    nat = [
        ":KUBE-SERVICES - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-NODE-PORT - [0:0]",
        ":KUBE-LOAD-BALANCER - [0:0]", ":KUBE-MARK-MASQ - [0:0]",
        _set_rule("KUBE-POSTROUTING", "KUBE-LOOP-BACK", "dst,dst,src", "MASQUERADE"),
        f"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN",
        f"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}",
        "-A KUBE-POSTROUTING -j MASQUERADE" + (" --random-fully" if config.random_fully else ""),
        f"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}",
        f"-A KUBE-SERVICES -s {LOOPBACK_CIDR} -j RETURN",
        _set_rule("KUBE-SERVICES", "KUBE-LOAD-BALANCER", "dst,dst", "KUBE-LOAD-BALANCER"),
        _set_rule("KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER-LOCAL", "dst,dst", "RETURN"),
    ]  # fmt: skip
    for proto in ("tcp", "udp"):
        name = f"KUBE-NODE-PORT-LOCAL-{proto.upper()}"
        nat.append(_set_rule("KUBE-NODE-PORT", name, "dst", "RETURN", proto))
        name = f"KUBE-NODE-PORT-{proto.upper()}"
        nat.append(_set_rule("KUBE-NODE-PORT", name, "dst", "KUBE-MARK-MASQ", proto))
    if config.masquerade_all:
        nat.append(_set_rule("KUBE-SERVICES", "KUBE-CLUSTER-IP", "dst,dst", "KUBE-MARK-MASQ"))
    elif config.cluster_cidrs:
        pods = config.cluster_cidrs[0]
        rule = _set_rule("KUBE-SERVICES", "KUBE-CLUSTER-IP", "dst,dst", "KUBE-MARK-MASQ")
        nat.append(rule.replace(" -j ", f" ! -s {pods} -j "))
    nat.append(_set_rule("KUBE-SERVICES", "KUBE-EXTERNAL-IP", "dst,dst", "KUBE-MARK-MASQ"))
    for name in ("KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL"):
        # Off-machine traffic (not bridged, not from the node) and traffic to addresses of the
        # node itself stop here.
        rule = _set_rule("KUBE-SERVICES", name, "dst,dst", "ACCEPT")
        off_machine = " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j "
        nat.append(rule.replace(" -j ", off_machine))
        nat.append(rule.replace(" -j ", " -m addrtype --dst-type LOCAL -j "))
    nat.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT")
    nat.append("-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ")
    for name in ("KUBE-CLUSTER-IP", "KUBE-LOAD-BALANCER"):
        nat.append(_set_rule("KUBE-SERVICES", name, "dst,dst", "ACCEPT"))
    filter_lines = [
        ":KUBE-FORWARD - [0:0]", ":KUBE-NODE-PORT - [0:0]", ":KUBE-PROXY-FIREWALL - [0:0]",
        ":KUBE-SOURCE-RANGES-FIREWALL - [0:0]", ":KUBE-IPVS-FILTER - [0:0]",
        ":KUBE-IPVS-OUT-FILTER - [0:0]",
        _set_rule("KUBE-PROXY-FIREWALL", "KUBE-LOAD-BALANCER-FW", "dst,dst",
                  "KUBE-SOURCE-RANGES-FIREWALL"),
        _set_rule("KUBE-SOURCE-RANGES-FIREWALL", "KUBE-LOAD-BALANCER-SOURCE-CIDR", "dst,dst,src",
                  "RETURN"),
        _set_rule("KUBE-SOURCE-RANGES-FIREWALL", "KUBE-LOAD-BALANCER-SOURCE-IP", "dst,dst,src",
                  "RETURN"),
        "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP",
        f"-A KUBE-FORWARD -m mark --mark {mark}/{mark} -j ACCEPT",
        "-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        _set_rule("KUBE-NODE-PORT", "KUBE-HEALTH-CHECK-NODE-PORT", "dst", "ACCEPT"),
    ]  # fmt: skip
    for name in ("KUBE-LOAD-BALANCER", "KUBE-CLUSTER-IP", "KUBE-EXTERNAL-IP",
                 "KUBE-EXTERNAL-IP-LOCAL"):  # fmt: skip
        filter_lines.append(_set_rule("KUBE-IPVS-FILTER", name, "dst,dst", "RETURN"))
    filter_lines.append(
        _set_rule("KUBE-IPVS-FILTER", "KUBE-HEALTH-CHECK-NODE-PORT", "dst", "RETURN")
    )
    filter_lines.append(
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst "
        "-j REJECT"
    )
    return "\n".join(("*nat", *nat, "COMMIT", "*filter", *filter_lines, "COMMIT")) + "\n"


def _changes(before: tuple[str, ...], wanted: tuple[str, ...]) -> list[str]:
    """ipvsadm lines turning one virtual server from ``before`` into ``wanted`` (kube-proxy's
    ``syncService`` edits a changed service, ``syncEndpoint`` adds and removes real servers)."""
    lines = [] if before[0] == wanted[0] else ["-E" + wanted[0][2:]]
    kept = set(wanted[1:])
    for line in before[1:]:
        if line not in kept:
            lines.append("-d" + line[2:].split(" -m ")[0])
    gone = set(before[1:])
    lines.extend(line for line in wanted[1:] if line not in gone)
    return lines


def render(
    config: ProxyConfig,
    cluster: tuple[ServicePortEndpoints, ...],
    previous: Mapping[str, tuple[str, ...]],
    *,
    full: bool = True,
    previous_sets: Mapping[str, frozenset[str]] | None = None,
) -> IpvsRender:
    """One sync: the virtual servers (with real servers), the ipsets and the helper rules.
    ``previous`` is what the last applied sync left (key -> its ipvsadm lines): servers no
    longer wanted are deleted; a partial sync writes only the differences, a full one (start,
    after a failure, hourly) deletes and re-adds every server, since this machine cannot read
    the kernel back as kube-proxy does. Likewise the ipsets: a partial sync given
    ``previous_sets`` changes only the entries that changed."""
    out = _Out()
    for entry in cluster:
        _service(config, entry, out)
    lines: list[str] = []
    for key in sorted(previous.keys() - out.servers.keys()):
        protocol, _, target = key.partition("/")
        lines.append(f"-D {PROTOCOL_FLAGS[protocol]} {target}")
    servers = {key: tuple(value) for key, value in out.servers.items()}
    for key in sorted(servers):
        protocol, _, target = key.partition("/")
        before = previous.get(key)
        if before is not None and not full:
            lines.extend(_changes(before, servers[key]))
            continue
        if before is not None:
            lines.append(f"-D {PROTOCOL_FLAGS[protocol]} {target}")
        lines.extend(servers[key])
    return IpvsRender(
        ipvsadm="".join(f"{line}\n" for line in lines),
        ipset=_ipset_text(out, None if full else previous_sets),
        iptables=_iptables_text(config),
        servers=immutables.Map(servers),
        sets=immutables.Map({name: frozenset(items) for name, items in out.entries.items()}),
        bound=tuple(sorted(out.entries["KUBE-IPVS-IPS"])),
    )
