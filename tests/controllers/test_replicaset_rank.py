"""Deletion order when a ReplicaSet scales down: ActivePodsWithRanks.Less (controller_utils.go),
rule by rule; the first pod in the order is deleted first."""

from __future__ import annotations

from typing import Any

import msgspec

from impl.controllers.replicaset_rank import pods_to_delete, rank_for_deletion
from models.feature_gates import FeatureGates
from models.k8s.base import decode_hook
from models.k8s.core.pod import Pod

GATES = FeatureGates()
NOW = 1_767_225_600  # seconds
T0 = "2026-01-01T00:00:00Z"


def pod(
    name: str,
    node: str = "n1",
    phase: str = "Running",
    ready_at: str | None = "2025-12-31T00:00:00Z",
    created: str = "2025-12-01T00:00:00Z",
    restarts: int = 0,
    cost: str | None = None,
    uid: str | None = None,
) -> Pod:
    conditions = (
        [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}] if ready_at else []
    )
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "d",
        "uid": uid or name,
        "creationTimestamp": created,
    }
    if cost is not None:
        metadata["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    data = {
        "metadata": metadata,
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"name": "c", "restartCount": restarts}],
        },
    }
    return msgspec.convert(data, Pod, dec_hook=decode_hook)


def order(*pods: Pod, related: tuple[Pod, ...] = ()) -> list[str]:
    return [
        p.metadata.name or ""
        for p in rank_for_deletion(pods, related or pods, GATES, NOW * 1000)
        if p.metadata
    ]


def test_unassigned_first() -> None:
    assert order(pod("a"), pod("b", node=""))[0] == "b"


def test_pending_before_unknown_before_running() -> None:
    pods = (pod("r"), pod("u", phase="Unknown"), pod("p", phase="Pending"))
    assert order(*pods) == ["p", "u", "r"]


def test_not_ready_before_ready() -> None:
    assert order(pod("a"), pod("b", ready_at=None))[0] == "b"


def test_lower_deletion_cost_first_and_an_invalid_cost_counts_as_zero() -> None:
    assert order(pod("a", cost="10"), pod("b", cost="-5"), pod("c", cost="x1")) == ["b", "c", "a"]


def test_more_pods_of_the_owner_on_the_same_node_first() -> None:
    crowded, alone = pod("a", node="n1"), pod("b", node="n2")
    related = (crowded, alone, pod("x", node="n1"), pod("y", node="n1"))
    assert order(crowded, alone, related=related) == ["a", "b"]


def test_ready_more_recently_first_by_log2_bucket() -> None:
    # ready 1 hour ago vs 10 days ago: different buckets, the recent one goes first
    recent = pod("a", ready_at="2025-12-31T23:00:00Z")
    old = pod("b", ready_at="2025-12-22T00:00:00Z")
    assert order(old, recent) == ["a", "b"]


def test_same_bucket_is_decided_by_uid() -> None:
    # 100 s and 101 s ago: both in bucket floor(log2(1e11 ns)) = 36
    first = pod("a", ready_at="2025-12-31T23:58:20Z", uid="zz")
    second = pod("b", ready_at="2025-12-31T23:58:19Z", uid="aa")
    assert order(first, second) == ["b", "a"]


def test_more_restarts_first() -> None:
    assert order(pod("a", restarts=1), pod("b", restarts=5))[0] == "b"


def test_newer_pods_first() -> None:
    older = pod("a", created="2025-01-01T00:00:00Z")
    newer = pod("b", created="2025-12-31T00:00:00Z")
    assert order(older, newer) == ["b", "a"]


def test_no_ranking_when_every_pod_goes() -> None:
    pods = [pod("b"), pod("a")]
    assert [
        p.metadata.name for p in pods_to_delete(pods, pods, 2, GATES, NOW * 1000) if p.metadata
    ] == ["a", "b"]
