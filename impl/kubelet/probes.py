"""Probe workers: startup, liveness and readiness, with the API's timing and thresholds.

Theory of operation. When a container instance starts, each probe it declares gets a record:
the first probe is due ``initialDelaySeconds`` after the start, then one every
``periodSeconds``. Readiness and startup start as failure (not ready, not started), liveness
as success. While the
startup probe has not succeeded, liveness and readiness are not run. Each answer extends a run
of equal answers; the result flips only when a run reaches ``failureThreshold`` (failures) or
``successThreshold`` (successes) - the prober's ``resultRun`` rule. A liveness or startup
result of failure means the container is killed and restarted per the restart policy; then the
worker holds until the next instance. Defaults (``pkg/apis/core/v1/defaults.go``): delay 0,
period 10 s, timeout 1 s, success 1, failure 3.
"""

from __future__ import annotations

from typing import Final

import msgspec

from models.k8s.core.pod import Container, Probe
from models.kubelet.config import PROBE_THRESHOLD_OFF_BY_ONE, KubeletConfig
from models.kubelet.events import ProbeKind
from models.kubelet.state import ContainerRecord, ProbeRecord

DEFAULT_PERIOD_SECONDS: Final = 10
DEFAULT_TIMEOUT_SECONDS: Final = 1
DEFAULT_SUCCESS_THRESHOLD: Final = 1
DEFAULT_FAILURE_THRESHOLD: Final = 3
KINDS: Final[tuple[ProbeKind, ...]] = ("startup", "liveness", "readiness")


def spec_of(container: Container, kind: ProbeKind) -> Probe | None:
    match kind:
        case "startup":
            return container.startup_probe
        case "liveness":
            return container.liveness_probe
        case "readiness":
            return container.readiness_probe


def period_ms(probe: Probe) -> int:
    return max(1, probe.period_seconds or DEFAULT_PERIOD_SECONDS) * 1000


def success_threshold(probe: Probe) -> int:
    return max(1, probe.success_threshold or DEFAULT_SUCCESS_THRESHOLD)


def failure_threshold(probe: Probe) -> int:
    return max(1, probe.failure_threshold or DEFAULT_FAILURE_THRESHOLD)


def workers(container: Container, started_at_ms: int) -> tuple[ProbeRecord, ...]:
    """Fresh workers for a container instance that started at ``started_at_ms``."""
    records: list[ProbeRecord] = []
    for kind in KINDS:
        probe = spec_of(container, kind)
        if probe is None:
            continue
        records.append(
            ProbeRecord(
                kind=kind,
                result=kind == "liveness",
                next_at_ms=started_at_ms + max(0, probe.initial_delay_seconds or 0) * 1000,
            )
        )
    return tuple(records)


def find(record: ContainerRecord, kind: ProbeKind) -> ProbeRecord | None:
    for probe in record.probes:
        if probe.kind == kind:
            return probe
    return None


def has_startup(record: ContainerRecord) -> bool:
    return find(record, "startup") is not None


def due(record: ContainerRecord, probe: ProbeRecord, now_ms: int) -> bool:
    """Is this worker's next probe due? Liveness and readiness wait for startup."""
    if probe.in_flight or now_ms < probe.next_at_ms:
        return False
    return probe.kind == "startup" or record.started


def sent(probe: ProbeRecord, spec: Probe, now_ms: int) -> ProbeRecord:
    """The worker after it sent a probe: in flight, the next one a period later."""
    following = probe.next_at_ms + period_ms(spec)
    while following <= now_ms:
        following += period_ms(spec)
    return msgspec.structs.replace(probe, in_flight=True, next_at_ms=following)


def skipped(probe: ProbeRecord, spec: Probe, now_ms: int) -> ProbeRecord:
    """A period passed while the worker waited for startup: no probe, next period."""
    following = probe.next_at_ms
    while following <= now_ms:
        following += period_ms(spec)
    return msgspec.structs.replace(probe, next_at_ms=following)


def answered(
    config: KubeletConfig, probe: ProbeRecord, spec: Probe, success: bool
) -> tuple[ProbeRecord, bool]:
    """Fold one answer into the worker: extend or restart the run, set the result when the
    run reaches its threshold (the second value: it did)."""
    run = probe.run + 1 if probe.last == success else 1
    threshold = success_threshold(spec) if success else failure_threshold(spec)
    if config.mutant == PROBE_THRESHOLD_OFF_BY_ONE:
        threshold += 1
    reached = run >= threshold
    result = success if reached else probe.result
    if reached and not success and probe.kind != "readiness":
        run = 0
    updated = msgspec.structs.replace(probe, in_flight=False, last=success, run=run, result=result)
    return updated, reached


def replace(record: ContainerRecord, updated: ProbeRecord) -> ContainerRecord:
    probes = tuple(updated if p.kind == updated.kind else p for p in record.probes)
    return msgspec.structs.replace(record, probes=probes)
