"""The PodDisruptionBudget gate of ``pods/eviction`` (kube's ``EvictionREST.Create``, v1.35).

A pod that is pending, finished or already being deleted is evicted without looking at budgets.
Otherwise the budgets of its namespace whose selector matches its labels (an empty selector
matches nothing here) decide: none, evict; more than one, 500; one, it must have observed its
latest generation (else 429, "still being processed") and allow a disruption (else 429 naming
the healthy pods it needs). An unready pod is evicted without spending the budget when the
budget's ``unhealthyPodEvictionPolicy`` is AlwaysAllow, or when the application is healthy
(currentHealthy >= desiredHealthy > 0). Spending the budget writes its status: one disruption
fewer, the pod in ``disruptedPods``, and the DisruptionAllowed condition once none is left.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import msgspec
from returns.pipeline import is_successful

from impl.apiserver import cache as cache_ops
from impl.apiserver.context import Context, KeyWrite
from impl.apiserver.objects import decode, metadata, stored_bytes
from models.apiserver.status import failure, internal_error
from models.k8s.base import decode_hook
from models.k8s.meta_ops import Status, StatusCause, StatusDetails
from models.selectors import LabelSelector, label_selector_as_selector

Json = dict[str, Any]
PDB_PREFIX: Final = "/registry/poddisruptionbudgets"
REFUSED: Final = "Cannot evict pod as it would violate the pod's disruption budget."


def _d(obj: object, *path: str) -> Any:
    for step in path:
        obj = obj.get(step) if isinstance(obj, dict) else None
    return obj


def _selects(pdb: Json, labels: dict[str, str]) -> bool:
    raw = _d(pdb, "spec", "selector")
    try:
        selector = msgspec.convert(raw, LabelSelector | None, dec_hook=decode_hook)
    except msgspec.ValidationError:
        return False
    parsed = label_selector_as_selector(selector)
    if not is_successful(parsed):  # an invalid selector matches nothing
        return False
    chosen = parsed.unwrap()
    return not chosen.is_empty() and chosen.matches(labels)


def _ready(pod: Json) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in _d(pod, "status", "conditions") or []
        if isinstance(c, dict)
    )


def _too_many(message: str) -> Status:
    causes = (StatusCause(reason="DisruptionBudget", message=message),)
    return failure(429, "TooManyRequests", REFUSED, StatusDetails(causes=causes))


def budget_gate(ctx: Context, pod: Json) -> Status | KeyWrite | None:
    """The refusal, the budget's status write, or None (evict without touching a budget)."""
    if _d(pod, "status", "phase") in ("Succeeded", "Failed", "Pending") or _d(
        pod, "metadata", "deletionTimestamp"
    ):
        return None
    namespace = str(_d(pod, "metadata", "namespace") or "")
    labels = _d(pod, "metadata", "labels") or {}
    budgets = [
        (key, cached)
        for key, cached in cache_ops.objects_under(ctx.cache, f"{PDB_PREFIX}/{namespace}/")
        if _selects(decode(cached.value), labels)
    ]
    if len(budgets) > 1:
        return internal_error(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support."
        )
    if not budgets:
        return None
    key, cached = budgets[0]
    pdb = decode(cached.value)
    status = _d(pdb, "status") or {}
    if not _ready(pod):
        policy = _d(pdb, "spec", "unhealthyPodEvictionPolicy")
        current, desired = status.get("currentHealthy") or 0, status.get("desiredHealthy") or 0
        if policy == "AlwaysAllow" or current >= desired > 0:
            return None
    return _spend(ctx, key, cached.mod_revision, pdb, str(_d(pod, "metadata", "name")))


def _spend(ctx: Context, key: str, revision: int, pdb: Json, pod_name: str) -> Status | KeyWrite:
    """``checkAndDecrement``."""
    name = str(_d(pdb, "metadata", "name"))
    status = _d(pdb, "status") or {}
    if (status.get("observedGeneration") or 0) < (_d(pdb, "metadata", "generation") or 0):
        return _too_many(f"The disruption budget {name} is still being processed by the server.")
    allowed = status.get("disruptionsAllowed") or 0
    if allowed < 0:
        return failure(
            403,
            "Forbidden",
            f'poddisruptionbudgets.policy "{name}" is forbidden: '
            "pdb disruptions allowed is negative",
            StatusDetails(name=name, group="policy", kind="poddisruptionbudgets"),
        )
    if allowed == 0:
        return _too_many(
            f"The disruption budget {name} needs {status.get('desiredHealthy') or 0} healthy "
            f"pods and has {status.get('currentHealthy') or 0} currently"
        )
    spent = copy.deepcopy(pdb)
    metadata(spent).pop("resourceVersion", None)
    new_status = spent.setdefault("status", {})
    new_status["disruptionsAllowed"] = allowed - 1
    new_status.setdefault("disruptedPods", {})[pod_name] = ctx.entropy.now
    if allowed - 1 == 0:
        _insufficient(new_status, ctx.entropy.now)
    return KeyWrite(key=key, expected=revision, value=stored_bytes(spent))


def _insufficient(status: Json, now: str) -> None:
    """``UpdateDisruptionAllowedCondition`` with no disruption left (``SetStatusCondition``:
    the transition time moves only when the status changes)."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    found = next((c for c in conditions if c.get("type") == "DisruptionAllowed"), None)
    if found is None:
        found = {"type": "DisruptionAllowed"}
        conditions.append(found)
    if found.get("status") != "False":
        found["lastTransitionTime"] = now
    found.update(
        status="False",
        reason="InsufficientPods",
        message=found.get("message", ""),
        observedGeneration=status.get("observedGeneration") or 0,
    )
    status["conditions"] = conditions
