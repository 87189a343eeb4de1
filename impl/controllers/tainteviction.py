"""The taint-eviction controller (``taint-eviction-controller``): deletes pods from nodes with
NoExecute taints they do not tolerate, or tolerate only for a while.

Theory of operation (``pkg/controller/tainteviction``, v1.35). A pod is looked at when it is
added, deleted, moved to a node or changes tolerations, and every pod of a node whose
NoExecute taints change. A sync of a pod key:

- no pod, no node, or no NoExecute taint on the node: any scheduled eviction is cancelled;
- a taint no toleration matches (``ToleratesTaint``: same effect or none, same key or none,
  operator Exists, or Equal with the same value): the pod is evicted now;
- otherwise the smallest ``tolerationSeconds`` of the matching tolerations (0 or less: now;
  none set: never) is counted from when the controller first scheduled the eviction; when it
  comes the pod is evicted. An eviction adds the pod condition DisruptionTarget
  (``DeletionByTaintManager``, "Taint manager: deleting due to NoExecute taint") and deletes
  the pod, once.
"""

from __future__ import annotations

import immutables
import msgspec

from impl.controllers.cache import Change, every, get, split_key
from impl.controllers.objects import meta, pod_key, timestamp
from impl.controllers.plan import Context, ControllerDef, Outcome, Planned, Reaction, Watch
from models.controllers.config import ControllerConfig
from models.controllers.messages import ApiCall
from models.k8s.core.node import Node, Taint
from models.k8s.core.pod import Pod, Toleration

NAME = "taint-eviction-controller"
STRATEGIC = "application/strategic-merge-patch+json"


class Scheduled(msgspec.Struct, frozen=True, kw_only=True):
    created_ms: int
    trigger_ms: int


class TaintPrivate(msgspec.Struct, frozen=True, kw_only=True):
    scheduled: immutables.Map[str, Scheduled] = msgspec.field(default_factory=immutables.Map)
    done: frozenset[str] = frozenset()


def no_execute(node: Node | None) -> list[Taint]:
    if node is None or node.spec is None:
        return []
    return [t for t in node.spec.taints or () if t.effect == "NoExecute"]


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """``ToleratesTaint``."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator in (None, "", "Equal"):
        return (toleration.value or "") == (taint.value or "")
    return toleration.operator == "Exists"


def matching(taints: list[Taint], tolerations: list[Toleration]) -> tuple[bool, list[Toleration]]:
    """``GetMatchingTolerations``: all tolerated?, and the tolerations used."""
    if not taints:
        return True, []
    used = []
    for taint in taints:
        found = next((t for t in tolerations if tolerates(t, taint)), None)
        if found is None:
            return False, []
        used.append(found)
    return True, used


def min_toleration_ms(tolerations: list[Toleration]) -> int:
    """``getMinTolerationTime``: 0 now, -1 never."""
    if not tolerations:
        return 0
    found = [t.toleration_seconds for t in tolerations if t.toleration_seconds is not None]
    if not found:
        return -1
    if min(found) <= 0:
        return 0
    return min(found) * 1000


def _pods_on(context: Context[TaintPrivate], node_name: str) -> tuple[str, ...]:
    return tuple(
        pod_key(p)
        for p in every(context.cache, "pods")
        if p.spec is not None and p.spec.node_name == node_name
    )


def _placement(pod: Pod) -> tuple[object, object]:
    return (pod.spec.tolerations, pod.spec.node_name) if pod.spec else (None, None)


def handle(context: Context[TaintPrivate], change: Change) -> Reaction[TaintPrivate]:
    adds: tuple[str, ...] = ()
    if change.resource == "pods":
        old, new = change.old, change.new
        if change.change != "MODIFIED" or (
            (old.spec.tolerations if old.spec else None)
            != (new.spec.tolerations if new.spec else None)
            or (old.spec.node_name if old.spec else None)
            != (new.spec.node_name if new.spec else None)
        ):
            adds = (pod_key(change.current),)
    elif change.resource == "nodes":
        before = no_execute(change.old)
        after = no_execute(change.new)
        if before != after:
            adds = _pods_on(context, meta(change.current).name or "")
    return Reaction(expectations=context.expectations, private=context.private, adds=adds)


def _cancel(private: TaintPrivate, key: str) -> TaintPrivate:
    return TaintPrivate(
        scheduled=private.scheduled.delete(key) if key in private.scheduled else private.scheduled,
        done=private.done - {key},
    )


def _evict(
    context: Context[TaintPrivate], private: TaintPrivate, pod: Pod
) -> Outcome[TaintPrivate]:
    key = pod_key(pod)
    namespace, name = meta(pod).namespace or "", meta(pod).name or ""
    private = TaintPrivate(
        scheduled=private.scheduled.delete(key) if key in private.scheduled else private.scheduled,
        done=private.done | {key},
    )
    condition = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": timestamp(context.now_ms),
    }
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    mark = Planned(
        call=ApiCall(
            method="PATCH",
            path=f"{path}/status",
            content_type=STRATEGIC,
            body=msgspec.json.encode({"status": {"conditions": [condition]}}),
        ),
        any_answer=True,
    )
    remove = Planned(call=ApiCall(method="DELETE", path=path), tolerated=frozenset({404}))
    return Outcome(expectations=context.expectations, private=private, batches=((mark,), (remove,)))


def sync(context: Context[TaintPrivate], key: str) -> Outcome[TaintPrivate]:
    namespace, name = split_key(key)
    private = context.private
    pod: Pod | None = get(context.cache, "pods", namespace, name)
    node_name = (pod.spec.node_name or "") if pod is not None and pod.spec else ""
    node: Node | None = get(context.cache, "nodes", "", node_name) if node_name else None
    taints = no_execute(node)
    if pod is None or not taints:
        return Outcome(expectations=context.expectations, private=_cancel(private, key))
    tolerations = list(pod.spec.tolerations or ()) if pod.spec else []
    tolerated, used = matching(taints, tolerations)
    if not tolerated:
        if key in private.done:
            return Outcome(expectations=context.expectations, private=private)
        return _evict(context, private, pod)
    wait = min_toleration_ms(used)
    if wait < 0:
        return Outcome(expectations=context.expectations, private=_cancel(private, key))
    scheduled = private.scheduled.get(key)
    if scheduled is None:
        if key in private.done:
            return Outcome(expectations=context.expectations, private=private)
        scheduled = Scheduled(created_ms=context.now_ms, trigger_ms=context.now_ms + wait)
        private = msgspec.structs.replace(private, scheduled=private.scheduled.set(key, scheduled))
    if context.now_ms >= scheduled.trigger_ms:
        return _evict(context, private, pod)
    return Outcome(
        expectations=context.expectations,
        private=private,
        requeue_after_ms=scheduled.trigger_ms - context.now_ms,
    )


def _workers(config: ControllerConfig) -> int:
    del config
    return 8


DEFINITION: ControllerDef[TaintPrivate] = ControllerDef(
    name=NAME,
    watches=(Watch("pods"), Watch("nodes")),
    initial=lambda _config: TaintPrivate(),
    handle=handle,
    sync=sync,
    workers=_workers,
    aliases=("tainteviction",),
)
