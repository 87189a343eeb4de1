"""What one node's service proxy knows besides Services and EndpointSlices: the node and the
proxy's own options.

``ProxyConfig`` is shared by the service model (``spec/proxy``) and the rule generators
(``impl/proxy``): the node the proxy runs on (its name, zone and local addresses), the pod
CIDRs that tell pod traffic from other traffic (kube-proxy's ``--cluster-cidr``, the "local
traffic detector"), the addresses that accept NodePort connections (``--nodeport-addresses``)
and kube-proxy's masquerade options. Every field is plain data; ``ipaddress`` helpers below
answer the membership questions both sides ask.
"""

from __future__ import annotations

import ipaddress
from typing import Final, Literal

import msgspec

ProxyMode = Literal["iptables", "nftables", "ipvs", "userspace"]
PROXY_MODES: Final[tuple[ProxyMode, ...]] = ("iptables", "nftables", "ipvs", "userspace")

DEFAULT_MASQUERADE_BIT: Final = 14
"""kube-proxy's ``--iptables-masquerade-bit`` default: mark ``0x4000``."""

DEFAULT_AFFINITY_TIMEOUT_SECONDS: Final = 10800
"""``sessionAffinityConfig.clientIP.timeoutSeconds`` default (3 hours), per the Service API."""

LOOPBACK_CIDR: Final = "127.0.0.0/8"


class ProxyConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One node's proxy: where it runs and how it is configured.

    ``local_addresses`` are every address of the node (``addrtype LOCAL``), the primary first;
    ``node_port_addresses`` are the addresses that accept NodePort connections, or ``None`` for
    every local address except loopback (kube-proxy's default in iptables mode).
    """

    node_name: str
    local_addresses: tuple[str, ...]
    zone: str = ""
    cluster_cidrs: tuple[str, ...] = ()
    service_cidrs: tuple[str, ...] = ()
    node_port_addresses: tuple[str, ...] | None = None
    masquerade_all: bool = False
    masquerade_bit: int = DEFAULT_MASQUERADE_BIT
    localhost_node_ports: bool = False
    random_fully: bool = True
    nfacct: bool = False
    conntrack_tcp_liberal: bool = False
    ipvs_scheduler: str = "rr"

    @property
    def primary_address(self) -> str:
        return self.local_addresses[0] if self.local_addresses else ""

    @property
    def masquerade_mark(self) -> int:
        return 1 << self.masquerade_bit


def _network(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr.strip(), strict=False)


def in_cidr(address: str, cidr: str) -> bool:
    """Is ``address`` inside ``cidr`` (surrounding spaces ignored, as kube-proxy does)?"""
    return ipaddress.IPv4Address(address) in _network(cidr)


def in_any(address: str, cidrs: tuple[str, ...]) -> bool:
    return any(in_cidr(address, cidr) for cidr in cidrs)


def is_local(config: ProxyConfig, address: str) -> bool:
    """Is ``address`` one of the node's own (``addrtype LOCAL``; loopback included)?"""
    return address in config.local_addresses or in_cidr(address, LOOPBACK_CIDR)


def is_pod_source(config: ProxyConfig, address: str) -> bool:
    """Does traffic from ``address`` come from a pod (inside a cluster CIDR)?"""
    return in_any(address, config.cluster_cidrs)


def accepts_node_port(config: ProxyConfig, address: str) -> bool:
    """Does the node accept NodePort connections addressed to ``address``?"""
    if config.node_port_addresses is None:
        return is_local(config, address) and not (
            in_cidr(address, LOOPBACK_CIDR) and not config.localhost_node_ports
        )
    return address in config.node_port_addresses
