"""The kubelet's observable state: its node bookkeeping, and per pod its containers.

A ``KubeletState`` holds nothing a restart keeps (the kubelet relists from the API server and
asks the runtime again), so a node reboot is ``init`` again. ``spec/kubelet`` judges this state
without ``impl/``: pods' phases, each container's state and restart count, the admitted pods'
requests, and when each stop signal was sent.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from models.k8s.core.node import Node, NodeStatus
from models.k8s.core.pod import Pod, PodStatus
from models.kubelet.events import ApiRequest, PodUsage, ProbeKind, Signal, SignalObserved

ContainerRole = Literal["init", "sidecar", "regular"]
ContainerPhase = Literal["waiting", "running", "terminated"]
SandboxState = Literal["none", "creating", "ready", "removed"]


class Terminated(msgspec.Struct, frozen=True, kw_only=True):
    """One finished container instance."""

    exit_code: int
    reason: str
    signal: int = 0
    started_at_ms: int
    finished_at_ms: int
    attempt: int


class ProbeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A prober worker: the current result, the run of equal answers, the next probe time."""

    kind: ProbeKind
    result: bool
    last: bool | None = None
    run: int = 0
    next_at_ms: int
    in_flight: bool = False


class ContainerRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    role: ContainerRole
    attempt: int = 0
    """Instances created so far (the next StartContainer uses ``attempt + 1``)."""
    phase: ContainerPhase = "waiting"
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    starting: bool = False
    started_at_ms: int = 0
    terminated: Terminated | None = None
    last_terminated: Terminated | None = None
    restart_count: int = 0
    started: bool = False
    ready: bool = False
    probes: tuple[ProbeRecord, ...] = ()
    stop_signal: Signal | None = None
    stop_sent_ms: int = 0
    stop_deadline_ms: int = 0
    """When SIGKILL follows the SIGTERM (sent time + grace period)."""
    stop_reason: str = ""
    prestop: Literal["none", "running", "done"] = "none"
    """The preStop hook of the current instance: not run, running (SIGTERM waits), done."""
    extended: bool = False
    """The one-time 2 s extension of a grace period a preStop hook outlasted was given."""


class ConditionRecord(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    status: str
    reason: str = ""
    message: str = ""
    since_ms: int


class PodRecord(msgspec.Struct, frozen=True, kw_only=True):
    uid: str
    pod: Pod
    admitted: bool
    requests: tuple[tuple[str, int], ...] = ()
    """What admission counted (cpu in millicores, others in base units)."""
    sandbox: SandboxState = "none"
    pod_ip: str = ""
    containers: tuple[ContainerRecord, ...] = ()
    start_time_ms: int = 0
    phase: str = "Pending"
    reason: str = ""
    message: str = ""
    deletion_started_ms: int | None = None
    deletion_deadline_ms: int | None = None
    delete_sent: bool = False
    conditions: tuple[ConditionRecord, ...] = ()
    status_sent: PodStatus | None = None
    eviction_signal: str = ""
    """The signal node-pressure eviction chose this pod for (when evicted)."""


class BackoffEntry(msgspec.Struct, frozen=True, kw_only=True):
    """``flowcontrol.Backoff``'s entry for one pod's container."""

    key: str
    backoff_ms: int
    last_update_ms: int


class KubeletState(msgspec.Struct, frozen=True, kw_only=True):
    now_ms: int
    registered: bool = False
    register_tried_ms: int | None = None
    pending: frozenset[ApiRequest] = frozenset()
    node: Node | None = None
    lease_renewed_ms: int | None = None
    lease_tried_ms: int | None = None
    status_sent: NodeStatus | None = None
    status_sent_ms: int | None = None
    status_checked_ms: int | None = None
    node_conditions: tuple[ConditionRecord, ...] = ()
    memory_available_bytes: int | None = None
    pressure_observed_ms: int | None = None
    """When ``memory.available`` was last observed below its threshold."""
    signals: tuple[SignalObserved, ...] = ()
    """The filesystem and PID signals of the last observation."""
    disk_pressure_observed_ms: int | None = None
    pid_pressure_observed_ms: int | None = None
    usage: tuple[PodUsage, ...] = ()
    pods: tuple[PodRecord, ...] = ()
    backoff: tuple[BackoffEntry, ...] = ()

    def pod(self, uid: str) -> PodRecord | None:
        for record in self.pods:
            if record.uid == uid:
                return record
        return None
