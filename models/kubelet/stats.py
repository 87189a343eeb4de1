"""What a node's container runtime measured at one moment (cAdvisor's figures): per container
cumulative cpu, working set, resident memory and start time, and the node's totals.

The kubelet API renders these as ``/stats/summary``, ``/metrics/resource`` and
``/metrics/cadvisor``. Times are Unix milliseconds; cpu is cumulative core-nanoseconds (one
core busy for one second is 1e9) and a current rate in nanocores.
"""

from __future__ import annotations

import msgspec


class ContainerStats(msgspec.Struct, frozen=True, kw_only=True):
    namespace: str
    pod: str
    pod_uid: str
    container: str
    image: str = ""
    container_id: str = ""
    """The runtime's id of this instance (``<runtime>://<hex>``)."""
    start_ms: int
    cpu_core_ns: int
    """cpu consumed since the container started."""
    cpu_nanocores: int = 0
    """The current cpu rate."""
    memory_working_set_bytes: int
    memory_rss_bytes: int = 0


class NodeStats(msgspec.Struct, frozen=True, kw_only=True):
    node: str
    timestamp_ms: int
    """When the figures were read."""
    start_ms: int
    """When the node booted (its cpu counter starts there)."""
    cpu_core_ns: int
    cpu_nanocores: int = 0
    memory_working_set_bytes: int
    containers: tuple[ContainerStats, ...] = ()
