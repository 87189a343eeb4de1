"""The kubelet's settings that change what it does, with v1.35 defaults.

Sources: ``pkg/kubelet/apis/config/v1beta1/defaults.go`` (nodeStatusUpdateFrequency 10 s,
nodeStatusReportFrequency 5 min, nodeLeaseDurationSeconds 40, maxPods 110, evictionHard
``memory.available<100Mi``, ``nodefs.available<10%``, ``nodefs.inodesFree<5%`` and
``imagefs.available<15%`` (``pid.available`` and ``imagefs.inodesFree`` have none),
evictionPressureTransitionPeriod 5 min), ``pkg/kubelet/nodelease`` (renew interval 0.25 x
lease duration) and the container restart backoff of ``pkg/kubelet/kubelet.go`` (10 s
doubling, capped at 300 s).

Times are milliseconds, resources in the units the scheduler compares (cpu in millicores,
everything else in bytes or counts).
"""

from __future__ import annotations

from typing import Final

import msgspec

KUBELET_VERSION: Final = "v1.35.0"
MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB

PROBE_THRESHOLD_OFF_BY_ONE: Final = "probe-threshold-off-by-one"
"""Mutant: a probe result flips one consecutive answer late (``run > threshold``)."""
BACKOFF_NOT_RESET: Final = "backoff-not-reset"
"""Mutant: the crash-loop backoff never expires, however long a container ran."""
EVICTION_IGNORES_PRIORITY: Final = "eviction-ignores-priority"
"""Mutant: node-pressure eviction ranks by usage alone, ignoring pod priority."""
DISK_EVICTION_RANKS_BY_MEMORY: Final = "disk-eviction-ranks-by-memory"
"""Mutant: under disk pressure (bytes or inodes), pods are ranked by their memory use instead of
their disk or inode use."""
MUTANTS: Final = (
    PROBE_THRESHOLD_OFF_BY_ONE,
    BACKOFF_NOT_RESET,
    EVICTION_IGNORES_PRIORITY,
    DISK_EVICTION_RANKS_BY_MEMORY,
)


class NodeResources(msgspec.Struct, frozen=True, kw_only=True):
    """A node's amounts of the resources the kubelet accounts for."""

    cpu_millis: int = 4000
    memory_bytes: int = 8 * GIB
    ephemeral_storage_bytes: int = 100 * GIB
    pods: int = 110


class KubeletConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One kubelet's settings."""

    node_name: str
    node_ip: str = "127.0.0.1"
    labels: tuple[tuple[str, str], ...] = ()
    capacity: NodeResources = msgspec.field(default_factory=NodeResources)
    reserved_cpu_millis: int = 0
    """kube-reserved plus system-reserved cpu."""
    reserved_memory_bytes: int = 0
    eviction_hard_memory_available_bytes: int = 100 * MIB
    eviction_hard_nodefs_available_percent: int = 10
    eviction_hard_nodefs_inodes_free_percent: int | None = 5
    eviction_hard_imagefs_available_percent: int | None = 15
    eviction_hard_imagefs_inodes_free_percent: int | None = None
    eviction_hard_pid_available: int | None = None
    """``pid.available``: no default threshold (opt-in), a count of process IDs."""
    eviction_pressure_transition_period_ms: int = 300_000
    node_status_update_frequency_ms: int = 10_000
    node_status_report_frequency_ms: int = 300_000
    node_lease_duration_seconds: int = 40
    initial_backoff_ms: int = 10_000
    max_container_backoff_ms: int = 300_000
    default_termination_grace_period_seconds: int = 30
    minimum_grace_period_ms: int = 2_000
    kubelet_port: int = 10250
    boot_id: str = ""
    mutant: str = ""
    """A deliberately broken behaviour (one of ``MUTANTS``) for showing checkers catch it."""

    @property
    def lease_renew_interval_ms(self) -> int:
        """``nodelease``: renew every quarter of the lease duration (10 s for 40 s)."""
        return self.node_lease_duration_seconds * 1000 // 4

    def allocatable(self) -> NodeResources:
        """capacity - reserved - hard eviction thresholds (memory and nodefs)."""
        capacity = self.capacity
        storage = capacity.ephemeral_storage_bytes
        return NodeResources(
            cpu_millis=max(0, capacity.cpu_millis - self.reserved_cpu_millis),
            memory_bytes=max(
                0,
                capacity.memory_bytes
                - self.reserved_memory_bytes
                - self.eviction_hard_memory_available_bytes,
            ),
            ephemeral_storage_bytes=storage
            - storage * self.eviction_hard_nodefs_available_percent // 100,
            pods=capacity.pods,
        )
