"""What PodDisruptionBudgets promise, judged on stored objects (decoded JSON), each with a
``sometimes`` companion.

From the Kubernetes docs ("Specifying a Disruption Budget for your Application", "Disruptions"
and the PodDisruptionBudget API reference):

- ``disruption.status`` (once settled): a budget's status says what its spec and pods imply.
  Its pods are those of its namespace its selector matches. With ``minAvailable`` as a number,
  expectedPods is the number of pods and desiredHealthy is minAvailable; with a percentage,
  expectedPods is the summed replicas of the pods' controllers (a Deployment through its
  ReplicaSet, a ReplicaSet, a StatefulSet) and desiredHealthy the percentage of it rounded up;
  with ``maxUnavailable``, desiredHealthy is expectedPods (the summed replicas) less
  maxUnavailable (a percentage rounded up), at least 0. currentHealthy counts the Ready pods
  not being deleted and not listed in ``disruptedPods``; disruptionsAllowed is
  currentHealthy - desiredHealthy, at least 0, and 0 when no pod is expected; the
  DisruptionAllowed condition is True (SufficientPods) exactly when a disruption is allowed;
  observedGeneration is the budget's generation. Companion ``disruption.none_allowed``: a
  budget with pods expected allowed no disruption.
- ``disruption.evictions_keep_budget`` (safety, judged after each admitted eviction): the
  budget's Ready pods that are not being deleted are at least its desiredHealthy, unless they
  were already fewer before the eviction. Companion ``disruption.evicted_to_minimum``: an
  eviction left exactly desiredHealthy such pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spec.property import Violation

Obj = Mapping[str, Any]
SOMETIMES = ("disruption.none_allowed", "disruption.evicted_to_minimum")


def _violation(name: str, reason: str) -> Violation:
    return Violation(property_name=name, nodes=(), reason=reason)


def _meta(obj: Obj) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def _of(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj.get("kind") == kind]


def _matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against labels."""
    if not isinstance(selector, Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or ()
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pods_of(budget: Obj, objects: list[Obj]) -> list[Obj]:
    namespace = _meta(budget).get("namespace")
    selector = (budget.get("spec") or {}).get("selector")
    return [
        pod
        for pod in _of(objects, "Pod")
        if _meta(pod).get("namespace") == namespace
        and _matches(selector, _meta(pod).get("labels") or {})
    ]


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def healthy(pods: list[Obj]) -> int:
    """Ready pods not being deleted."""
    return sum(1 for pod in pods if _ready(pod) and not _meta(pod).get("deletionTimestamp"))


def _controller(obj: Obj) -> Mapping[str, Any] | None:
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            found: Mapping[str, Any] = ref
            return found
    return None


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _scale(pods: list[Obj], objects: list[Obj]) -> int:
    by_uid = {str(_meta(o).get("uid")): o for o in objects}
    scales: dict[str, int] = {}
    for pod in pods:
        ref = _controller(pod)
        owner = by_uid.get(str(ref.get("uid"))) if ref else None
        if owner is None:
            continue
        top = _controller(owner)
        if (
            owner.get("kind") == "ReplicaSet"
            and top is not None
            and top.get("kind") == "Deployment"
        ):
            owner = by_uid.get(str(top.get("uid")), owner)
        scales[str(_meta(owner).get("uid"))] = _replicas(owner)
    return sum(scales.values())


def _percent(value: Any, total: int) -> int:
    if isinstance(value, int):
        return value
    return -(-int(str(value).rstrip("%")) * total // 100)


def implied(budget: Obj, objects: list[Obj]) -> tuple[int, int]:
    """(expectedPods, desiredHealthy) the docs derive from the spec."""
    spec = budget.get("spec") or {}
    pods = pods_of(budget, objects)
    if spec.get("maxUnavailable") is not None:
        expected = _scale(pods, objects)
        return expected, max(0, expected - _percent(spec["maxUnavailable"], expected))
    if spec.get("minAvailable") is not None:
        if isinstance(spec["minAvailable"], int):
            return len(pods), spec["minAvailable"]
        expected = _scale(pods, objects)
        return expected, _percent(spec["minAvailable"], expected)
    return 0, 0


def status(objects: Iterable[Obj]) -> list[Violation]:
    """``disruption.status`` on a settled cluster."""
    listed = list(objects)
    found: list[Violation] = []
    for budget in _of(listed, "PodDisruptionBudget"):
        pods = pods_of(budget, listed)
        got = budget.get("status") or {}
        disrupted = set(got.get("disruptedPods") or {})
        expected, desired = implied(budget, listed)
        current = healthy([p for p in pods if _meta(p).get("name") not in disrupted])
        allowed = max(0, current - desired) if expected > 0 else 0
        conditions = [
            c for c in got.get("conditions") or () if c.get("type") == "DisruptionAllowed"
        ]
        condition = (
            (conditions[0].get("status"), conditions[0].get("reason")) if conditions else None
        )
        want = {
            "expectedPods": expected,
            "desiredHealthy": desired,
            "currentHealthy": current,
            "disruptionsAllowed": allowed,
            "observedGeneration": _meta(budget).get("generation"),
            "condition": ("True", "SufficientPods") if allowed else ("False", "InsufficientPods"),
        }
        have = {key: got.get(key) for key in want if key != "condition"}
        have["condition"] = condition
        if have != want:
            found.append(
                _violation(
                    "disruption.status",
                    f"PodDisruptionBudget {_meta(budget).get('namespace')}/"
                    f"{_meta(budget).get('name')}: status {have}, the docs say {want}",
                )
            )
    return found


def none_allowed(objects: Iterable[Obj]) -> bool:
    return any(
        (b.get("status") or {}).get("expectedPods", 0) > 0
        and (b.get("status") or {}).get("disruptionsAllowed") == 0
        for b in _of(objects, "PodDisruptionBudget")
    )


def evictions_keep_budget(before: Iterable[Obj], after: Iterable[Obj]) -> list[Violation]:
    """``disruption.evictions_keep_budget`` across one admitted eviction."""
    listed_before, listed_after = list(before), list(after)
    found: list[Violation] = []
    for budget in _of(listed_after, "PodDisruptionBudget"):
        desired = (budget.get("status") or {}).get("desiredHealthy", 0)
        now = healthy(pods_of(budget, listed_after))
        was = healthy(pods_of(budget, listed_before))
        if now < desired <= was:
            found.append(
                _violation(
                    "disruption.evictions_keep_budget",
                    f"PodDisruptionBudget {_meta(budget).get('name')}: {now} healthy pods "
                    f"after an eviction, {desired} desired",
                )
            )
    return found


def evicted_to_minimum(after: Iterable[Obj]) -> bool:
    listed = list(after)
    return any(
        healthy(pods_of(b, listed)) == (b.get("status") or {}).get("desiredHealthy", -1)
        for b in _of(listed, "PodDisruptionBudget")
    )
