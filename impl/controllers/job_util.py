"""The Job controller's small readings: completion indexes, the pod-failure backoff record,
the pods it creates, and which active pods go first.

Theory of operation (``pkg/controller/job``, v1.35):

- an Indexed Job's pod carries its index in the annotation and label
  ``batch.kubernetes.io/job-completion-index``, the hostname ``<job>-<index>``, the name prefix
  ``<job>-<index>-`` and the environment variable ``JOB_COMPLETION_INDEX`` read from that
  annotation; ``status.completedIndexes`` writes the succeeded indexes as ordered intervals
  (``1,3-5``);
- the backoff record (``backoffStore``, in memory) counts the failures since the last success
  and the last failure's time; new pods wait ``10 s * 2^(failures-1)``, at most 10 minutes
  (``DefaultJobPodFailureBackOff``, ``MaxJobPodFailureBackOff``; the Job docs' "six minutes"
  is older text), from that failure;
- a pod's finish time is the latest container ``finishedAt``, else its Ready=False
  transition, else its deletion timestamp, else its creation;
- active pods are removed first when unscheduled, pending, not ready, ready most recently,
  restarted most, newest (``controller.ActivePods``).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Any, Final

import msgspec

from impl.controllers.objects import (
    annotations_of,
    creation_seconds,
    is_ready,
    meta,
    phase,
    ready_condition,
    ready_since,
    restarts,
    seconds,
)
from models.k8s.core.pod import Pod

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
BACKOFF_MS = 10_000
MAX_BACKOFF_MS = 10 * 60 * 1000


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """``backoffRecord``: failures since the last success and when the last one happened."""

    failures: int = 0
    last_failure_s: int | None = None


def completion_index(pod: Pod) -> int | None:
    """``getCompletionIndex``: the annotation as a non-negative integer, else None."""
    text = annotations_of(pod).get(INDEX_KEY)
    if text is None or not text.isdigit() or not text.isascii():
        return None
    return int(text)


def format_indexes(indexes: Iterable[int]) -> str:
    """Ordered intervals: ``0-2,5``."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    start = previous = None
    for index in ordered:
        if previous is not None and index == previous + 1:
            previous = index
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = index
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)


def parse_indexes(text: str, completions: int) -> set[int]:
    """``parseIndexesFromString``: the indexes below ``completions``; bad parts are skipped."""
    found: set[int] = set()
    for part in (p for p in text.split(",") if p):
        low, _, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if high else first
        except ValueError:
            continue
        found.update(i for i in range(first, last + 1) if 0 <= i < completions)
    return found


def has_tracking_finalizer(pod: Pod) -> bool:
    return TRACKING_FINALIZER in (meta(pod).finalizers or ())


def finish_seconds(pod: Pod) -> int:
    """``getFinishedTime``."""
    status = pod.status
    statuses = (status.container_statuses or ()) if status is not None else ()
    times = [
        found
        for container in statuses
        if container.state is not None and container.state.terminated is not None
        if (found := seconds(container.state.terminated.finished_at)) is not None
    ]
    if times:
        return max(times)
    condition = ready_condition(pod)
    if condition is not None and condition.status == "False":
        found = seconds(condition.last_transition_time)
        if found is not None:
            return found
    deleted = seconds(meta(pod).deletion_timestamp)
    if deleted is not None:
        return deleted
    return creation_seconds(pod)


def new_backoff(old: Backoff, succeeded: list[Pod], failed: list[Pod]) -> Backoff:
    """``newBackoffRecord`` from the newly finished pods."""
    failed_times = sorted(finish_seconds(p) for p in failed)
    if not succeeded:
        if not failed_times:
            return old
        return Backoff(failures=old.failures + len(failed_times), last_failure_s=failed_times[-1])
    last_success = max(finish_seconds(p) for p in succeeded)
    after = [t for t in failed_times if t > last_success]
    return Backoff(failures=len(after), last_failure_s=after[-1] if after else None)


def remaining_ms(record: Backoff, now_ms: int) -> int:
    """``getRemainingTime``: how long new pods must still wait."""
    if record.failures == 0 or record.last_failure_s is None:
        return 0
    delay = BACKOFF_MS
    for _ in range(1, record.failures):
        delay *= 2
        if delay >= MAX_BACKOFF_MS:
            delay = MAX_BACKOFF_MS
            break
    elapsed = now_ms - record.last_failure_s * 1000
    return 0 if delay < elapsed else delay - elapsed


_PHASES: Final = MappingProxyType({"Pending": 0, "Unknown": 1, "Running": 2})


def removal_order(pod: Pod) -> tuple[Any, ...]:
    """``controller.ActivePods``: the pod that sorts first is removed first."""
    assigned = bool(pod.spec.node_name) if pod.spec else False
    since = ready_since(pod) or 0
    return (
        assigned,
        _PHASES.get(phase(pod), 0),
        is_ready(pod),
        -since,
        -restarts(pod),
        -creation_seconds(pod),
        meta(pod).name or "",
    )


def with_index_env(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``addCompletionIndexEnvVariables``: each container gets ``JOB_COMPLETION_INDEX``."""
    result = []
    for container in containers:
        env = list(container.get("env") or [])
        if not any(e.get("name") == INDEX_ENV for e in env):
            env.append(
                {
                    "name": INDEX_ENV,
                    "valueFrom": {
                        "fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_KEY}']"}
                    },
                }
            )
        result.append({**container, "env": env})
    return result
