"""A read-only index of a cluster's objects (as the API server stores them, decoded JSON) for
the controller properties: by kind, by UID, owners and dependents, and the Deployment
arithmetic the properties need, written from the Kubernetes Deployment documentation.

Rounding (Deployment docs, "Max Surge" and "Max Unavailable"): a percentage of ``replicas``
is rounded up for maxSurge and down for maxUnavailable; both default to 25%; when both come
out 0, maxUnavailable is 1 (validation refuses both being zero as written, the rounding can
still produce it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = Mapping[str, Any]


class View:
    """Objects by kind and UID (only Deployments, ReplicaSets and Pods matter here)."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        self.by_kind: dict[str, list[Obj]] = {"Deployment": [], "ReplicaSet": [], "Pod": []}
        self.by_uid: dict[str, Obj] = {}
        self.dependents: dict[str, list[Obj]] = {}
        for obj in objects:
            uid = obj.get("metadata", {}).get("uid", "")
            self.by_uid[uid] = obj
            self.by_kind.setdefault(str(obj.get("kind", "")), []).append(obj)
            for ref in owner_refs(obj):
                self.dependents.setdefault(ref.get("uid", ""), []).append(obj)

    def of(self, kind: str) -> list[Obj]:
        return self.by_kind.get(kind, [])

    def controlled(self, owner: Obj, kind: str) -> list[Obj]:
        """Objects of ``kind`` whose controller reference names ``owner``."""
        uid = uid_of(owner)
        return [
            obj
            for obj in self.dependents.get(uid, ())
            if obj.get("kind") == kind
            and any(r.get("uid") == uid and r.get("controller") for r in owner_refs(obj))
        ]

    def deployment_pods(self, deployment: Obj) -> list[Obj]:
        return [
            pod
            for rs in self.controlled(deployment, "ReplicaSet")
            for pod in self.controlled(rs, "Pod")
        ]


def uid_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("uid", ""))


def key_of(obj: Obj) -> str:
    metadata = obj.get("metadata", {})
    return f"{obj.get('kind')} {metadata.get('namespace', '')}/{metadata.get('name', '')}"


def owner_refs(obj: Obj) -> list[Mapping[str, Any]]:
    return list(obj.get("metadata", {}).get("ownerReferences") or ())


def terminating(obj: Obj) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def active(pod: Obj) -> bool:
    """Counted by a ReplicaSet: not being deleted, not finished."""
    phase = pod.get("status", {}).get("phase")
    return not terminating(pod) and phase not in ("Succeeded", "Failed")


def available(pod: Obj) -> bool:
    """Ready and not being deleted (minReadySeconds is 0 in the worlds that use this)."""
    conditions = pod.get("status", {}).get("conditions") or ()
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return active(pod) and ready


def replicas(obj: Obj) -> int:
    value = obj.get("spec", {}).get("replicas")
    return 1 if value is None else int(value)


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value if value is not None else "25%")
    percent = int(text.rstrip("%"))
    numerator = percent * total
    return -(-numerator // 100) if round_up else numerator // 100


def fenceposts(deployment: Obj) -> tuple[int, int] | None:
    """``(max surge, max unavailable)`` of a RollingUpdate Deployment; None for Recreate."""
    strategy = deployment.get("spec", {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return None
    rolling = strategy.get("rollingUpdate") or {}
    total = replicas(deployment)
    surge = _scaled(rolling.get("maxSurge"), total, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable"), total, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable
