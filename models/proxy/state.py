"""The kube-proxy machine's configuration and state (``impl/proxy/machine.py``).

State holds what kube-proxy's informers and proxier hold between syncs: the Services and
EndpointSlices seen (keyed by namespace and name, slices also indexed by their Service), the
node's zone, which Services changed since the last sync, whether the next sync must be full,
when the last full sync and the last stale-chain cleanup ran, what each mode left in the
kernel (iptables nat chains, the nftables elements, chains and sets, the IPVS virtual servers),
and what the sync in flight will leave there if it succeeds.
"""

from __future__ import annotations

import immutables
import msgspec

from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.config import ProxyConfig, ProxyMode

FULL_SYNC_PERIOD_SECONDS = 3600.0
"""``proxyutil.FullSyncPeriod``: kube-proxy resyncs everything at least hourly."""

Key = tuple[str, str]


class ProxyMachineConfig(msgspec.Struct, frozen=True, kw_only=True):
    proxy: ProxyConfig
    mode: ProxyMode = "iptables"
    sync_period_seconds: float = 30.0
    full_sync_period_seconds: float = FULL_SYNC_PERIOD_SECONDS


class NftablesState(msgspec.Struct, frozen=True, kw_only=True):
    """What kube-proxy remembers of the nftables kernel state between syncs: the map and set
    elements it wrote (container -> key -> value), the service chains and affinity sets in the
    table, the chains waiting to be deleted (name -> when they went stale), and whether the base
    chains have been recreated once."""

    elements: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    chains: frozenset[str] = frozenset()
    affinity_sets: frozenset[str] = frozenset()
    stale_chains: tuple[tuple[str, float], ...] = ()
    recreated: bool = False


class KernelState(msgspec.Struct, frozen=True, kw_only=True):
    """What the machine believes the kernel holds."""

    iptables_chains: frozenset[str] = frozenset()
    nftables: NftablesState = NftablesState()
    ipvs_servers: immutables.Map[str, tuple[str, ...]] = msgspec.field(
        default_factory=immutables.Map
    )
    """IPVS virtual servers (``PROTO/ip:port``) and the ipvsadm lines that made them."""
    ipvs_sets: immutables.Map[str, frozenset[str]] = msgspec.field(default_factory=immutables.Map)
    """The ipvs mode's ipsets and their entries."""


class InFlight(msgspec.Struct, frozen=True, kw_only=True):
    """The sync whose commands the runner is carrying out."""

    kernel: KernelState
    full: bool
    now_seconds: float
    cleaned_up: bool


class ProxyState(msgspec.Struct, frozen=True, kw_only=True):
    services: immutables.Map[Key, Service] = msgspec.field(default_factory=immutables.Map)
    slices: immutables.Map[Key, EndpointSlice] = msgspec.field(default_factory=immutables.Map)
    owner_slices: immutables.Map[Key, frozenset[Key]] = msgspec.field(
        default_factory=immutables.Map
    )
    zone: str = ""
    lists_synced: bool = False
    changed: immutables.Map[Key, bool] = msgspec.field(default_factory=immutables.Map)
    """Services changed since the last sync (a persistent set: keys, values unused)."""
    need_full_sync: bool = True
    last_full_sync_seconds: float | None = None
    last_cleanup_seconds: float = 0.0
    kernel: KernelState = KernelState()
    in_flight: InFlight | None = None
