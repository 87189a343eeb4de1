"""The state of the whole-cluster world (``runner.cluster.world``), as one immutable value.

- ``members``: the etcd members on Raft (``runner.etcd.sim_members``: a machines world);
- ``api``: the API server machine, the etcd member it talks to, its storage operations in
  flight there (by etcd request id) and its storage watch on that member;
- ``calls``: every API request a component is waiting on, by API request id (who asked, why);
- the components: the scheduler, two controller-manager replicas, the kubelets; each with its
  informers (one list-then-watch per resource, and the watch lines not handed over yet).

A component machine's state sits in a :class:`Box`: fingerprinted by a digest of the events
the machine was given, since the machine is deterministic and its state a function of them (so
a trace stays small and a divergence names the component whose inputs differ).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import immutables
import msgspec

from impl.apiserver.state import ApiServerState
from impl.controllers.leaderelection import Observation
from impl.etcd.watch import WatchStream
from models.apiserver.messages import StorageResult
from models.proxy.events import UserspaceRoute
from runner.etcd.sim_members import MembersState
from runner.sim.fingerprint import encode

START_SECONDS: Final = 1_767_225_600
"""The cluster's wall clock at time 0 (2026-01-01T00:00:00Z)."""


class Box:
    """A machine's state, fingerprinted by the digest of the events it was given."""

    __slots__ = ("digest", "state")

    def __init__(self, state: Any, digest: str) -> None:
        self.state = state
        self.digest = digest

    def to_builtins(self) -> object:
        return {"events": self.digest}

    def after(self, state: Any, event: object) -> Box:
        data = self.digest.encode() + encode(event)
        return Box(state, hashlib.blake2b(data, digest_size=16).hexdigest())


class Informer(msgspec.Struct, frozen=True, kw_only=True):
    """One list-then-watch: the API watch it follows (0: none; it must list), the list call
    in flight (0: none), the revision of its last list, and the lines not handed over."""

    watch_id: int = 0
    listing: int = 0
    listed_revision: int = 0
    pending: tuple[bytes, ...] = ()


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who waits for an API answer and why: ``purpose`` is ``list``/``watch`` (an informer of
    ``resource``), ``call`` (a controller's call: ``controller``, ``token`` its request id),
    ``bind`` (``token``: the pod key's index in ``text``), ``lease-get``/``lease-write`` (a
    replica's election), ``kubelet`` (``text``: the write the kubelet waits on), ``user``."""

    component: str
    purpose: str
    resource: str = ""
    controller: int = 0
    token: int = 0
    text: str = ""
    incarnation: int = 0


class EtcdCall(msgspec.Struct, frozen=True, kw_only=True):
    member: int
    operation_id: int


class ApiSlot(msgspec.Struct, frozen=True, kw_only=True):
    """The API server: its machine (None while down), the member it talks to, its storage
    operations in flight by etcd request id, its storage watch, and its incarnation."""

    state: ApiServerState | None
    member: int = 1
    incarnation: int = 0
    operations: immutables.Map[int, EtcdCall] = msgspec.field(default_factory=immutables.Map)
    watch: WatchStream | None = None
    watch_member: int = 0
    watch_prefix: bytes = b""
    draws: int = 0
    parked: tuple[tuple[int, StorageResult], ...] = ()
    """Storage answers held back until the next action (errors: a client backs off)."""


class SchedulerSlot(msgspec.Struct, frozen=True, kw_only=True):
    machine: Box
    informers: immutables.Map[str, Informer] = msgspec.field(default_factory=immutables.Map)
    nodes_seen: immutables.Map[str, bytes] = msgspec.field(default_factory=immutables.Map)
    """Each node as the scheduler's informer last delivered it (what its cache should hold)."""


class ManagerSlot(msgspec.Struct, frozen=True, kw_only=True):
    """A controller-manager replica: up or stopped, its election, and while leading its
    controllers and informers. ``acquired_revision``: the Lease revision that made it
    leader; each informer's ``listed_revision`` must reach it before a controller acts."""

    up: bool = True
    incarnation: int = 0
    observation: Observation = msgspec.field(default_factory=Observation)
    leading: bool = False
    renewed_ms: int = 0
    next_try_ms: int = 0
    electing: bool = False
    lease_version: str = ""
    acquired_revision: int = 0
    controllers: tuple[Box | None, ...] = ()
    informers: immutables.Map[str, Informer] = msgspec.field(default_factory=immutables.Map)


class KubeletSlot(msgspec.Struct, frozen=True, kw_only=True):
    """A node: its kubelet and simulated runtime (a :class:`Box` of the pair; None while the
    node is down), its informers, the pods its informer knows (uid -> raw) and when (on the
    node's clock) it learned of each removal, its clock offset and its boots."""

    machine: Box | None
    informers: immutables.Map[str, Informer] = msgspec.field(default_factory=immutables.Map)
    known: immutables.Map[str, bytes] = msgspec.field(default_factory=immutables.Map)
    deleted_ms: immutables.Map[str, int] = msgspec.field(default_factory=immutables.Map)
    terminating: immutables.Map[str, tuple[int, int]] = msgspec.field(
        default_factory=immutables.Map
    )
    """Pods whose ``deletionTimestamp`` the informer delivered: when (the node's clock, ms:
    the world's plus its skew then) and the grace period (s) the object gave."""
    skew_ms: int = 0
    boots: int = 0
    lease_version: str = ""


class ProxySlot(msgspec.Struct, frozen=True, kw_only=True):
    """kube-proxy: its machine, informers, the objects its informers hold
    (``resource/namespace/name``), the resources listed once, whether its first lists are in,
    and the routes of its last sync."""

    machine: Box
    informers: immutables.Map[str, Informer] = msgspec.field(default_factory=immutables.Map)
    seen: frozenset[str] = frozenset()
    listed: frozenset[str] = frozenset()
    synced: bool = False
    routes: tuple[UserspaceRoute, ...] = ()


class ClusterState(msgspec.Struct, frozen=True, kw_only=True):
    members: MembersState
    api: ApiSlot
    now_ms: int = 0
    next_request: int = 1
    next_etcd_request: int = 1
    calls: immutables.Map[int, Caller] = msgspec.field(default_factory=immutables.Map)
    watches: immutables.Map[int, Caller] = msgspec.field(default_factory=immutables.Map)
    cut: frozenset[str] = frozenset()
    """Components cut off from the API server."""
    api_cut: frozenset[int] = frozenset()
    """etcd members the API server cannot reach."""
    scheduler: SchedulerSlot
    managers: tuple[ManagerSlot, ...]
    kubelets: tuple[KubeletSlot, ...]
    proxy: ProxySlot
    tainted: frozenset[str] = frozenset()
    cordoned: frozenset[str] = frozenset()
    evictions: tuple[tuple[str, int, int], ...] = ()
    """A drain's evictions the API server refused (429) to be sent again: (pod
    ``namespace/name``, when to send, when the drain gives up; world ms)."""
