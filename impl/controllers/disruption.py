"""The disruption controller (``disruption-controller``): the status of every
PodDisruptionBudget, which the API server's eviction gate reads.

Theory of operation (``pkg/controller/disruption/disruption.go``, v1.35). A budget is queued
when it changes and when one of the pods it selects changes (a pod goes to the first budget,
by name, whose non-empty selector matches it). A sync of ``ns/name``:

1. the budget's pods are those of its namespace its selector matches;
2. expected pods and desired healthy: with ``maxUnavailable``, expected = the summed scale of
   the pods' controllers and desired = expected - maxUnavailable (at least 0); with an integer
   ``minAvailable``, expected = the number of pods and desired = minAvailable; with a
   percentage ``minAvailable``, expected = the summed scale and desired = minAvailable of it.
   Percentages round up. A pod's controller scale is its Deployment's replicas (through its
   ReplicaSet), else its ReplicaSet's (not owned by a Deployment), else its StatefulSet's; a
   pod whose controller none of these is fails the sync, and so does a percentage that is not
   one; pods without a controller are left out of the scale;
3. ``disruptedPods`` keeps the evicted pods (not yet being deleted) whose eviction is less
   than two minutes old; a sync is due again when the oldest such entry expires;
4. current healthy = the pods that are Ready, not being deleted and not in
   ``disruptedPods``; disruptions allowed = current - desired, or 0 when that is negative or
   no pod is expected;
5. if anything differs (the numbers, ``disruptedPods``, ``observedGeneration``, or a
   DisruptionAllowed condition that does not say True/SufficientPods when disruptions are
   allowed and False/InsufficientPods otherwise) the status is written.

A sync that fails for any reason but a write conflict writes the fail-safe status instead:
disruptions allowed 0 and DisruptionAllowed False with reason SyncFailed and the error as its
message; the budget is retried rate-limited.
"""

from __future__ import annotations

import msgspec
from returns.result import Success

from impl.controllers.cache import Change, get, in_namespace, key_of, split_key
from impl.controllers.calls import update_status
from impl.controllers.objects import (
    controller_of,
    deleting,
    is_ready,
    labels,
    meta,
    seconds,
    timestamp,
    uid,
)
from impl.controllers.plan import (
    Context,
    ControllerDef,
    Outcome,
    Planned,
    Reaction,
    Watch,
    finished,
    unchanged,
)
from models.controllers.config import ControllerConfig
from models.controllers.resources import RESOURCES
from models.k8s.base import FrozenMap
from models.k8s.core.pod import Pod
from models.k8s.meta import Condition
from models.k8s.policy import PodDisruptionBudget, PodDisruptionBudgetStatus
from models.selectors import Selector, label_selector_as_selector

NAME = "disruption-controller"
PDBS = RESOURCES["poddisruptionbudgets"]
DELETION_TIMEOUT_MS = 2 * 60 * 1000
CONDITION = "DisruptionAllowed"
SUFFICIENT = "SufficientPods"
INSUFFICIENT = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
APPS_GROUPS = ("apps", "extensions")


class SyncError(Exception):
    """A reason the budget's status cannot be computed (the fail-safe's message)."""


def _selector(pdb: PodDisruptionBudget) -> Selector | None:
    parsed = label_selector_as_selector(pdb.spec.selector if pdb.spec else None)
    return parsed.unwrap() if isinstance(parsed, Success) else None


# Handlers -------------------------------------------------------------------------------------


def budget_for(context: Context[None], pod: Pod) -> str | None:
    """``getPdbForPod``: the first budget (by name) whose non-empty selector matches the pod."""
    for pdb in in_namespace(context.cache, "poddisruptionbudgets", meta(pod).namespace or ""):
        selector = _selector(pdb)
        if selector is not None and not selector.is_empty() and selector.matches(labels(pod)):
            return key_of(pdb)
    return None


def handle(context: Context[None], change: Change) -> Reaction[None]:
    if change.resource == "poddisruptionbudgets":
        return unchanged(context, key_of(change.current))
    if change.resource != "pods":
        return unchanged(context)
    if (
        change.change == "MODIFIED"
        and meta(change.old).resource_version == meta(change.new).resource_version
    ):
        return unchanged(context)
    key = budget_for(context, change.current)
    return unchanged(context, key) if key is not None else unchanged(context)


# Sync -----------------------------------------------------------------------------------------


def scaled(value: int | str, total: int) -> int:
    """``GetScaledValueFromIntOrPercent`` rounding up."""
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise SyncError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise SyncError(f'invalid value "{value}": not an integer percentage') from None
    return -(-percent * total // 100)


def _controller_scale(context: Context[None], pod: Pod) -> tuple[str, int] | None:
    """The finders: (controller UID, scale) of the pod's Deployment, ReplicaSet or
    StatefulSet; None when none of them is found."""
    namespace = meta(pod).namespace or ""
    ref = controller_of(pod)
    assert ref is not None
    group = (ref.api_version or "").split("/")[0] if "/" in (ref.api_version or "") else ""
    if ref.kind == "ReplicaSet" and group in APPS_GROUPS:
        rs = get(context.cache, "replicasets", namespace, ref.name or "")
        if rs is None or uid(rs) != ref.uid:
            return None
        owner = controller_of(rs)
        if owner is not None and owner.kind == "Deployment":
            found = get(context.cache, "deployments", namespace, owner.name or "")
            if found is None or uid(found) != owner.uid:
                return None
            replicas = found.spec.replicas if found.spec else None
            return uid(found), 1 if replicas is None else replicas
        replicas = rs.spec.replicas if rs.spec else None
        return uid(rs), 1 if replicas is None else replicas
    if ref.kind == "StatefulSet" and group in APPS_GROUPS:
        found = get(context.cache, "statefulsets", namespace, ref.name or "")
        if found is None or uid(found) != ref.uid:
            return None
        replicas = found.spec.replicas if found.spec else None
        return uid(found), 1 if replicas is None else replicas
    return None


def expected_scale(context: Context[None], pods: list[Pod]) -> int:
    """``getExpectedScale``: the summed scale of the pods' controllers."""
    scales: dict[str, int] = {}
    for pod in pods:
        ref = controller_of(pod)
        if ref is None or (ref.uid or "") in scales:
            continue
        found = _controller_scale(context, pod)
        if found is None:
            raise SyncError(f'found no controllers for pod "{meta(pod).name}"')
        scales[found[0]] = found[1]
    return sum(scales.values())


def expected_and_desired(
    context: Context[None], pdb: PodDisruptionBudget, pods: list[Pod]
) -> tuple[int, int]:
    """``getExpectedPodCount``: (expected pods, desired healthy)."""
    spec = pdb.spec
    if spec is not None and spec.max_unavailable is not None:
        expected = expected_scale(context, pods)
        return expected, max(0, expected - scaled(spec.max_unavailable, expected))
    if spec is not None and spec.min_available is not None:
        if isinstance(spec.min_available, int):
            return len(pods), spec.min_available
        expected = expected_scale(context, pods)
        return expected, scaled(spec.min_available, expected)
    return 0, 0


def disrupted(
    pdb: PodDisruptionBudget, pods: list[Pod], now_ms: int
) -> tuple[dict[str, str], int | None]:
    """``buildDisruptedPodMap``: the entries still pending and when the first expires (ms)."""
    listed = dict(pdb.status.disrupted_pods or {}) if pdb.status else {}
    kept: dict[str, str] = {}
    recheck: int | None = None
    for pod in pods:
        if deleting(pod):
            continue
        name = meta(pod).name or ""
        since = listed.get(name)
        moment = seconds(since)
        if since is None or moment is None:
            continue
        expires = moment * 1000 + DELETION_TIMEOUT_MS
        if expires < now_ms:
            continue
        recheck = expires if recheck is None else min(recheck, expires)
        kept[name] = since
    return kept, recheck


def current_healthy(pods: list[Pod], kept: dict[str, str], now_ms: int) -> int:
    """``countHealthyPods``."""
    count = 0
    for pod in pods:
        if deleting(pod):
            continue
        since = seconds(kept.get(meta(pod).name or ""))
        if since is not None and since * 1000 + DELETION_TIMEOUT_MS > now_ms:
            continue
        count += is_ready(pod)
    return count


def set_condition(
    conditions: tuple[Condition, ...],
    status: str,
    reason: str,
    message: str,
    generation: int,
    now_ms: int,
) -> tuple[Condition, ...]:
    """``meta.SetStatusCondition`` for DisruptionAllowed: the transition time moves only when
    the status changes."""
    existing = next((c for c in conditions if c.type == CONDITION), None)
    if existing is None:
        fresh = Condition(
            type=CONDITION,
            status=status,
            observed_generation=generation,
            last_transition_time=timestamp(now_ms),
            reason=reason,
            message=message,
        )
        return (*conditions, fresh)
    updated = msgspec.structs.replace(
        existing,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=timestamp(now_ms)
        if existing.status != status
        else existing.last_transition_time,
    )
    return tuple(updated if c is existing else c for c in conditions)


def _up_to_date(pdb: PodDisruptionBudget) -> bool:
    """``ConditionsAreUpToDate``."""
    status = pdb.status or PodDisruptionBudgetStatus()
    found = next((c for c in status.conditions or () if c.type == CONDITION), None)
    if found is None or (status.observed_generation or 0) != (meta(pdb).generation or 0):
        return False
    if (status.disruptions_allowed or 0) > 0:
        return found.status == "True" and found.reason == SUFFICIENT
    return found.status == "False" and found.reason == INSUFFICIENT


def _write(pdb: PodDisruptionBudget, status: PodDisruptionBudgetStatus) -> Planned:
    return Planned(call=update_status(PDBS, msgspec.structs.replace(pdb, status=status)))


def _fail_safe(context: Context[None], pdb: PodDisruptionBudget, error: str) -> Outcome[None]:
    """``failSafe``: no disruption allowed, DisruptionAllowed False/SyncFailed; then retry."""
    status = pdb.status or PodDisruptionBudgetStatus()
    conditions = set_condition(
        tuple(status.conditions or ()),
        "False",
        SYNC_FAILED,
        error,
        status.observed_generation or 0,
        context.now_ms,
    )
    new = msgspec.structs.replace(status, disruptions_allowed=0, conditions=conditions)
    return Outcome(
        expectations=context.expectations,
        private=None,
        batches=((_write(pdb, new),),),
        error=error,
    )


def sync(context: Context[None], key: str) -> Outcome[None]:
    namespace, name = split_key(key)
    pdb: PodDisruptionBudget | None = get(context.cache, "poddisruptionbudgets", namespace, name)
    if pdb is None:
        return finished(context)
    selector = _selector(pdb)
    if selector is None:
        return _fail_safe(context, pdb, "invalid label selector")
    pods = [
        pod
        for pod in in_namespace(context.cache, "pods", namespace)
        if selector.matches(labels(pod))
    ]
    try:
        expected, desired = expected_and_desired(context, pdb, pods)
    except SyncError as error:
        return _fail_safe(context, pdb, str(error))
    kept, recheck = disrupted(pdb, pods, context.now_ms)
    healthy = current_healthy(pods, kept, context.now_ms)
    allowed = healthy - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    status = pdb.status or PodDisruptionBudgetStatus()
    generation = meta(pdb).generation or 0
    requeue = None if recheck is None else recheck - context.now_ms + 1
    if (
        (status.current_healthy or 0, status.desired_healthy or 0) == (healthy, desired)
        and (status.expected_pods or 0, status.disruptions_allowed or 0) == (expected, allowed)
        and dict(status.disrupted_pods or {}) == kept
        and (status.observed_generation or 0) == generation
        and _up_to_date(pdb)
    ):
        return finished(context, requeue_after_ms=requeue)
    up = allowed > 0
    conditions = set_condition(
        tuple(status.conditions or ()),
        "True" if up else "False",
        SUFFICIENT if up else INSUFFICIENT,
        "",
        generation,
        context.now_ms,
    )
    new = PodDisruptionBudgetStatus(
        observed_generation=generation,
        disrupted_pods=FrozenMap(kept) if kept else None,
        disruptions_allowed=allowed,
        current_healthy=healthy,
        desired_healthy=desired,
        expected_pods=expected,
        conditions=conditions,
    )
    return Outcome(
        expectations=context.expectations,
        private=None,
        batches=((_write(pdb, new),),),
        requeue_after_ms=requeue,
    )


def _workers(config: ControllerConfig) -> int:
    del config
    return 1


DEFINITION: ControllerDef[None] = ControllerDef(
    name=NAME,
    watches=(
        Watch("poddisruptionbudgets"),
        Watch("pods"),
        Watch("replicasets"),
        Watch("deployments"),
        Watch("statefulsets"),
    ),
    initial=lambda _config: None,
    handle=handle,
    sync=sync,
    workers=_workers,
    aliases=("disruption",),
)
