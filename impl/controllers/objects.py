"""Small readings of API objects that every controller needs: times, keys, pod states.

Pod states follow ``k8s.io/kubernetes/pkg/api/v1/pod`` and ``pkg/controller``: a pod is
*active* until it has a deletion timestamp or reached Succeeded/Failed (``IsPodActive``),
*terminating* while it has a deletion timestamp but is not yet terminal, *ready* when its
Ready condition is True, and *available* once it has been ready for ``minReadySeconds``
(strictly more: ``lastTransitionTime + minReadySeconds`` before now).
"""

from __future__ import annotations

from typing import Any

from models.apiserver.clock import parse_rfc3339, rfc3339
from models.k8s.core.pod import Pod, PodCondition
from models.k8s.meta import ObjectMeta, OwnerReference

TERMINAL_PHASES = ("Succeeded", "Failed")


def seconds(timestamp: object) -> int | None:
    """A ``metav1.Time`` as Unix seconds (None when absent or unreadable)."""
    return parse_rfc3339(timestamp) if isinstance(timestamp, str) else None


def timestamp(now_ms: int) -> str:
    """``metav1.Now()`` at second precision, as the API serializes it."""
    return rfc3339(now_ms // 1000)


def meta(obj: Any) -> ObjectMeta:
    found: ObjectMeta | None = obj.metadata
    return found if found is not None else ObjectMeta()


def uid(obj: Any) -> str:
    return meta(obj).uid or ""


def labels(obj: Any) -> dict[str, str]:
    return dict(meta(obj).label_map())


def annotations_of(obj: Any) -> dict[str, str]:
    return dict(meta(obj).annotation_map())


def deleting(obj: Any) -> bool:
    return meta(obj).deletion_timestamp is not None


def controller_of(obj: Any) -> OwnerReference | None:
    return meta(obj).controller_reference()


def creation_seconds(obj: Any) -> int:
    found = seconds(meta(obj).creation_timestamp)
    return found if found is not None else 0


def pod_key(pod: Pod) -> str:
    return f"{meta(pod).namespace or ''}/{meta(pod).name or ''}"


def phase(pod: Pod) -> str:
    return (pod.status.phase or "") if pod.status is not None else ""


def is_active(pod: Pod) -> bool:
    return phase(pod) not in TERMINAL_PHASES and not deleting(pod)


def is_terminating(pod: Pod) -> bool:
    """``controller.FilterTerminatingPods``: being deleted, not yet terminal."""
    return deleting(pod) and phase(pod) not in TERMINAL_PHASES


def ready_condition(pod: Pod) -> PodCondition | None:
    for condition in (pod.status.conditions or ()) if pod.status is not None else ():
        if condition.type == "Ready":
            return condition
    return None


def is_ready(pod: Pod) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.status == "True"


def ready_since(pod: Pod) -> int | None:
    """When a ready pod became ready (None when not ready or unknown)."""
    condition = ready_condition(pod)
    if condition is None or condition.status != "True":
        return None
    return seconds(condition.last_transition_time)


def is_available(pod: Pod, min_ready_seconds: int, now_ms: int) -> bool:
    """``podutil.IsPodAvailable``: ready, and ready for more than ``min_ready_seconds``."""
    if not is_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = ready_since(pod)
    return since is not None and (since + min_ready_seconds) * 1000 < now_ms


def restarts(pod: Pod) -> int:
    """The most restarts of any container (``maxContainerRestarts``), sidecars included."""
    status = pod.status
    if status is None:
        return 0
    init_containers = (pod.spec.init_containers or ()) if pod.spec is not None else ()
    sidecars = {c.name for c in init_containers if c.restart_policy == "Always"}
    counts = [c.restart_count or 0 for c in status.container_statuses or ()]
    counts += [
        c.restart_count or 0 for c in status.init_container_statuses or () if c.name in sidecars
    ]
    return max(counts, default=0)
