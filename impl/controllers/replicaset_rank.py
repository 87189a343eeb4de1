"""Which pods a ReplicaSet deletes first when it scales down.

``ActivePodsWithRanks.Less`` (``pkg/controller/controller_utils.go``, v1.35), the pod that sorts
first is deleted first:

1. not yet assigned to a node before assigned;
2. phase Pending before Unknown before Running;
3. not ready before ready;
4. lower ``controller.kubernetes.io/pod-deletion-cost`` first (PodDeletionCost, on by default;
   an unreadable value counts as 0);
5. higher rank first: more active related pods on the same node;
6. both ready: ready more recently first;
7. more container restarts first;
8. created more recently first.

In 6 and 8 (LogarithmicScaleDown, GA) times are compared by ``floor(log2(now - t))`` of the
durations in nanoseconds, and pods in the same bucket by UID; a zero time sorts first. Go
sorts with ``sort.Sort``, which is not stable: pods equal by every rule may come in any order.
The reference keeps them in name order, and ``tied`` says which pods are interchangeable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cmp_to_key
from typing import Final

from impl.controllers.objects import (
    annotations_of,
    creation_seconds,
    is_active,
    is_ready,
    meta,
    phase,
    ready_since,
    restarts,
)
from models.feature_gates import FeatureGates
from models.k8s.core.pod import Pod

DELETION_COST: Final = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER: Final = {"Pending": 0, "Unknown": 1, "Running": 2}
_INT32: Final = (-(2**31), 2**31 - 1)


def deletion_cost(pod: Pod) -> int:
    """``GetDeletionCostFromPodAnnotations``; an invalid value reads as 0."""
    text = annotations_of(pod).get(DELETION_COST)
    if text is None:
        return 0
    stripped = text[1:] if text[:1] in "+-" else text
    if not stripped.isdigit() or not stripped.isascii():
        return 0
    value = int(text)
    return value if _INT32[0] <= value <= _INT32[1] else 0


def related_ranks(pods: Sequence[Pod], related: Sequence[Pod]) -> list[int]:
    """``getPodsRankedByRelatedPodsOnSameNode``: active related pods on each pod's node."""
    on_node: dict[str, int] = {}
    for pod in related:
        if is_active(pod):
            node = pod.spec.node_name if pod.spec is not None else None
            on_node[node or ""] = on_node.get(node or "", 0) + 1
    return [on_node.get((pod.spec.node_name if pod.spec else None) or "", 0) for pod in pods]


def _log_bucket(moment_s: int, now_ms: int) -> int:
    elapsed_ns = now_ms * 1_000_000 - moment_s * 1_000_000_000
    return int(math.log2(elapsed_ns)) if elapsed_ns > 0 else -1


def _by_time(
    left_s: int | None, right_s: int | None, left_uid: str, right_uid: str, now_ms: int
) -> int:
    """Newer first, by logarithmic bucket; zero (unknown) times first."""
    if not left_s or not right_s:
        if not left_s and not right_s:
            return 0
        return -1 if not left_s else 1
    if now_ms == 0:
        return -1 if left_s > right_s else (1 if left_s < right_s else 0)
    difference = _log_bucket(left_s, now_ms) - _log_bucket(right_s, now_ms)
    if difference == 0:
        return -1 if left_uid < right_uid else (1 if left_uid > right_uid else 0)
    return -1 if difference < 0 else 1


def compare(left: tuple[Pod, int], right: tuple[Pod, int], gates: FeatureGates, now_ms: int) -> int:
    """Negative when ``left`` is deleted before ``right``, 0 when the rules cannot tell."""
    (a, rank_a), (b, rank_b) = left, right
    node_a = (a.spec.node_name if a.spec else None) or ""
    node_b = (b.spec.node_name if b.spec else None) or ""
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1
    phase_a, phase_b = _PHASE_ORDER.get(phase(a), 0), _PHASE_ORDER.get(phase(b), 0)
    if phase_a != phase_b:
        return -1 if phase_a < phase_b else 1
    if is_ready(a) != is_ready(b):
        return -1 if not is_ready(a) else 1
    if gates.enabled("PodDeletionCost") and deletion_cost(a) != deletion_cost(b):
        return -1 if deletion_cost(a) < deletion_cost(b) else 1
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    uid_a, uid_b = meta(a).uid or "", meta(b).uid or ""
    if is_ready(a) and is_ready(b) and ready_since(a) != ready_since(b):
        found = _by_time(ready_since(a), ready_since(b), uid_a, uid_b, now_ms)
        if found:
            return found
    if restarts(a) != restarts(b):
        return -1 if restarts(a) > restarts(b) else 1
    if creation_seconds(a) != creation_seconds(b):
        return _by_time(creation_seconds(a), creation_seconds(b), uid_a, uid_b, now_ms)
    return 0


def rank_for_deletion(
    pods: Sequence[Pod], related: Sequence[Pod], gates: FeatureGates, now_ms: int
) -> list[Pod]:
    """The pods in deletion order (ties kept in name order)."""
    by_name = sorted(pods, key=lambda pod: meta(pod).name or "")
    ranked = list(zip(by_name, related_ranks(by_name, related), strict=True))

    def order(left: tuple[Pod, int], right: tuple[Pod, int]) -> int:
        return compare(left, right, gates, now_ms)

    ranked.sort(key=cmp_to_key(order))
    return [pod for pod, _ in ranked]


def pods_to_delete(
    pods: Sequence[Pod], related: Sequence[Pod], count: int, gates: FeatureGates, now_ms: int
) -> list[Pod]:
    """``getPodsToDelete``: the first ``count`` pods in deletion order (all when count covers
    them: no ranking needed)."""
    if count >= len(pods):
        return sorted(pods, key=lambda pod: meta(pod).name or "")
    return rank_for_deletion(pods, related, gates, now_ms)[:count]
