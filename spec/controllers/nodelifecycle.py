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
- ``node.noschedule_by_condition``: a node's NoSchedule taints among
  ``node.kubernetes.io/{not-ready,unreachable,memory-pressure,disk-pressure,pid-pressure,
  network-unavailable,unschedulable}`` are exactly those its conditions call for (Ready False:
  not-ready, Unknown: unreachable; MemoryPressure, DiskPressure, PIDPressure,
  NetworkUnavailable True: the matching key) plus unschedulable when ``spec.unschedulable``
  ("Taints and Tolerations": taint nodes by condition). Companion ``node.pressure_tainted``: a
  node with a True pressure condition carried its NoSchedule taint.
- ``taint.untolerated_evicted``: no pod that is not being deleted stays on a node with a
  NoExecute taint none of its tolerations matches. Companion ``taint.tolerated_kept``: a pod
  tolerating such a taint without ``tolerationSeconds`` stayed on a tainted node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from spec.property import Violation

Obj = Mapping[str, Any]
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
SOMETIMES = (
    "node.not_ready_with_pods",
    "node.tainted",
    "node.pressure_tainted",
    "taint.tolerated_kept",
)
BY_CONDITION: Final = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
}
CORDONED = "node.kubernetes.io/unschedulable"
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")


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


def _called_for(node: Obj) -> set[str]:
    wanted = {
        BY_CONDITION[(str(c.get("type")), str(c.get("status")))]
        for c in (node.get("status") or {}).get("conditions") or ()
        if (str(c.get("type")), str(c.get("status"))) in BY_CONDITION
    }
    return wanted | ({CORDONED} if (node.get("spec") or {}).get("unschedulable") else set())


def _no_schedule_keys(node: Obj) -> set[str]:
    owned = {*BY_CONDITION.values(), CORDONED}
    return {
        str(t.get("key"))
        for t in (node.get("spec") or {}).get("taints") or ()
        if t.get("effect") == "NoSchedule" and t.get("key") in owned
    }


def noschedule_by_condition(objects: Iterable[Obj]) -> list[Violation]:
    found = []
    for node in _of(objects, "Node"):
        wanted, carried = _called_for(node), _no_schedule_keys(node)
        if wanted != carried:
            found.append(
                _violation(
                    "node.noschedule_by_condition",
                    f"node {_meta(node).get('name')} has NoSchedule taints {sorted(carried)} "
                    f"where its conditions call for {sorted(wanted)}",
                )
            )
    return found


def pressure_tainted(objects: Iterable[Obj]) -> bool:
    for node in _of(objects, "Node"):
        pressed = {
            BY_CONDITION[(kind, "True")]
            for c in (node.get("status") or {}).get("conditions") or ()
            if (kind := str(c.get("type"))) in PRESSURES and c.get("status") == "True"
        }
        if pressed and pressed <= _no_schedule_keys(node):
            return True
    return False


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
