"""The Deployment controller (``deployment-controller``): rollouts through ReplicaSets.

Theory of operation (``pkg/controller/deployment/deployment_controller.go``, v1.35). Handlers
queue a Deployment when it changes, when a ReplicaSet it controls changes (an orphan queues the
Deployments whose selector matches its labels), and, for Recreate, when its last pod is gone.
A sync claims the ReplicaSets (adopting and releasing as the ReplicaSet controller claims
pods), snapshots the Deployment, its ReplicaSets and its pods, and runs ``syncDeployment``
(:mod:`impl.controllers.deployment_rollout`) call by call through a
:class:`~impl.controllers.script.Script`. Errors re-queue the key rate-limited up to 15 times
(``maxRetries``); a namespace being terminated is not an error.
"""

from __future__ import annotations

from typing import Any

import msgspec
from returns.result import Success

from impl.controllers import claiming, ownership
from impl.controllers.cache import Change, get, in_namespace, key_of, split_key
from impl.controllers.deployment_rollout import sync_deployment
from impl.controllers.deployment_sync import Env, Snapshot
from impl.controllers.objects import controller_of, deleting, labels, meta, uid
from impl.controllers.plan import (
    Context,
    ControllerDef,
    Outcome,
    Reaction,
    Reply,
    Watch,
    finished,
    unchanged,
)
from impl.controllers.script import Script, Suspend
from models.controllers.config import ControllerConfig
from models.controllers.resources import RESOURCES
from models.k8s.apps import Deployment, ReplicaSet
from models.k8s.core.pod import Pod
from models.selectors import Selector, label_selector_as_selector

NAME = "deployment-controller"
DEPLOYMENTS = RESOURCES["deployments"]
REPLICASETS = RESOURCES["replicasets"]
MAX_RETRIES = 15


class Running(msgspec.Struct, frozen=True, kw_only=True, tag="deployment-run"):
    snapshot: Snapshot
    replies: tuple[Reply, ...]


def selector_of(d: Deployment) -> Selector | None:
    parsed = label_selector_as_selector(d.spec.selector if d.spec else None)
    return parsed.unwrap() if isinstance(parsed, Success) else None


# Handlers -------------------------------------------------------------------------------------


def _resolve(context: Context[None], namespace: str, reference: Any) -> Deployment | None:
    if reference is None or reference.kind != "Deployment":
        return None
    d: Deployment | None = get(context.cache, "deployments", namespace, reference.name or "")
    return d if d is not None and uid(d) == reference.uid else None


def _for_orphan(context: Context[None], rs: ReplicaSet) -> tuple[str, ...]:
    keys = []
    for d in in_namespace(context.cache, "deployments", meta(rs).namespace or ""):
        selector = selector_of(d)
        if selector is not None and not selector.is_empty() and selector.matches(labels(rs)):
            keys.append(key_of(d))
    return tuple(keys)


def _replica_set_changed(context: Context[None], change: Change) -> Reaction[None]:
    rs: ReplicaSet = change.current
    namespace = meta(rs).namespace or ""
    if change.change == "ADDED":
        if deleting(rs):
            return _replica_set_changed(
                context, Change(resource=change.resource, change="DELETED", old=rs)
            )
        reference = controller_of(rs)
        if reference is not None:
            d = _resolve(context, namespace, reference)
            return unchanged(context, key_of(d)) if d is not None else unchanged(context)
        return unchanged(context, *_for_orphan(context, rs))
    if change.change == "DELETED":
        d = _resolve(context, namespace, controller_of(rs))
        return unchanged(context, key_of(d)) if d is not None else unchanged(context)
    old, new = change.old, change.new
    if meta(old).resource_version == meta(new).resource_version:
        return unchanged(context)
    old_ref, new_ref = controller_of(old), controller_of(new)
    adds: list[str] = []
    if old_ref != new_ref and old_ref is not None:
        previous = _resolve(context, namespace, old_ref)
        if previous is not None:
            adds.append(key_of(previous))
    if new_ref is not None:
        d = _resolve(context, namespace, new_ref)
        return unchanged(context, *adds, *((key_of(d),) if d is not None else ()))
    if labels(old) != labels(new) or old_ref != new_ref:
        adds.extend(_for_orphan(context, new))
    return unchanged(context, *adds)


def _pod_deleted(context: Context[None], pod: Pod) -> Reaction[None]:
    """``deletePod``: a Recreate Deployment is queued when its last pod is gone."""
    namespace = meta(pod).namespace or ""
    reference = controller_of(pod)
    if reference is None or reference.kind != "ReplicaSet":
        return unchanged(context)
    rs: ReplicaSet | None = get(context.cache, "replicasets", namespace, reference.name or "")
    if rs is None or uid(rs) != reference.uid:
        return unchanged(context)
    d = _resolve(context, namespace, controller_of(rs))
    if d is None or d.spec is None or d.spec.strategy is None or d.spec.strategy.type != "Recreate":
        return unchanged(context)
    if _pods_of(context, d, _replica_sets_of(context, d)):
        return unchanged(context)
    return unchanged(context, key_of(d))


def handle(context: Context[None], change: Change) -> Reaction[None]:
    if change.resource == "deployments":
        return unchanged(context, key_of(change.current))
    if change.resource == "replicasets":
        return _replica_set_changed(context, change)
    if change.change == "DELETED":
        return _pod_deleted(context, change.old)
    return unchanged(context)


# Sync -----------------------------------------------------------------------------------------


def _replica_sets_of(context: Context[None], d: Deployment) -> tuple[ReplicaSet, ...]:
    owner = uid(d)
    return tuple(
        rs
        for rs in in_namespace(context.cache, "replicasets", meta(d).namespace or "")
        if (ref := controller_of(rs)) is not None and ref.uid == owner
    )


def _pods_of(
    context: Context[None], d: Deployment, replica_sets: tuple[ReplicaSet, ...]
) -> tuple[Pod, ...]:
    """``getPodMapForDeployment``: the pods matching the selector that these ReplicaSets own."""
    selector = selector_of(d)
    if selector is None:
        return ()
    owners = {uid(rs) for rs in replica_sets}
    return tuple(
        pod
        for pod in in_namespace(context.cache, "pods", meta(d).namespace or "")
        if selector.matches(labels(pod))
        and (ref := controller_of(pod)) is not None
        and ref.uid in owners
    )


def _claim(context: Context[None], d: Deployment, selector: Selector) -> ownership.Claim:
    candidates = in_namespace(context.cache, "replicasets", meta(d).namespace or "")
    return ownership.claim(d, candidates, lambda rs: selector.matches(labels(rs)))


def sync(context: Context[None], key: str) -> Outcome[None]:
    namespace, name = split_key(key)
    d: Deployment | None = get(context.cache, "deployments", namespace, name)
    if d is None:
        return finished(context)
    selector = selector_of(d)
    if selector is None:
        return finished(context, error=f"deployment {key} has an invalid label selector")
    claim = _claim(context, d, selector)
    if not claim.settled and not selector.is_empty():
        batch, memo = claiming.start(d, DEPLOYMENTS, claim, REPLICASETS)
        return Outcome(
            expectations=context.expectations,
            private=None,
            batches=(batch,),
            resume=True,
            memo=memo,
        )
    return _run(context, _snapshot(context, d, claim.owned), ())


def _snapshot(context: Context[None], d: Deployment, replica_sets: tuple[Any, ...]) -> Snapshot:
    claimed = tuple(replica_sets)
    return Snapshot(
        deployment=d,
        replica_sets=claimed,
        pods=_pods_of(context, d, claimed),
        now_ms=context.now_ms,
    )


def resume(
    context: Context[None], key: str, memo: Any, replies: tuple[Reply, ...], failed: bool
) -> Outcome[None]:
    if isinstance(memo, Running):
        return _run(context, memo.snapshot, (*memo.replies, *replies))
    namespace, name = split_key(key)
    d: Deployment | None = get(context.cache, "deployments", namespace, name)
    selector = selector_of(d) if d is not None else None
    if d is None or selector is None:
        return finished(context)
    assert isinstance(memo, claiming.Claiming)
    claim = _claim(context, d, selector)
    step = claiming.advance(d, DEPLOYMENTS, claim, REPLICASETS, memo, replies, failed)
    if isinstance(step, str):
        return finished(context, error=step)
    if step is not None:
        return Outcome(
            expectations=context.expectations,
            private=None,
            batches=(step[0],),
            resume=True,
            memo=step[1],
        )
    return _run(context, _snapshot(context, d, claiming.settle(claim, memo)), ())


def _run(context: Context[None], snapshot: Snapshot, replies: tuple[Reply, ...]) -> Outcome[None]:
    env = Env(
        script=Script(replies), d=snapshot.deployment, config=context.config, now_ms=snapshot.now_ms
    )
    try:
        result = sync_deployment(env, snapshot)
    except Suspend as suspended:
        memo = Running(snapshot=snapshot, replies=replies)
        return Outcome(
            expectations=context.expectations,
            private=None,
            batches=(suspended.batch,),
            resume=True,
            memo=memo,
        )
    error = "" if result.namespace_terminating else result.error
    return Outcome(
        expectations=context.expectations,
        private=None,
        requeue_after_ms=result.requeue_after_ms,
        requeue_rate_limited=result.requeue_rate_limited,
        error=error,
    )


def _workers(config: ControllerConfig) -> int:
    return config.concurrent_deployment_syncs


DEFINITION: ControllerDef[None] = ControllerDef(
    name=NAME,
    watches=(Watch("deployments"), Watch("replicasets"), Watch("pods")),
    initial=lambda _config: None,
    handle=handle,
    sync=sync,
    resume=resume,
    workers=_workers,
    max_retries=MAX_RETRIES,
    aliases=("deployment",),
)
