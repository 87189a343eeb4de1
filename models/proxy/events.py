"""Events into and commands out of the kube-proxy machine (``impl/proxy/machine.py``).

Events are what kube-proxy's informers and sync loop deliver: Services and EndpointSlices
added, updated or deleted, the node's zone label, the initial lists being complete, a sync
falling due (with the time), the result of carrying out the last sync's command, and the
kernel's rules having been flushed behind kube-proxy's back. Commands are what a sync asks the
runner to do in the kernel, one per mode.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice


class JumpRule(msgspec.Struct, frozen=True, kw_only=True):
    """A rule kube-proxy ensures at the top of a built-in chain (``iptables -I``), outside the
    restore input so that other programs' rules in that chain survive."""

    table: str
    chain: str
    target: str
    args: tuple[str, ...] = ()
    comment: str = ""

    def arguments(self) -> tuple[str, ...]:
        comment = ("-m", "comment", "--comment", self.comment) if self.comment else ()
        return (*self.args, *comment, "-j", self.target)


class ServiceUpserted(msgspec.Struct, frozen=True, kw_only=True, tag="service-upserted"):
    service: Service


class ServiceDeleted(msgspec.Struct, frozen=True, kw_only=True, tag="service-deleted"):
    namespace: str
    name: str


class EndpointSliceUpserted(msgspec.Struct, frozen=True, kw_only=True, tag="slice-upserted"):
    endpoint_slice: EndpointSlice


class EndpointSliceDeleted(msgspec.Struct, frozen=True, kw_only=True, tag="slice-deleted"):
    namespace: str
    name: str


class NodeZoneChanged(msgspec.Struct, frozen=True, kw_only=True, tag="node-zone"):
    """The node's ``topology.kubernetes.io/zone`` label changed (kube-proxy resyncs fully)."""

    zone: str


class InitialListsSynced(msgspec.Struct, frozen=True, kw_only=True, tag="lists-synced"):
    """Both informers (Services, EndpointSlices) finished their initial list."""


class SyncDue(msgspec.Struct, frozen=True, kw_only=True, tag="sync-due"):
    """The sync runner fires; ``now_seconds`` is the runner's monotonic clock."""

    now_seconds: float


class SyncApplied(msgspec.Struct, frozen=True, kw_only=True, tag="sync-applied"):
    """The runner carried out the last sync's commands; ``ok`` false when the kernel refused."""

    ok: bool


class RulesFlushed(msgspec.Struct, frozen=True, kw_only=True, tag="rules-flushed"):
    """Someone flushed kube-proxy's rules (the iptables canary chain vanished)."""


ProxyEvent = (
    ServiceUpserted
    | ServiceDeleted
    | EndpointSliceUpserted
    | EndpointSliceDeleted
    | NodeZoneChanged
    | InitialListsSynced
    | SyncDue
    | SyncApplied
    | RulesFlushed
)


class EnsureJumpRules(msgspec.Struct, frozen=True, kw_only=True, tag="ensure-jumps"):
    """Create each target chain if missing and prepend each jump rule if missing."""

    rules: tuple[JumpRule, ...]


class IptablesRestore(msgspec.Struct, frozen=True, kw_only=True, tag="iptables-restore"):
    """Feed ``text`` to ``iptables-restore --noflush --counters``."""

    text: str
    full: bool


class NftablesRun(msgspec.Struct, frozen=True, kw_only=True, tag="nft-run"):
    """Feed ``text`` to ``nft -f -`` (one atomic transaction)."""

    text: str
    full: bool


class IpvsApply(msgspec.Struct, frozen=True, kw_only=True, tag="ipvs-apply"):
    """Configure IPVS (``ipvsadm-restore`` input), its ipsets (``ipset restore`` input) and the
    iptables helper rules (``iptables-restore --noflush`` input)."""

    ipvsadm: str
    ipset: str
    iptables: str
    full: bool


class UserspaceRoute(msgspec.Struct, frozen=True, kw_only=True):
    """One frontend of the userspace proxy: where it listens, the backends it round-robins
    over, and its ClientIP affinity timeout (None without affinity)."""

    service: str
    protocol: str
    address: str
    port: int
    backends: tuple[str, ...]
    affinity_timeout_seconds: int | None = None
    verdict: Literal["forward", "reject", "drop"] = "forward"


class UserspaceTable(msgspec.Struct, frozen=True, kw_only=True, tag="userspace-table"):
    routes: tuple[UserspaceRoute, ...]


ProxyCommand = EnsureJumpRules | IptablesRestore | NftablesRun | IpvsApply | UserspaceTable
