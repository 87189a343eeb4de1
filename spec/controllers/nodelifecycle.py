"""What the node lifecycle and taint-eviction controllers must make true once the cluster has
settled (no controller pass pending), judged on stored objects (decoded JSON), each with a
``sometimes`` companion.

From the Kubernetes docs ("Nodes": node controller, "Taints and Tolerations": taint based
evictions, "Pod Lifecycle": pod conditions):

- ``node.pods_not_ready``: every pod bound to a node whose Ready condition is not True, that
  has not finished, has a Ready condition that is not True. This is also a property of the
  kubelet issue: a NotReady node's pods stop counting as ready (and leave Service endpoints).
  Companion ``node.not_ready_with_pods``: a node not Ready had such pods.
- ``node.taints_match_ready``: a node tainted ``node.kubernetes.io/unreachable:NoExecute``
  has Ready Unknown, one tainted ``node.kubernetes.io/not-ready:NoExecute`` has Ready False.
  Companion ``node.tainted``: some node carried one of them.
- ``taint.untolerated_evicted``: no pod that is not being deleted stays on a node with a
  NoExecute taint none of its tolerations matches. Companion ``taint.tolerated_kept``: a pod
  tolerating such a taint without ``tolerationSeconds`` stayed on a tainted node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spec.property import Violation

Obj = Mapping[str, Any]
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
SOMETIMES = ("node.not_ready_with_pods", "node.tainted", "taint.tolerated_kept")


def _violation(name: str, reason: str) -> Violation:
    return Violation(property_name=name, nodes=(), reason=reason)


def _meta(obj: Obj) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def _of(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj.get("kind") == kind]


def _ready(obj: Obj) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return str(condition.get("status"))
    return None


def _no_execute(node: Obj) -> list[Mapping[str, Any]]:
    return [
        t for t in (node.get("spec") or {}).get("taints") or () if t.get("effect") == "NoExecute"
    ]


def _pods_on(objects: list[Obj], node: Obj) -> list[Obj]:
    name = _meta(node).get("name")
    return [p for p in _of(objects, "Pod") if (p.get("spec") or {}).get("nodeName") == name]


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def pods_not_ready(objects: Iterable[Obj]) -> list[Violation]:
    listed = list(objects)
    found = []
    for node in _of(listed, "Node"):
        if _ready(node) in (None, "True"):
            continue
        for pod in _pods_on(listed, node):
            if _running(pod) and _ready(pod) == "True":
                found.append(
                    _violation(
                        "node.pods_not_ready",
                        f"pod {_meta(pod).get('namespace')}/{_meta(pod).get('name')} is Ready "
                        f"on node {_meta(node).get('name')} whose Ready is {_ready(node)}",
                    )
                )
    return found


def not_ready_with_pods(objects: Iterable[Obj]) -> bool:
    listed = list(objects)
    return any(
        _ready(node) not in (None, "True") and any(_running(p) for p in _pods_on(listed, node))
        for node in _of(listed, "Node")
    )


def taints_match_ready(objects: Iterable[Obj]) -> list[Violation]:
    found = []
    for node in _of(objects, "Node"):
        keys = {str(t.get("key")) for t in _no_execute(node)}
        ready = _ready(node)
        wrong = (UNREACHABLE in keys and ready != "Unknown") or (
            NOT_READY in keys and ready != "False"
        )
        if wrong:
            found.append(
                _violation(
                    "node.taints_match_ready",
                    f"node {_meta(node).get('name')} has NoExecute taints {sorted(keys)} "
                    f"with Ready {ready}",
                )
            )
    return found


def tainted(objects: Iterable[Obj]) -> bool:
    return any(
        t.get("key") in (UNREACHABLE, NOT_READY)
        for node in _of(objects, "Node")
        for t in _no_execute(node)
    )


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    if toleration.get("operator") == "Exists":
        return True
    return toleration.get("operator") in (None, "", "Equal") and (
        toleration.get("value") or ""
    ) == (taint.get("value") or "")


def _tolerations(pod: Obj) -> list[Mapping[str, Any]]:
    return list((pod.get("spec") or {}).get("tolerations") or ())


def untolerated_evicted(objects: Iterable[Obj]) -> list[Violation]:
    listed = list(objects)
    found = []
    for node in _of(listed, "Node"):
        taints = _no_execute(node)
        for pod in _pods_on(listed, node):
            if _meta(pod).get("deletionTimestamp"):
                continue
            if any(not any(_tolerates(t, taint) for t in _tolerations(pod)) for taint in taints):
                found.append(
                    _violation(
                        "taint.untolerated_evicted",
                        f"pod {_meta(pod).get('name')} stays on node {_meta(node).get('name')} "
                        f"with NoExecute taints it does not tolerate",
                    )
                )
    return found


def tolerated_kept(objects: Iterable[Obj]) -> bool:
    listed = list(objects)
    for node in _of(listed, "Node"):
        taints = _no_execute(node)
        if not taints:
            continue
        for pod in _pods_on(listed, node):
            if _meta(pod).get("deletionTimestamp"):
                continue
            forever = [t for t in _tolerations(pod) if t.get("tolerationSeconds") is None]
            if all(any(_tolerates(t, taint) for t in forever) for taint in taints):
                return True
    return False
