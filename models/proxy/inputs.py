"""What ``check proxy`` and ``serve proxy`` read besides rules: the cluster's Services and
EndpointSlices, the proxy's Node, and its ``KubeProxyConfiguration``.

``KubeProxyConfiguration`` (``kubeproxy.config.k8s.io/v1alpha1``) is read strictly, with the
fields kube-proxy v1.35 documents; the ones that change what a packet meets are interpreted:
``hostnameOverride`` (the node), ``clusterCIDR`` (pod CIDRs, comma-separated), ``mode``,
``nodePortAddresses`` (CIDRs, or ``primary``; empty means every local address in iptables
mode and the primary address in nftables mode), ``iptables``/``nftables``
``masqueradeAll`` and ``masqueradeBit``, ``iptables.localhostNodePorts``, ``ipvs.scheduler``.
The Node gives the local addresses (``status.addresses``, InternalIP first) and the zone
(label ``topology.kubernetes.io/zone``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final, Literal

import msgspec
from returns.result import Failure, Result, Success

from models.k8s.base import ApiStruct, Int32, Opaque
from models.k8s.core.node import Node
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.k8s.lists import EndpointSliceList, List, NodeList, ServiceList
from models.k8s.meta import ObjectMeta
from models.proxy.config import DEFAULT_MASQUERADE_BIT, ProxyConfig, ProxyMode

ZONE_LABEL: Final = "topology.kubernetes.io/zone"
ADDRESS_ORDER: Final = ("InternalIP", "ExternalIP")


class ProxyTableConfig(ApiStruct, frozen=True, kw_only=True):
    """``iptables``/``nftables`` sections (``localhostNodePorts`` is iptables only)."""

    masquerade_all: bool | None = None
    masquerade_bit: Int32 | None = None
    localhost_node_ports: bool | None = None
    sync_period: str | None = None
    min_sync_period: str | None = None


class IpvsConfig(ApiStruct, frozen=True, kw_only=True):
    scheduler: str | None = None
    sync_period: str | None = None
    min_sync_period: str | None = None
    exclude_cidrs: tuple[str, ...] | None = msgspec.field(default=None, name="excludeCIDRs")
    strict_arp: bool | None = msgspec.field(default=None, name="strictARP")
    tcp_timeout: str | None = None
    tcp_fin_timeout: str | None = None
    udp_timeout: str | None = None


class KubeProxyConfiguration(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["kubeproxy.config.k8s.io/v1alpha1"] | None = None
    kind: Literal["KubeProxyConfiguration"] | None = None
    metadata: ObjectMeta | None = None
    bind_address: str | None = None
    healthz_bind_address: str | None = None
    metrics_bind_address: str | None = None
    bind_address_hard_fail: bool | None = None
    enable_profiling: bool | None = None
    show_hidden_metrics_for_version: str | None = None
    cluster_cidr: str | None = msgspec.field(default=None, name="clusterCIDR")
    hostname_override: str | None = None
    client_connection: Opaque | None = None
    iptables: ProxyTableConfig | None = None
    nftables: ProxyTableConfig | None = None
    ipvs: IpvsConfig | None = None
    winkernel: Opaque | None = None
    mode: str | None = None
    port_range: str | None = None
    conntrack: Opaque | None = None
    config_sync_period: str | None = None
    node_port_addresses: tuple[str, ...] | None = None
    feature_gates: Opaque | None = None
    detect_local_mode: str | None = None
    detect_local: Opaque | None = None
    logging: Opaque | None = None
    oom_score_adj: Int32 | None = None
    sync_period: str | None = None
    min_sync_period: str | None = None


PROXY_KINDS: Final = {
    ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"): KubeProxyConfiguration
}


class ProxyInputs(msgspec.Struct, frozen=True, kw_only=True):
    services: tuple[Service, ...] = ()
    slices: tuple[EndpointSlice, ...] = ()
    nodes: tuple[Node, ...] = ()
    configuration: KubeProxyConfiguration | None = None


def gather(objects: Iterable[object]) -> ProxyInputs:
    """Sort decoded objects (lists unwrapped) by kind; other kinds are ignored."""
    services: list[Service] = []
    slices: list[EndpointSlice] = []
    nodes: list[Node] = []
    configuration: KubeProxyConfiguration | None = None
    for item in objects:
        if isinstance(item, List | ServiceList | EndpointSliceList | NodeList):
            nested = gather(item.items or ())
            services.extend(nested.services)
            slices.extend(nested.slices)
            nodes.extend(nested.nodes)
        elif isinstance(item, Service):
            services.append(item)
        elif isinstance(item, EndpointSlice):
            slices.append(item)
        elif isinstance(item, Node):
            nodes.append(item)
        elif isinstance(item, KubeProxyConfiguration):
            configuration = item
    return ProxyInputs(
        services=tuple(services),
        slices=tuple(slices),
        nodes=tuple(nodes),
        configuration=configuration,
    )


def _node(inputs: ProxyInputs, name: str | None) -> Result[Node, str]:
    named = [n for n in inputs.nodes if n.metadata is not None and n.metadata.name == name]
    if name and named:
        return Success(named[0])
    if name is None and len(inputs.nodes) == 1:
        return Success(inputs.nodes[0])
    if name is None:
        return Failure(
            f"found {len(inputs.nodes)} Nodes: say which one the proxy runs on with "
            "KubeProxyConfiguration.hostnameOverride"
        )
    return Failure(f"no Node named {name!r} (KubeProxyConfiguration.hostnameOverride)")


def _addresses(node: Node) -> tuple[str, ...]:
    found = [a for a in (node.status.addresses or ()) if a.address] if node.status else []
    found.sort(key=lambda a: ADDRESS_ORDER.index(a.type) if a.type in ADDRESS_ORDER else 9)
    result: list[str] = []
    for address in found:
        text = address.address or ""
        if text not in result and _is_ipv4(text):
            result.append(text)
    return tuple(result)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _node_port_addresses(
    settings: tuple[str, ...], mode: ProxyMode, addresses: tuple[str, ...]
) -> Result[tuple[str, ...] | None, str]:
    if not settings:
        return Success(addresses[:1] if mode == "nftables" else None)
    chosen: list[str] = []
    for setting in settings:
        if setting == "primary":
            chosen.extend(addresses[:1])
            continue
        try:
            network = ipaddress.IPv4Network(setting, strict=False)
        except ValueError:
            return Failure(f"nodePortAddresses: {setting!r} is neither a CIDR nor 'primary'")
        chosen.extend(a for a in addresses if ipaddress.IPv4Address(a) in network)
    return Success(tuple(dict.fromkeys(chosen)))


def proxy_config(inputs: ProxyInputs, mode: ProxyMode | None = None) -> Result[ProxyConfig, str]:
    """The node facts and options the model and the generators need."""
    settings = inputs.configuration or KubeProxyConfiguration()
    chosen_mode: ProxyMode = mode or _mode(settings.mode)
    found = _node(inputs, settings.hostname_override)
    if not isinstance(found, Success):
        return Failure(found.failure())
    node = found.unwrap()
    addresses = _addresses(node)
    if not addresses:
        return Failure("the Node has no IPv4 address in status.addresses")
    ports = _node_port_addresses(settings.node_port_addresses or (), chosen_mode, addresses)
    if not isinstance(ports, Success):
        return Failure(ports.failure())
    table = (settings.nftables if chosen_mode == "nftables" else settings.iptables) or (
        ProxyTableConfig()
    )
    cidrs = tuple(c.strip() for c in (settings.cluster_cidr or "").split(",") if c.strip())
    labels = node.metadata.labels if node.metadata and node.metadata.labels else {}
    return Success(
        ProxyConfig(
            node_name=(node.metadata.name if node.metadata else None) or "",
            local_addresses=addresses,
            zone=labels.get(ZONE_LABEL, ""),
            cluster_cidrs=tuple(c for c in cidrs if "." in c),
            node_port_addresses=ports.unwrap(),
            masquerade_all=bool(table.masquerade_all),
            masquerade_bit=table.masquerade_bit or DEFAULT_MASQUERADE_BIT,
            localhost_node_ports=_localhost(chosen_mode, table, ports.unwrap()),
            ipvs_scheduler=(settings.ipvs.scheduler if settings.ipvs else None) or "rr",
        )
    )


def _localhost(
    mode: ProxyMode, table: ProxyTableConfig, node_ports: tuple[str, ...] | None
) -> bool:
    """iptables mode only, on by default, and only when NodePorts include loopback."""
    loopback = node_ports is None or any(a.startswith("127.") for a in node_ports)
    return mode == "iptables" and table.localhost_node_ports is not False and loopback


def _mode(text: str | None) -> ProxyMode:
    if text == "nftables":
        return "nftables"
    if text == "ipvs":
        return "ipvs"
    return "iptables"
