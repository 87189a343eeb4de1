"""Node-pressure eviction (v1.35): the signals ``memory.available``, ``nodefs.available``,
``nodefs.inodesFree``, ``imagefs.available``, ``imagefs.inodesFree`` and ``pid.available``.

Theory of operation. Each usage observation compares every signal with its hard threshold
(``evictionHard``; defaults ``memory.available<100Mi``, ``nodefs.available<10%``,
``nodefs.inodesFree<5%``, ``imagefs.available<15%``; ``imagefs.inodesFree`` and
``pid.available`` only when configured). A percentage is of the signal's capacity, computed as
the kubelet does (``capacity * float32(percent / 100)``, truncated). A signal below its
threshold puts the node under its pressure: memory signals MemoryPressure, filesystem signals
DiskPressure, ``pid.available`` PIDPressure; each condition stays True until
``evictionPressureTransitionPeriod`` (5 min) has passed without one of its signals below.

While a signal is below, the kubelet evicts one pod per observation, unless an earlier victim
is still stopping. The signal acted on is the first below its threshold in the order memory,
nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available
(memory first, as ``byEvictionPriority`` sorts). Victims are ranked per signal:

- memory (``rankMemoryPressure``): pods whose memory use exceeds their request first, then
  lower priority first, then the larger use above the request;
- ``*.available`` (``rankDiskPressureFunc`` on ephemeral storage): the same with local storage
  use and the ``ephemeral-storage`` request;
- ``*.inodesFree``: the same with inodes used (nothing requests inodes, so any use exceeds);
- ``pid.available`` (``rankPIDPressure``): lower priority first, then more processes;

ties by the pod's UID. A victim gets phase Failed, reason ``Evicted`` and the message "The
node was low on resource: <memory|ephemeral-storage|inodes|pids>. Threshold quantity: <q>,
available: <a>. ", and its containers are stopped with no grace beyond the kubelet's 2 s
minimum. Node-level reclaim (image and dead-container garbage collection before evicting for
disk pressure) is not modelled: no images or dead containers take space here.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

from impl.kubelet import containers as ct
from impl.kubelet.status import TERMINAL
from models.kubelet.config import (
    DISK_EVICTION_RANKS_BY_MEMORY,
    EVICTION_IGNORES_PRIORITY,
    KubeletConfig,
)
from models.kubelet.events import DISK_SIGNALS, PID_SIGNAL, SignalObserved, UsageObserved
from models.kubelet.state import KubeletState, PodRecord
from models.quantity import Quantity, QuantityFormat

EVICTED: Final = "Evicted"
MEMORY: Final = "memory.available"
SIGNALS: Final = (MEMORY, *DISK_SIGNALS, PID_SIGNAL)
"""Every signal, in the order eviction acts on them."""
RESOURCE: Final = {
    MEMORY: "memory",
    "nodefs.available": "ephemeral-storage",
    "nodefs.inodesFree": "inodes",
    "imagefs.available": "ephemeral-storage",
    "imagefs.inodesFree": "inodes",
    PID_SIGNAL: "pids",
}
"""The resource each signal reclaims (``signalToResource``)."""
CONDITION: Final = {
    MEMORY: "MemoryPressure",
    **dict.fromkeys(DISK_SIGNALS, "DiskPressure"),
    PID_SIGNAL: "PIDPressure",
}


def _float32(value: float) -> float:
    """``value`` rounded to a float32, as the kubelet holds a threshold percentage."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def threshold(config: KubeletConfig, signal: str, capacity: int) -> int | None:
    """The signal's hard threshold as a quantity (None: no threshold for it)."""
    if signal == MEMORY:
        return config.eviction_hard_memory_available_bytes
    if signal == PID_SIGNAL:
        return config.eviction_hard_pid_available
    percent = {
        "nodefs.available": config.eviction_hard_nodefs_available_percent,
        "nodefs.inodesFree": config.eviction_hard_nodefs_inodes_free_percent,
        "imagefs.available": config.eviction_hard_imagefs_available_percent,
        "imagefs.inodesFree": config.eviction_hard_imagefs_inodes_free_percent,
    }.get(signal)
    if percent is None:
        return None
    return int(capacity * _float32(percent / 100))


def _observations(state: KubeletState) -> dict[str, SignalObserved]:
    observed = {o.signal: o for o in state.signals}
    if state.memory_available_bytes is not None:
        observed[MEMORY] = SignalObserved(
            signal=MEMORY, available=state.memory_available_bytes, capacity=0
        )
    return observed


def met(config: KubeletConfig, state: KubeletState) -> tuple[tuple[str, int, int], ...]:
    """The signals below their thresholds in the last observation, in eviction order, each
    with its threshold quantity and what is available."""
    observed = _observations(state)
    found = []
    for signal in SIGNALS:
        seen = observed.get(signal)
        if seen is None:
            continue
        limit = threshold(config, signal, seen.capacity)
        if limit is not None and seen.available < limit:
            found.append((signal, limit, seen.available))
    return tuple(found)


def observe(config: KubeletConfig, state: KubeletState, event: UsageObserved) -> KubeletState:
    """Record an observation and when each condition's signals were last below."""
    state = msgspec.structs.replace(
        state,
        memory_available_bytes=event.memory_available_bytes,
        usage=event.pods,
        signals=event.signals,
    )
    below = {CONDITION[signal] for signal, _, _ in met(config, state)}
    now = state.now_ms
    return msgspec.structs.replace(
        state,
        pressure_observed_ms=now if "MemoryPressure" in below else state.pressure_observed_ms,
        disk_pressure_observed_ms=(
            now if "DiskPressure" in below else state.disk_pressure_observed_ms
        ),
        pid_pressure_observed_ms=now if "PIDPressure" in below else state.pid_pressure_observed_ms,
    )


def _within(config: KubeletConfig, state: KubeletState, seen: int | None) -> bool:
    return seen is not None and state.now_ms - seen < config.eviction_pressure_transition_period_ms


def under_pressure(config: KubeletConfig, state: KubeletState) -> bool:
    """The MemoryPressure condition (with the transition period)."""
    return _within(config, state, state.pressure_observed_ms)


def disk_pressure(config: KubeletConfig, state: KubeletState) -> bool:
    return _within(config, state, state.disk_pressure_observed_ms)


def pid_pressure(config: KubeletConfig, state: KubeletState) -> bool:
    return _within(config, state, state.pid_pressure_observed_ms)


def pressure_conditions(config: KubeletConfig, state: KubeletState) -> tuple[str, ...]:
    """The node's pressure conditions that are True, in the kubelet's order."""
    return tuple(
        name
        for name, on in (
            ("MemoryPressure", under_pressure(config, state)),
            ("DiskPressure", disk_pressure(config, state)),
            ("PIDPressure", pid_pressure(config, state)),
        )
        if on
    )


def _request(record: PodRecord, resource: str) -> int:
    return dict(record.requests).get(resource, 0)


def rank(config: KubeletConfig, state: KubeletState, signal: str = MEMORY) -> tuple[PodRecord, ...]:
    """Active admitted pods in eviction order for ``signal``."""
    resource = RESOURCE[signal]
    if (
        resource in ("ephemeral-storage", "inodes")
        and config.mutant == DISK_EVICTION_RANKS_BY_MEMORY
    ):
        resource = "memory"
    use = {
        u.uid: {
            "memory": u.memory_bytes,
            "ephemeral-storage": u.disk_bytes,
            "inodes": u.inodes,
            "pids": u.processes,
        }[resource]
        for u in state.usage
    }

    def order(record: PodRecord) -> tuple[int, int, int, str]:
        priority = record.pod.pod_spec.priority or 0
        if config.mutant == EVICTION_IGNORES_PRIORITY:
            priority = 0
        used = use.get(record.uid, 0)
        if resource == "pids":
            return (0, priority, -used, record.uid)
        above = used - (0 if resource == "inodes" else _request(record, resource))
        return (0 if above > 0 else 1, priority, -above, record.uid)

    candidates = [
        r
        for r in state.pods
        if r.admitted and r.phase not in TERMINAL and r.deletion_deadline_ms is None
    ]
    return tuple(sorted(candidates, key=order))


def _quantity(value: int, binary: bool) -> str:
    return Quantity.from_int(
        value, QuantityFormat.BINARY_SI if binary else QuantityFormat.DECIMAL_SI
    ).canonical()


def message(signal: str, limit: int, available: int) -> str:
    """The evicted pod's status message (the threshold that was met). A threshold from a
    percentage is a BinarySI quantity (``GetThresholdQuantity``), ``pid.available``'s a
    DecimalSI count; bytes available are BinarySI, inodes and process IDs DecimalSI."""
    bytes_signal = RESOURCE[signal] in ("memory", "ephemeral-storage")
    return (
        f"The node was low on resource: {RESOURCE[signal]}. "
        f"Threshold quantity: {_quantity(limit, signal != PID_SIGNAL)}, "
        f"available: {_quantity(available, bytes_signal)}. "
    )


def evict(config: KubeletConfig, state: KubeletState) -> KubeletState:
    """Mark the first-ranked pod evicted when a signal is below its threshold now."""
    below = met(config, state)
    if not below:
        return state
    stopping = any(
        r.reason == EVICTED and any(ct.active(c) for c in r.containers) for r in state.pods
    )
    signal, limit, available = below[0]
    ranked = rank(config, state, signal)
    if stopping or not ranked:
        return state
    victim = msgspec.structs.replace(
        ranked[0],
        phase="Failed",
        reason=EVICTED,
        message=message(signal, limit, available),
        eviction_signal=signal,
    )
    pods = tuple(victim if r.uid == victim.uid else r for r in state.pods)
    return msgspec.structs.replace(state, pods=pods)
