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
- ``kubelet.eviction_order``: the pod evicted for memory pressure is first in the documented
  ranking of the pods that were candidates (usage above requests first, then lower priority,
  then larger usage above requests: "Node-pressure Eviction"). Companion ``kubelet.evicted``.
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


def _rank_key(record: PodRecord, usage: Mapping[str, int]) -> tuple[int, int, int]:
    above = usage.get(record.uid, 0) - dict(record.requests).get("memory", 0)
    return (0 if above > 0 else 1, record.pod.pod_spec.priority or 0, -above)


def eviction_order(before: KubeletState, after: KubeletState) -> list[Violation]:
    usage = {u.uid: u.memory_bytes for u in after.usage}
    candidates = [
        r
        for r in before.pods
        if r.admitted and r.phase not in TERMINAL and r.deletion_deadline_ms is None
    ]
    found = []
    for old, new in _pairs(before, after):
        if new.reason != "Evicted" or old.reason == "Evicted" or not old.admitted:
            continue
        victim = _rank_key(new, usage)
        better = [r.uid for r in candidates if _rank_key(r, usage) < victim]
        if better:
            found.append(
                _violation(
                    "kubelet.eviction_order",
                    f"pod {new.uid} evicted while {better[0]} ranks before it",
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
    ]
