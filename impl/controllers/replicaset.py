"""The ReplicaSet controller (``replicaset-controller``): keeps ``spec.replicas`` pods running.

Theory of operation (``pkg/controller/replicaset/replica_set.go``, v1.35). Handlers queue the
ReplicaSet a pod belongs to (its controller reference; an orphan queues every ReplicaSet whose
selector matches it) and observe expectations: a pod add is a creation observed, a pod delete
(or a deletion timestamp appearing) a deletion observed. A sync:

1. claims the active pods (adopting matching orphans, releasing owned pods that stopped
   matching), then, if the expectations are satisfied and the ReplicaSet is not being deleted,
2. manages replicas: too few pods, it expects ``diff`` creations (at most ``burstReplicas``)
   and creates them in slow-start batches of 1, 2, 4, ... stopping after a batch with a
   failure (the creations not made are observed at once); too many, it ranks the pods
   (``replicaset_rank``), expects the deletion of the first ``diff`` and deletes them at once;
3. writes the status if it changed: replicas, fully labeled, ready, available, terminating
   (DeploymentReplicaSetTerminatingReplicas, beta in v1.35), observed generation, and the
   ReplicaFailure condition while managing fails; and queues itself again after
   ``minReadySeconds`` while ready pods are not yet available.
"""

from __future__ import annotations

from typing import Any

import msgspec
from returns.result import Success

from impl.controllers import claiming, events, ownership
from impl.controllers import expectations as exp
from impl.controllers.cache import Change, get, in_namespace, key_of, split_key
from impl.controllers.calls import create, decoded, delete, failure_text, plain, update_status
from impl.controllers.objects import (
    controller_of,
    deleting,
    is_active,
    is_available,
    is_ready,
    is_terminating,
    labels,
    meta,
    pod_key,
    timestamp,
    uid,
)
from impl.controllers.plan import (
    Context,
    ControllerDef,
    CreationObserved,
    DeletionObserved,
    Outcome,
    Planned,
    Reaction,
    Reply,
    Watch,
    finished,
    unchanged,
)
from impl.controllers.replicaset_rank import pods_to_delete
from models.controllers.config import ControllerConfig
from models.controllers.resources import RESOURCES
from models.k8s.apps import ReplicaSet, ReplicaSetCondition, ReplicaSetStatus
from models.k8s.core.pod import Pod
from models.selectors import Selector, label_selector_as_selector, selector_from_labels

NAME = "replicaset-controller"
REPLICASETS = RESOURCES["replicasets"]
PODS = RESOURCES["pods"]
SLOW_START_INITIAL_BATCH = 1
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
IGNORES_EXPECTATIONS = "replicaset-ignores-expectations"
COUNTS_TERMINATING_AVAILABLE = "replicaset-counts-terminating-available"


class Managed(msgspec.Struct, frozen=True, kw_only=True, tag="managed"):
    """The pods a sync managed, for the status it writes afterwards."""

    pods: tuple[Pod, ...]
    terminating: tuple[Pod, ...]
    diff: int


def replicas_of(rs: ReplicaSet) -> int:
    spec = rs.spec
    return 1 if spec is None or spec.replicas is None else spec.replicas


def selector_of(rs: ReplicaSet) -> Selector | None:
    parsed = label_selector_as_selector(rs.spec.selector if rs.spec else None)
    return parsed.unwrap() if isinstance(parsed, Success) else None


# Handlers -------------------------------------------------------------------------------------


def _resolve(context: Context[None], pod: Pod) -> ReplicaSet | None:
    reference = controller_of(pod)
    if reference is None or reference.kind != "ReplicaSet":
        return None
    rs: ReplicaSet | None = get(
        context.cache, "replicasets", meta(pod).namespace or "", reference.name or ""
    )
    return rs if rs is not None and uid(rs) == reference.uid else None


def _matching(context: Context[None], pod: Pod) -> tuple[str, ...]:
    keys = []
    for rs in in_namespace(context.cache, "replicasets", meta(pod).namespace or ""):
        selector = selector_of(rs)
        if selector is not None and not selector.is_empty() and selector.matches(labels(pod)):
            keys.append(key_of(rs))
    return tuple(keys)


def _pod_deleted(context: Context[None], pod: Pod) -> Reaction[None]:
    rs = _resolve(context, pod)
    if rs is None:
        return unchanged(context)
    key = key_of(rs)
    expectations = exp.deletion_observed(context.expectations, key, pod_key(pod))
    return Reaction(expectations=expectations, private=None, adds=(key,))


def _pod_added(context: Context[None], pod: Pod) -> Reaction[None]:
    if deleting(pod):
        return _pod_deleted(context, pod)
    if controller_of(pod) is not None:
        rs = _resolve(context, pod)
        if rs is None:
            return unchanged(context)
        key = key_of(rs)
        expectations = exp.creation_observed(context.expectations, key)
        return Reaction(expectations=expectations, private=None, adds=(key,))
    return unchanged(context, *_matching(context, pod))


def _pod_updated(context: Context[None], old: Pod, new: Pod) -> Reaction[None]:
    if meta(old).resource_version == meta(new).resource_version:
        return unchanged(context)
    label_changed = labels(old) != labels(new)
    if deleting(new):
        reaction = _pod_deleted(context, new)
        if label_changed:
            again = _pod_deleted(
                Context(context.config, context.cache, reaction.expectations, None, context.now_ms),
                old,
            )
            return Reaction(
                expectations=again.expectations, private=None, adds=(*reaction.adds, *again.adds)
            )
        return reaction
    old_ref, new_ref = controller_of(old), controller_of(new)
    adds: list[str] = []
    delayed: list[tuple[str, int]] = []
    if old_ref != new_ref and old_ref is not None:
        previous = _resolve(context, old)
        if previous is not None:
            adds.append(key_of(previous))
    if new_ref is not None:
        rs = _resolve(context, new)
        if rs is None:
            return unchanged(context, *adds)
        adds.append(key_of(rs))
        min_ready = (rs.spec.min_ready_seconds or 0) if rs.spec else 0
        if not is_ready(old) and is_ready(new) and min_ready > 0:
            delayed.append((key_of(rs), min_ready * 1000 + 1000))
        return Reaction(
            expectations=context.expectations,
            private=None,
            adds=tuple(adds),
            delayed=tuple(delayed),
        )
    if label_changed or old_ref != new_ref:
        adds.extend(_matching(context, new))
    return unchanged(context, *adds)


def handle(context: Context[None], change: Change) -> Reaction[None]:
    if change.resource == "replicasets":
        key = key_of(change.current)
        if change.change == "DELETED":
            return Reaction(
                expectations=exp.forget_key(context.expectations, key), private=None, adds=(key,)
            )
        if change.old is not None and uid(change.old) != uid(change.new):
            expectations = exp.forget_key(context.expectations, key)
            return Reaction(expectations=expectations, private=None, adds=(key,))
        return unchanged(context, key)
    if change.change == "ADDED":
        return _pod_added(context, change.new)
    if change.change == "DELETED":
        return _pod_deleted(context, change.old)
    return _pod_updated(context, change.old, change.new)


# Sync -----------------------------------------------------------------------------------------


def _pods(
    context: Context[None], rs: ReplicaSet, selector: Selector
) -> tuple[ownership.Claim, tuple[Pod, ...]]:
    every_pod: list[Pod] = in_namespace(context.cache, "pods", meta(rs).namespace or "")
    active = [pod for pod in every_pod if is_active(pod)]
    claim = ownership.claim(rs, active, lambda pod: selector.matches(labels(pod)))
    owner = uid(rs)
    terminating = tuple(
        pod
        for pod in every_pod
        if is_terminating(pod)
        and (ref := controller_of(pod)) is not None
        and ref.uid == owner
        and selector.matches(labels(pod))
    )
    return claim, terminating


def sync(context: Context[None], key: str) -> Outcome[None]:
    namespace, name = split_key(key)
    rs: ReplicaSet | None = get(context.cache, "replicasets", namespace, name)
    if rs is None:
        return Outcome(expectations=exp.forget_key(context.expectations, key), private=None)
    selector = selector_of(rs)
    if selector is None:
        return finished(context)
    claim, terminating = _pods(context, rs, selector)
    if not claim.settled:
        batch, memo = claiming.start(rs, REPLICASETS, claim, PODS)
        return Outcome(
            expectations=context.expectations,
            private=None,
            batches=(batch,),
            resume=True,
            memo=memo,
        )
    return _manage(context, key, rs, claim.owned, terminating)


def resume(
    context: Context[None], key: str, memo: Any, replies: tuple[Reply, ...], failed: bool
) -> Outcome[None]:
    namespace, name = split_key(key)
    rs: ReplicaSet | None = get(context.cache, "replicasets", namespace, name)
    if rs is None:
        return finished(context)
    if isinstance(memo, claiming.Claiming):
        selector = selector_of(rs)
        if selector is None:
            return finished(context)
        claim, terminating = _pods(context, rs, selector)
        step = claiming.advance(rs, REPLICASETS, claim, PODS, memo, replies, failed)
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
        return _manage(context, key, rs, claiming.settle(claim, memo), terminating)
    assert isinstance(memo, Managed)
    error = ""
    if failed:
        failures = [reply.answer for reply in replies if not reply.planned.succeeded(reply.answer)]
        error = failure_text(failures[0]) if failures else "a call failed"
    outcome = _status(context, rs, memo.pods, memo.terminating, error, memo.diff)
    return events.before(outcome, _pod_events(context, rs, replies))


def _pod_events(
    context: Context[None], rs: ReplicaSet, replies: tuple[Reply, ...]
) -> tuple[Planned, ...]:
    """``RealPodControl``'s events: SuccessfulCreate, FailedCreate, SuccessfulDelete."""
    found = []
    for sequence, reply in enumerate(replies):
        answer, method = reply.answer, reply.planned.call.method
        ok = 200 <= answer.status < 300
        if method == "POST":
            body = decoded(answer) if ok else None
            created = (body.get("metadata") or {}).get("name") if isinstance(body, dict) else None
            reason, message = (
                ("SuccessfulCreate", f"Created pod: {created}")
                if ok
                else ("FailedCreate", f"Error creating: {failure_text(answer)}")
            )
        elif method == "DELETE" and ok:
            reason, message = (
                "SuccessfulDelete",
                f"Deleted pod: {reply.planned.call.path.rsplit('/', 1)[-1]}",
            )
        else:
            continue
        found.append(
            events.event(
                context.config,
                NAME,
                rs,
                "ReplicaSet",
                "apps/v1",
                reason,
                message,
                context.now_ms,
                sequence,
                warning=not ok,
            )
        )
    return events.recorded(*found)


def _pod_body(rs: ReplicaSet) -> dict[str, Any]:
    template = rs.spec.template if rs.spec else None
    template_meta = template.metadata if template and template.metadata else None
    name = meta(rs).name or ""
    metadata: dict[str, Any] = {
        "generateName": f"{name}-",
        "ownerReferences": [ownership.controller_reference(rs, REPLICASETS)],
    }
    if template_meta is not None:
        for field, value in (
            ("labels", template_meta.labels),
            ("annotations", template_meta.annotations),
            ("finalizers", template_meta.finalizers),
        ):
            if value:
                metadata[field] = plain(value)
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}
    if template is not None and template.spec is not None:
        body["spec"] = plain(template.spec)
    return body


def _slow_start(count: int, planned: Planned) -> tuple[tuple[Planned, ...], ...]:
    batches: list[tuple[Planned, ...]] = []
    remaining, size = count, min(count, SLOW_START_INITIAL_BATCH)
    while size > 0:
        batches.append((planned,) * size)
        remaining -= size
        size = min(2 * size, remaining)
    return tuple(batches)


def _manage(
    context: Context[None],
    key: str,
    rs: ReplicaSet,
    pods: tuple[Pod, ...],
    terminating: tuple[Pod, ...],
) -> Outcome[None]:
    ignore = context.config.mutant == IGNORES_EXPECTATIONS
    needs_sync = ignore or exp.satisfied(context.expectations, key, context.now_ms)
    diff = len(pods) - replicas_of(rs)
    memo = Managed(pods=pods, terminating=terminating, diff=diff)
    if not needs_sync or deleting(rs) or diff == 0:
        return _status(context, rs, pods, terminating, "", diff)
    burst = context.config.burst_replicas
    namespace = meta(rs).namespace or ""
    if diff < 0:
        count = min(-diff, burst)
        expectations = exp.expect_creations(context.expectations, key, count, context.now_ms)
        planned = Planned(
            call=create(PODS, namespace, _pod_body(rs)),
            on_failure=(CreationObserved(key=key),),
            tolerated_causes=frozenset({NAMESPACE_TERMINATING_CAUSE}),
        )
        return Outcome(
            expectations=expectations,
            private=None,
            batches=_slow_start(count, planned),
            resume=True,
            memo=memo,
        )
    related = _related_pods(context, rs)
    victims = pods_to_delete(pods, related, min(diff, burst), context.config.gates, context.now_ms)
    expectations = exp.expect_deletions(
        context.expectations, key, tuple(pod_key(p) for p in victims), context.now_ms
    )
    batch = tuple(
        Planned(
            call=delete(PODS, namespace, meta(pod).name or ""),
            on_failure=(DeletionObserved(key=key, pod_key=pod_key(pod)),),
            tolerated=frozenset({404}),
        )
        for pod in victims
    )
    return Outcome(
        expectations=expectations, private=None, batches=(batch,), resume=True, memo=memo
    )


def _related_pods(context: Context[None], rs: ReplicaSet) -> list[Pod]:
    """``getIndirectlyRelatedPods``: pods of every ReplicaSet with the same controller owner."""
    owner = controller_of(rs)
    siblings = [rs]
    if owner is not None:
        siblings = [
            other
            for other in in_namespace(context.cache, "replicasets", meta(rs).namespace or "")
            if (ref := controller_of(other)) is not None and ref.uid == owner.uid
        ] or [rs]
    sibling_uids = {uid(other) for other in siblings}
    return [
        pod
        for pod in in_namespace(context.cache, "pods", meta(rs).namespace or "")
        if (ref := controller_of(pod)) is not None and ref.uid in sibling_uids
    ]


def calculate_status(
    config: ControllerConfig,
    rs: ReplicaSet,
    pods: tuple[Pod, ...],
    terminating: tuple[Pod, ...],
    error: str,
    diff: int,
    now_ms: int,
) -> ReplicaSetStatus:
    """``calculateStatus``."""
    template = rs.spec.template if rs.spec else None
    template_labels = dict(template.metadata.label_map()) if template and template.metadata else {}
    fully_labeled = selector_from_labels(template_labels)
    min_ready = (rs.spec.min_ready_seconds or 0) if rs.spec else 0
    counted = pods
    if config.mutant == COUNTS_TERMINATING_AVAILABLE:
        counted = (*pods, *terminating)
    status = rs.status or ReplicaSetStatus()
    conditions = tuple(status.conditions or ())
    failure = next((c for c in conditions if c.type == "ReplicaFailure"), None)
    if error and failure is None:
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        condition = ReplicaSetCondition(
            type="ReplicaFailure",
            status="True",
            reason=reason,
            message=error,
            last_transition_time=timestamp(now_ms),
        )
        conditions = (*conditions, condition)
    elif not error and failure is not None:
        conditions = tuple(c for c in conditions if c.type != "ReplicaFailure")
    return msgspec.structs.replace(
        status,
        replicas=len(pods),
        fully_labeled_replicas=sum(1 for pod in pods if fully_labeled.matches(labels(pod))),
        ready_replicas=sum(1 for pod in pods if is_ready(pod)),
        available_replicas=sum(1 for pod in counted if is_available(pod, min_ready, now_ms)),
        terminating_replicas=len(terminating)
        if config.gates.enabled("DeploymentReplicaSetTerminatingReplicas")
        else None,
        conditions=conditions or None,
    )


def _status(
    context: Context[None],
    rs: ReplicaSet,
    pods: tuple[Pod, ...],
    terminating: tuple[Pod, ...],
    error: str,
    diff: int,
) -> Outcome[None]:
    new = calculate_status(context.config, rs, pods, terminating, error, diff, context.now_ms)
    old = rs.status or ReplicaSetStatus()
    generation = meta(rs).generation or 0
    same = (
        (
            old.replicas or 0,
            old.fully_labeled_replicas or 0,
            old.ready_replicas or 0,
            old.available_replicas or 0,
        )
        == (
            new.replicas or 0,
            new.fully_labeled_replicas or 0,
            new.ready_replicas or 0,
            new.available_replicas or 0,
        )
        and generation == (old.observed_generation or 0)
        and (old.conditions or ()) == (new.conditions or ())
        and old.terminating_replicas == new.terminating_replicas
    )
    requeue = None
    min_ready = (rs.spec.min_ready_seconds or 0) if rs.spec else 0
    desired = replicas_of(rs)
    if (
        not error
        and min_ready > 0
        and new.ready_replicas == desired
        and new.available_replicas != desired
    ):
        requeue = min_ready * 1000
    if same:
        return Outcome(
            expectations=context.expectations, private=None, requeue_after_ms=requeue, error=error
        )
    written = msgspec.structs.replace(
        rs, status=msgspec.structs.replace(new, observed_generation=generation)
    )
    batch = (Planned(call=update_status(REPLICASETS, written)),)
    return Outcome(
        expectations=context.expectations,
        private=None,
        batches=(batch,),
        requeue_after_ms=requeue,
        error=error,
    )


def _workers(config: ControllerConfig) -> int:
    return config.concurrent_replicaset_syncs


DEFINITION: ControllerDef[None] = ControllerDef(
    name=NAME,
    watches=(Watch("replicasets"), Watch("pods")),
    initial=lambda _config: None,
    handle=handle,
    sync=sync,
    resume=resume,
    workers=_workers,
    aliases=("replicaset",),
)
