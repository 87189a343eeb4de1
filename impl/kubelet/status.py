"""A pod's phase, conditions and container statuses, as the kubelet reports them.

Theory of operation. ``phase`` is the kubelet's ``getPhase`` (v1.35) over the containers'
current states:

- with ``restartPolicy: Never`` a failed regular init container fails the pod;
- Pending while a regular init container is not done (or a sidecar has not started before the
  main containers ran), or a main container waits without ever having run;
- Running once every main container has started and one runs;
- when every main container has stopped: Running if the policy is Always (unless the pod is
  terminating), Succeeded if all exited 0, Failed under Never (or when terminating), Running
  under OnFailure (they will restart).

A terminal phase is final (``PodRecord.phase`` keeps it). Conditions follow the API reference:
PodReadyToStartContainers (sandbox up), Initialized, ContainersReady and Ready (every main
container and sidecar ready), and for a pod node-pressure eviction chose, DisruptionTarget
(True, ``TerminationByKubelet``, the eviction message; another component's DisruptionTarget is
kept otherwise); a condition's ``lastTransitionTime`` is when its status last changed.
Container statuses follow ``convertToAPIContainerStatuses``: a container that will be
restarted after a backoff reads ``waiting: CrashLoopBackOff`` with the last termination as
``lastState``; main containers are sorted by name, init containers kept in spec order.
"""

from __future__ import annotations

from typing import Final

import msgspec

from impl.kubelet.admission import qos_class
from models.apiserver.clock import rfc3339
from models.k8s.core.pod import (
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    Pod,
    PodCondition,
    PodIP,
    PodStatus,
)
from models.kubelet.state import ConditionRecord, ContainerRecord, PodRecord, Terminated

TERMINAL: Final = ("Succeeded", "Failed")
KUBELET_CONDITIONS: Final = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


def restart_policy(pod: Pod) -> str:
    return pod.pod_spec.restart_policy or "Always"


def _init_failed(container: ContainerRecord) -> bool:
    last = container.terminated if container.phase == "terminated" else container.last_terminated
    return container.phase != "running" and last is not None and last.exit_code != 0


def initialized(record: PodRecord) -> bool:
    """Every regular init container exited 0 and every sidecar has started."""
    for container in record.containers:
        if container.role == "init" and not (
            container.phase == "terminated"
            and container.terminated is not None
            and container.terminated.exit_code == 0
        ):
            return False
        if container.role == "sidecar" and not (container.started or container.restart_count > 0):
            return False
    return True


def compute_phase(record: PodRecord, terminating: bool) -> str:
    """``getPhase``; ``terminating``: the pod is being deleted and nothing runs any more."""
    if record.phase in TERMINAL:
        return record.phase
    policy = restart_policy(record.pod)
    inits = [c for c in record.containers if c.role == "init"]
    mains = [c for c in record.containers if c.role == "regular"]
    if policy == "Never" and any(_init_failed(c) for c in inits):
        return "Failed"
    if not initialized(record) and not any(c.attempt > 0 for c in mains):
        return "Pending"
    running = sum(1 for c in mains if c.phase == "running")
    stopped = [c for c in mains if c.phase != "running" and (c.terminated or c.last_terminated)]
    waiting = sum(1 for c in mains if c.phase == "waiting" and c.last_terminated is None)
    if waiting > 0 and not terminating:
        return "Pending"
    if running > 0 and not terminating:
        return "Running"
    if len(stopped) == len(mains) and mains:
        succeeded = all(_exit_code(c) == 0 for c in stopped)
        if terminating:
            return "Succeeded" if succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending" if not terminating else "Failed"


def _exit_code(container: ContainerRecord) -> int:
    last = container.terminated if container.phase == "terminated" else container.last_terminated
    return last.exit_code if last is not None else 0


def desired_conditions(record: PodRecord) -> tuple[tuple[str, str, str, str], ...]:
    """(type, status, reason, message) for the conditions the kubelet owns."""
    if record.phase in TERMINAL:
        done = "PodCompleted"
        disruption: tuple[tuple[str, str, str, str], ...] = (
            (("DisruptionTarget", "True", "TerminationByKubelet", record.message),)
            if record.eviction_signal
            else ()
        )
        return (
            ("PodReadyToStartContainers", "False", "", ""),
            ("Initialized", "True", done if record.phase == "Succeeded" else "", ""),
            ("Ready", "False", done, ""),
            ("ContainersReady", "False", done, ""),
            *disruption,
        )
    sandbox = "True" if record.sandbox == "ready" else "False"
    incomplete = [c.name for c in record.containers if c.role != "regular" and not _done_init(c)]
    init: tuple[str, str, str, str] = (
        ("Initialized", "True", "", "")
        if initialized(record)
        else (
            "Initialized",
            "False",
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(incomplete)}]",
        )
    )
    unready = [c.name for c in record.containers if c.role != "init" and not c.ready]
    ready: tuple[str, str, str, str] = (
        ("Ready", "True", "", "")
        if not unready
        else (
            "Ready",
            "False",
            "ContainersNotReady",
            f"containers with unready status: [{' '.join(unready)}]",
        )
    )
    return (
        ("PodReadyToStartContainers", sandbox, "", ""),
        init,
        ready,
        ("ContainersReady", *ready[1:]),
    )


def _done_init(container: ContainerRecord) -> bool:
    if container.role == "sidecar":
        return container.started or container.restart_count > 0
    return (
        container.phase == "terminated"
        and container.terminated is not None
        and container.terminated.exit_code == 0
    )


def fold_conditions(
    previous: tuple[ConditionRecord, ...],
    wanted: tuple[tuple[str, str, str, str], ...],
    now_ms: int,
) -> tuple[ConditionRecord, ...]:
    """Keep a condition's transition time while its status is unchanged."""
    before = {c.type: c for c in previous}
    out: list[ConditionRecord] = []
    for kind, status, reason, message in wanted:
        old = before.get(kind)
        since = old.since_ms if old is not None and old.status == status else now_ms
        out.append(
            ConditionRecord(
                type=kind, status=status, reason=reason, message=message, since_ms=since
            )
        )
    return tuple(out)


def container_id(uid: str, name: str, attempt: int) -> str:
    return f"kubeoracle://{uid}/{name}/{attempt}"


def _terminated(uid: str, name: str, done: Terminated) -> ContainerState:
    return ContainerState(
        terminated=ContainerStateTerminated(
            exit_code=done.exit_code,
            signal=done.signal or None,
            reason=done.reason,
            started_at=rfc3339(done.started_at_ms // 1000),
            finished_at=rfc3339(done.finished_at_ms // 1000),
            container_id=container_id(uid, name, done.attempt),
        )
    )


def container_state(uid: str, container: ContainerRecord) -> ContainerState:
    match container.phase:
        case "running":
            return ContainerState(
                running=ContainerStateRunning(started_at=rfc3339(container.started_at_ms // 1000))
            )
        case "terminated":
            assert container.terminated is not None
            return _terminated(uid, container.name, container.terminated)
        case "waiting":
            return ContainerState(
                waiting=ContainerStateWaiting(
                    reason=container.waiting_reason, message=container.waiting_message or None
                )
            )


def container_status(record: PodRecord, container: ContainerRecord, image: str) -> ContainerStatus:
    last = container.last_terminated
    return ContainerStatus(
        name=container.name,
        state=container_state(record.uid, container),
        last_state=(
            _terminated(record.uid, container.name, last) if last is not None else ContainerState()
        ),
        ready=container.ready,
        restart_count=container.restart_count,
        image=image,
        image_id="",
        container_id=(
            container_id(record.uid, container.name, container.attempt)
            if container.attempt > 0 and container.phase != "waiting"
            else None
        ),
        started=container.phase == "running" and container.started,
    )


def _images(pod: Pod) -> dict[str, str]:
    spec = pod.pod_spec
    return {
        c.name or "": c.image or ""
        for c in (*(spec.init_containers or ()), *(spec.containers or ()))
    }


def api_status(record: PodRecord, node_ip: str) -> PodStatus:
    """The status the kubelet writes for this pod."""
    existing = record.pod.pod_status
    owned = KUBELET_CONDITIONS + tuple(
        c.type for c in record.conditions if c.type == "DisruptionTarget"
    )
    others = tuple(c for c in existing.conditions or () if (c.type or "") not in owned)
    if not record.admitted:
        return msgspec.structs.replace(
            existing, phase="Failed", reason=record.reason, message=record.message
        )
    images = _images(record.pod)
    conditions = tuple(
        PodCondition(
            type=c.type,
            status=c.status,
            reason=c.reason or None,
            message=c.message or None,
            last_probe_time=None,
            last_transition_time=rfc3339(c.since_ms // 1000),
        )
        for c in record.conditions
    )
    inits = tuple(
        container_status(record, c, images.get(c.name, ""))
        for c in record.containers
        if c.role != "regular"
    )
    mains = tuple(
        sorted(
            (
                container_status(record, c, images.get(c.name, ""))
                for c in record.containers
                if c.role == "regular"
            ),
            key=lambda s: s.name or "",
        )
    )
    ips = (PodIP(ip=record.pod_ip),) if record.pod_ip else None
    return PodStatus(
        observed_generation=existing.observed_generation,
        phase=record.phase,
        conditions=conditions + others,
        message=record.message or None,
        reason=record.reason or None,
        nominated_node_name=existing.nominated_node_name,
        host_ip=node_ip,
        host_ips=(PodIP(ip=node_ip),),
        pod_ip=record.pod_ip or None,
        pod_ips=ips,
        start_time=rfc3339(record.start_time_ms // 1000),
        init_container_statuses=inits or None,
        container_statuses=mains,
        qos_class=existing.qos_class or qos_class(record.pod),
    )
