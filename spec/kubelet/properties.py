"""Safety properties of the kubelet, judged on its state before and after each step, each with
a ``sometimes`` companion showing the situation it guards arises.

- ``kubelet.phase_transitions``: a pod's phase moves only Pending -> Running, Pending or
  Running -> Succeeded or Failed; Succeeded and Failed are final (Pod lifecycle: "Pod phase";
  the API server refuses a terminal pod's return). Companion ``kubelet.reached_terminal``: a
  pod went from Running to Succeeded or Failed.
- ``kubelet.restart_count_monotone``: a container's restartCount never decreases (Pod API
  reference, ContainerStatus.restartCount). Companion ``kubelet.restarted``: it increased.
- ``kubelet.admission_within_allocatable``: the admitted, non-terminal pods' requests never
  exceed the node's allocatable, nor their count ``pods`` (kubelet admission,
  ``pkg/kubelet/lifecycle/predicate.go``). Companion ``kubelet.refused_for_resources``: a pod
  was refused with an ``OutOf<resource>`` reason.
- ``kubelet.grace_period_honoured``: SIGKILL is never sent before the grace period of its
  SIGTERM is over, and a deleted pod's grace period is the one it was deleted with, at least
  2 s ("Termination of Pods"). Companion ``kubelet.killed_after_grace``: a SIGKILL was sent.
- ``kubelet.ready_only_when_running``: a pod whose Ready condition is True is Running and
  every container that gates readiness is ready ("Pod conditions"). Companion
  ``kubelet.became_ready``: a pod became Ready.
- ``kubelet.single_instance`` (across nodes): a pod's containers run on at most one node.
  Companion ``kubelet.ran``: some container ran.
- ``kubelet.probe_thresholds``: a probe worker whose run of equal answers has reached the
  threshold for that answer (``successThreshold`` or ``failureThreshold``, defaults 1 and 3)
  holds that answer as its result (API reference, Probe). Companion
  ``kubelet.probe_flipped``: a result changed.
- ``kubelet.backoff_expires``: a container is never held in CrashLoopBackOff by a backoff entry
  that had gone unused for more than twice the maximum backoff (600 s) before the exit ("Pod
  lifecycle": the backoff resets after ten minutes of running). Companion
  ``kubelet.backed_off``: some container was held back.
- ``kubelet.eviction_order``: the pod evicted for a signal is first in the documented ranking
  of the pods that were candidates ("Node-pressure Eviction"): for memory, usage above the
  memory request first, then lower priority, then larger usage above the request; for
  ``nodefs.available``/``imagefs.available`` the same with local storage and the
  ``ephemeral-storage`` request; for ``*.inodesFree`` with inodes (nothing requests inodes);
  for ``pid.available`` lower priority first, then more processes. Companion
  ``kubelet.evicted``.
- ``kubelet.eviction_under_pressure``: a pod is evicted for a signal only when that step's
  observation has the signal below its hard threshold (memory.available in bytes;
  nodefs/imagefs percentages of the capacity observed, with the slack of the kubelet's float32
  percentage; pid.available a count). Companion ``kubelet.evicted_for_disk_or_pids``: a pod was
  evicted for a filesystem or PID signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from models.kubelet.config import KubeletConfig
from models.kubelet.state import KubeletState, PodRecord
from spec.property import Violation

ALLOWED: Final[Mapping[str, frozenset[str]]] = {
    "Pending": frozenset({"Pending", "Running", "Succeeded", "Failed"}),
    "Running": frozenset({"Running", "Succeeded", "Failed"}),
    "Succeeded": frozenset({"Succeeded"}),
    "Failed": frozenset({"Failed"}),
}
TERMINAL: Final = frozenset({"Succeeded", "Failed"})
ALWAYS: Final = (
    "kubelet.phase_transitions",
    "kubelet.restart_count_monotone",
    "kubelet.admission_within_allocatable",
    "kubelet.grace_period_honoured",
    "kubelet.ready_only_when_running",
    "kubelet.single_instance",
    "kubelet.probe_thresholds",
    "kubelet.backoff_expires",
    "kubelet.eviction_order",
    "kubelet.eviction_under_pressure",
)
SOMETIMES: Final = (
    "kubelet.reached_terminal",
    "kubelet.restarted",
    "kubelet.refused_for_resources",
    "kubelet.killed_after_grace",
    "kubelet.became_ready",
    "kubelet.ran",
    "kubelet.probe_flipped",
    "kubelet.backed_off",
    "kubelet.evicted",
    "kubelet.evicted_for_disk_or_pids",
)


def _violation(name: str, reason: str) -> Violation:
    return Violation(property_name=name, nodes=(), reason=reason)


def _pairs(before: KubeletState, after: KubeletState) -> Iterable[tuple[PodRecord, PodRecord]]:
    earlier = {r.uid: r for r in before.pods}
    for record in after.pods:
        old = earlier.get(record.uid)
        if old is not None:
            yield old, record


def phase_transitions(before: KubeletState, after: KubeletState) -> list[Violation]:
    return [
        _violation(
            "kubelet.phase_transitions",
            f"pod {new.uid} moved from {old.phase} to {new.phase}",
        )
        for old, new in _pairs(before, after)
        if new.phase not in ALLOWED.get(old.phase, frozenset())
    ]


def restart_count_monotone(before: KubeletState, after: KubeletState) -> list[Violation]:
    found = []
    for old, new in _pairs(before, after):
        counts = {c.name: c.restart_count for c in old.containers}
        for container in new.containers:
            was = counts.get(container.name, 0)
            if container.restart_count < was:
                found.append(
                    _violation(
                        "kubelet.restart_count_monotone",
                        f"pod {new.uid} container {container.name}: restartCount {was} -> "
                        f"{container.restart_count}",
                    )
                )
    return found


def admission_within_allocatable(config: KubeletConfig, state: KubeletState) -> list[Violation]:
    allocatable = config.allocatable()
    limits = {
        "cpu": allocatable.cpu_millis,
        "memory": allocatable.memory_bytes,
        "ephemeral-storage": allocatable.ephemeral_storage_bytes,
        "pods": allocatable.pods,
    }
    total: dict[str, int] = {"pods": 0}
    for record in state.pods:
        if record.admitted and record.phase not in TERMINAL:
            total["pods"] += 1
            for name, value in record.requests:
                total[name] = total.get(name, 0) + value
    return [
        _violation(
            "kubelet.admission_within_allocatable",
            f"admitted pods request {value} of {name}, allocatable is {limits.get(name, 0)}",
        )
        for name, value in sorted(total.items())
        if value > limits.get(name, 0)
    ]


def grace_period_honoured(
    config: KubeletConfig, before: KubeletState, after: KubeletState
) -> list[Violation]:
    found = []
    for old, new in _pairs(before, after):
        if new.deletion_started_ms is not None and new.deletion_deadline_ms is not None:
            seconds = new.pod.meta.deletion_grace_period_seconds
            if seconds is None:
                seconds = new.pod.pod_spec.termination_grace_period_seconds
            if seconds is None:
                seconds = config.default_termination_grace_period_seconds
            wanted = max(seconds * 1000, config.minimum_grace_period_ms)
            granted = new.deletion_deadline_ms - new.deletion_started_ms
            if granted < wanted:
                found.append(
                    _violation(
                        "kubelet.grace_period_honoured",
                        f"pod {new.uid} deleted with {wanted} ms of grace got {granted} ms",
                    )
                )
        signals = {c.name: c for c in old.containers}
        for container in new.containers:
            previous = signals.get(container.name)
            if (
                previous is not None
                and previous.attempt == container.attempt
                and (previous.stop_signal == "SIGTERM" or previous.prestop == "running")
                and container.stop_signal == "SIGKILL"
                and after.now_ms < previous.stop_deadline_ms
            ):
                found.append(
                    _violation(
                        "kubelet.grace_period_honoured",
                        f"pod {new.uid} container {container.name} killed at {after.now_ms}, "
                        f"before its deadline {previous.stop_deadline_ms}",
                    )
                )
    return found


def ready_only_when_running(state: KubeletState) -> list[Violation]:
    found = []
    for record in state.pods:
        ready = any(c.type == "Ready" and c.status == "True" for c in record.conditions)
        gating = [c for c in record.containers if c.role != "init"]
        if ready and (record.phase != "Running" or not all(c.ready for c in gating)):
            found.append(
                _violation(
                    "kubelet.ready_only_when_running",
                    f"pod {record.uid} is Ready in phase {record.phase} with "
                    f"{[c.name for c in gating if not c.ready]} not ready",
                )
            )
    return found


def single_instance(states: Mapping[str, KubeletState]) -> list[Violation]:
    where: dict[str, str] = {}
    found = []
    for node, state in sorted(states.items()):
        for record in state.pods:
            if any(c.phase == "running" for c in record.containers):
                other = where.setdefault(record.uid, node)
                if other != node:
                    found.append(
                        _violation(
                            "kubelet.single_instance",
                            f"pod {record.uid} runs on {other} and {node}",
                        )
                    )
    return found


def _ready(record: PodRecord) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in record.conditions)


def companions(before: KubeletState, after: KubeletState) -> set[str]:
    """The ``sometimes`` companions this step shows."""
    shown: set[str] = set()
    for old, new in _pairs(before, after):
        if old.phase == "Running" and new.phase in TERMINAL:
            shown.add("kubelet.reached_terminal")
        counts = {c.name: c for c in old.containers}
        for container in new.containers:
            previous = counts.get(container.name)
            if previous is None:
                continue
            if container.restart_count > previous.restart_count:
                shown.add("kubelet.restarted")
            if previous.stop_signal == "SIGTERM" and container.stop_signal == "SIGKILL":
                shown.add("kubelet.killed_after_grace")
    ready_before = {r.uid for r in before.pods if _ready(r)}
    for record in after.pods:
        if _ready(record) and record.uid not in ready_before:
            shown.add("kubelet.became_ready")
        if not record.admitted and record.reason.startswith("OutOf"):
            shown.add("kubelet.refused_for_resources")
        if any(c.phase == "running" for c in record.containers):
            shown.add("kubelet.ran")
        if any(c.waiting_reason == "CrashLoopBackOff" for c in record.containers):
            shown.add("kubelet.backed_off")
        if record.reason == "Evicted" and record.admitted:
            shown.add("kubelet.evicted")
            if record.eviction_signal not in ("", "memory.available"):
                shown.add("kubelet.evicted_for_disk_or_pids")
    for old, new in _pairs(before, after):
        results = {(c.name, p.kind, c.attempt): p.result for c in old.containers for p in c.probes}
        for container in new.containers:
            for probe in container.probes:
                was = results.get((container.name, probe.kind, container.attempt))
                if was is not None and was != probe.result:
                    shown.add("kubelet.probe_flipped")
    return shown


def _threshold(pod: PodRecord, container: str, kind: str, success: bool) -> int:
    spec = pod.pod.pod_spec
    for item in (*(spec.init_containers or ()), *(spec.containers or ())):
        if item.name == container:
            probe = {
                "startup": item.startup_probe,
                "liveness": item.liveness_probe,
                "readiness": item.readiness_probe,
            }[kind]
            if probe is None:
                return 1
            chosen = probe.success_threshold if success else probe.failure_threshold
            return max(1, chosen or (1 if success else 3))
    return 1


def probe_thresholds(state: KubeletState) -> list[Violation]:
    found = []
    for record in state.pods:
        for container in record.containers:
            for probe in container.probes:
                if probe.last is None:
                    continue
                needed = _threshold(record, container.name, probe.kind, probe.last)
                if probe.run >= needed and probe.result != probe.last:
                    found.append(
                        _violation(
                            "kubelet.probe_thresholds",
                            f"pod {record.uid} {container.name} {probe.kind}: {probe.run} "
                            f"answers of {probe.last} in a row (threshold {needed}) but the "
                            f"result is {probe.result}",
                        )
                    )
    return found


def backoff_expires(config: KubeletConfig, state: KubeletState) -> list[Violation]:
    entries = {entry.key: entry for entry in state.backoff}
    found = []
    for record in state.pods:
        for container in record.containers:
            last = container.last_terminated
            if container.waiting_reason != "CrashLoopBackOff" or last is None:
                continue
            entry = entries.get(f"{record.uid}/{container.name}")
            if entry is None:
                continue
            idle = last.finished_at_ms - entry.last_update_ms
            if idle > 2 * config.max_container_backoff_ms:
                found.append(
                    _violation(
                        "kubelet.backoff_expires",
                        f"pod {record.uid} {container.name} held in CrashLoopBackOff by a "
                        f"backoff last used {idle} ms before the exit",
                    )
                )
    return found


USED: Final[Mapping[str, str]] = {
    "memory.available": "memory",
    "nodefs.available": "disk",
    "imagefs.available": "disk",
    "nodefs.inodesFree": "inodes",
    "imagefs.inodesFree": "inodes",
    "pid.available": "pids",
}
"""What each signal ranks pods by."""


def _usage_of(state: KubeletState, measure: str) -> dict[str, int]:
    return {
        u.uid: {
            "memory": u.memory_bytes,
            "disk": u.disk_bytes,
            "inodes": u.inodes,
            "pids": u.processes,
        }[measure]
        for u in state.usage
    }


def _rank_key(record: PodRecord, usage: Mapping[str, int], measure: str) -> tuple[int, int, int]:
    priority = record.pod.pod_spec.priority or 0
    used = usage.get(record.uid, 0)
    if measure == "pids":
        return (0, priority, -used)
    request = {"memory": "memory", "disk": "ephemeral-storage"}.get(measure)
    above = used - (dict(record.requests).get(request, 0) if request else 0)
    return (0 if above > 0 else 1, priority, -above)


def eviction_order(before: KubeletState, after: KubeletState) -> list[Violation]:
    candidates = [
        r
        for r in before.pods
        if r.admitted and r.phase not in TERMINAL and r.deletion_deadline_ms is None
    ]
    found = []
    for old, new in _pairs(before, after):
        if new.reason != "Evicted" or old.reason == "Evicted" or not old.admitted:
            continue
        measure = USED.get(new.eviction_signal or "memory.available", "memory")
        usage = _usage_of(after, measure)
        victim = _rank_key(new, usage, measure)
        better = [r.uid for r in candidates if _rank_key(r, usage, measure) < victim]
        if better:
            found.append(
                _violation(
                    "kubelet.eviction_order",
                    f"pod {new.uid} evicted for {new.eviction_signal or 'memory.available'} "
                    f"while {better[0]} ranks before it",
                )
            )
    return found


FLOAT32_SLACK: Final = 1 + 2**-23


def _below(config: KubeletConfig, state: KubeletState, signal: str) -> bool:
    """Whether the observation in ``state`` has ``signal`` below its hard threshold."""
    if signal == "memory.available":
        available = state.memory_available_bytes
        return available is not None and available < config.eviction_hard_memory_available_bytes
    seen = [o for o in state.signals if o.signal == signal]
    if not seen:
        return False
    if signal == "pid.available":
        limit = config.eviction_hard_pid_available
        return limit is not None and seen[0].available < limit
    percent = {
        "nodefs.available": config.eviction_hard_nodefs_available_percent,
        "nodefs.inodesFree": config.eviction_hard_nodefs_inodes_free_percent,
        "imagefs.available": config.eviction_hard_imagefs_available_percent,
        "imagefs.inodesFree": config.eviction_hard_imagefs_inodes_free_percent,
    }.get(signal)
    return percent is not None and (
        seen[0].available * 100 < seen[0].capacity * percent * FLOAT32_SLACK
    )


def eviction_under_pressure(
    config: KubeletConfig, before: KubeletState, after: KubeletState
) -> list[Violation]:
    found = []
    for old, new in _pairs(before, after):
        if new.reason != "Evicted" or old.reason == "Evicted" or not old.admitted:
            continue
        signal = new.eviction_signal or "memory.available"
        if not _below(config, after, signal):
            found.append(
                _violation(
                    "kubelet.eviction_under_pressure",
                    f"pod {new.uid} evicted for {signal}, which the observation does not have "
                    "below its threshold",
                )
            )
    return found


def judge_step(config: KubeletConfig, before: KubeletState, after: KubeletState) -> list[Violation]:
    """Every single-node safety property on one step."""
    return [
        *phase_transitions(before, after),
        *restart_count_monotone(before, after),
        *admission_within_allocatable(config, after),
        *grace_period_honoured(config, before, after),
        *ready_only_when_running(after),
        *probe_thresholds(after),
        *backoff_expires(config, after),
        *eviction_order(before, after),
        *eviction_under_pressure(config, before, after),
    ]
