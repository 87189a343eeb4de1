"""The Job controller's ``manageJob``: the pod creations and deletions one sync makes.

Theory of operation (``pkg/controller/job/job_controller.go`` ``manageJob``, v1.35):

- a suspended Job loses every active pod (finalizer removed, then deleted);
- wanted active pods: ``min(completions - succeeded, parallelism)`` (at least 0); without
  ``completions``, ``parallelism`` until a pod succeeded, then whatever runs;
- too many active pods (or, Indexed, pods with a duplicated or out-of-range index): the
  surplus is removed, in ``ActivePods`` order, and nothing is created in that sync;
- too few: if the pod-failure backoff has not passed, the sync is due again when it has (and
  the Job reports no active pod meanwhile, as Kubernetes does); else up to 500 pods are
  created in slow-start batches (1, 2, 4, ...; stop after a batch with a failure), each with
  the tracking finalizer, a controller reference, and for Indexed Jobs the lowest indexes
  neither succeeded nor active.

Expectations are raised before the calls; a failed or skipped call lowers them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from impl.controllers import expectations as exp
from impl.controllers import job_util as ju
from impl.controllers.calls import failure_text, plain
from impl.controllers.objects import is_ready, meta, pod_key
from impl.controllers.ownership import controller_reference
from impl.controllers.plan import Context, CreationObserved, DeletionObserved, Planned, Reply
from models.controllers.messages import ApiCall
from models.controllers.resources import RESOURCES
from models.k8s.batch import Job
from models.k8s.core.pod import Pod

JOBS = RESOURCES["jobs"]
PODS = RESOURCES["pods"]
MAX_PER_SYNC = 500
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
STRATEGIC = "application/strategic-merge-patch+json"


class Managed(msgspec.Struct, frozen=True, kw_only=True):
    """What the calls were: ``create``, ``delete``, ``suspend``, ``end`` (deleting the active
    pods of an ending Job), or ``none``; and which deleted pods were ready (by path)."""

    kind: str
    count: int = 0
    ready: int = 0
    ready_paths: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ManagePlan:
    managed: Managed
    batches: tuple[tuple[Planned, ...], ...] = ()
    expectations: exp.Expectations | None = None
    requeue_ms: int | None = None
    active: int | None = None


def _path(pod: Pod) -> str:
    return PODS.object_path(meta(pod).namespace or "", meta(pod).name or "")


def _delete_pods(context: Context[Any], key: str, pods: list[Pod], kind: str) -> ManagePlan:
    """``deleteJobPods``: remove the finalizer, then delete; deletions expected."""
    expectations = exp.expect_deletions(
        context.expectations, key, tuple(pod_key(p) for p in pods), context.now_ms
    )
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [ju.TRACKING_FINALIZER]}}
    patches = tuple(
        Planned(
            call=ApiCall(
                method="PATCH",
                path=_path(p),
                content_type=STRATEGIC,
                body=msgspec.json.encode(patch),
            ),
            tolerated=frozenset({404}),
        )
        for p in pods
        if ju.has_tracking_finalizer(p)
    )
    deletes = tuple(
        Planned(
            call=ApiCall(method="DELETE", path=_path(p)),
            on_failure=(DeletionObserved(key=key, pod_key=pod_key(p)),),
            tolerated=frozenset({404}),
        )
        for p in pods
    )
    managed = Managed(
        kind=kind,
        count=len(pods),
        ready_paths=frozenset(_path(p) for p in pods if is_ready(p)),
    )
    batches = tuple(b for b in (patches, deletes) if b)
    return ManagePlan(managed=managed, batches=batches, expectations=expectations)


def for_removal(job: Job, pods: list[Pod], at_least: int) -> list[Pod]:
    """``activePodsForRemoval``."""
    remove: list[Pod] = []
    left = list(pods)
    if (job.spec.completion_mode if job.spec else None) == "Indexed":
        completions = (job.spec.completions if job.spec else None) or 0
        by_index: dict[int, list[Pod]] = {}
        left = []
        for pod in pods:
            index = ju.completion_index(pod)
            if index is None or index >= completions:
                remove.append(pod)
            else:
                by_index.setdefault(index, []).append(pod)
        for index in sorted(by_index):
            group = sorted(by_index[index], key=ju.removal_order)
            remove.extend(group[:-1])
            left.append(group[-1])
    if len(remove) < at_least:
        left.sort(key=ju.removal_order)
        remove.extend(left[: at_least - len(remove)])
    return remove


def first_pending(
    active: list[Pod], succeeded: set[int], count: int, completions: int
) -> list[int]:
    """``firstPendingIndexes``: the lowest indexes neither succeeded nor held by an active pod."""
    taken = set(succeeded) | {i for p in active if (i := ju.completion_index(p)) is not None}
    return [i for i in range(completions) if i not in taken][:count]


def pod_body(job: Job, index: int | None) -> dict[str, Any]:
    """The pod a Job creates: its template, the tracking finalizer, a controller reference;
    Indexed: index annotation and label, hostname, ``JOB_COMPLETION_INDEX``."""
    template = plain(job.spec.template) if job.spec and job.spec.template else {}
    template_meta = dict(template.get("metadata") or {})
    spec = dict(template.get("spec") or {})
    name = meta(job).name or ""
    metadata: dict[str, Any] = {
        "generateName": f"{name}-" if index is None else f"{name}-{index}-",
        "ownerReferences": [controller_reference(job, JOBS)],
    }
    labels = dict(template_meta.get("labels") or {})
    annotations = dict(template_meta.get("annotations") or {})
    finalizers = list(template_meta.get("finalizers") or [])
    if ju.TRACKING_FINALIZER not in finalizers:
        finalizers.append(ju.TRACKING_FINALIZER)
    if index is not None:
        annotations[ju.INDEX_KEY] = str(index)
        labels[ju.INDEX_KEY] = str(index)
        spec["hostname"] = f"{name}-{index}"
        spec["containers"] = ju.with_index_env(list(spec.get("containers") or []))
        if spec.get("initContainers"):
            spec["initContainers"] = ju.with_index_env(list(spec["initContainers"]))
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    metadata["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _create(job: Job, index: int | None, key: str) -> Planned:
    namespace = meta(job).namespace or ""
    return Planned(
        call=ApiCall(
            method="POST",
            path=PODS.collection_path(namespace),
            content_type="application/json",
            body=msgspec.json.encode(pod_body(job, index), order="sorted"),
        ),
        on_failure=(CreationObserved(key=key),),
        tolerated_causes=frozenset({NAMESPACE_TERMINATING_CAUSE}),
    )


def manage_calls(
    context: Context[Any],
    key: str,
    job: Job,
    active: list[Pod],
    succeeded: int,
    terminating: int,
    backoff: ju.Backoff,
    succeeded_indexes: set[int] | None = None,
) -> ManagePlan:
    spec = job.spec
    if spec is not None and spec.suspend:
        pods = for_removal(job, active, len(active))
        return _delete_pods(context, key, pods, "suspend")
    parallelism = (spec.parallelism if spec else None) or 0
    completions = spec.completions if spec else None
    if completions is None:
        want = len(active) if succeeded > 0 else parallelism
    else:
        want = max(0, min(completions - succeeded, parallelism))
    surplus = max(0, len(active) - want)
    victims = for_removal(job, active, surplus)[:MAX_PER_SYNC]
    if victims:
        return _delete_pods(context, key, victims, "delete")
    replaced_only = spec is not None and spec.pod_replacement_policy == "Failed"
    diff = want - (terminating if replaced_only else 0) - len(active)
    if diff <= 0:
        return ManagePlan(managed=Managed(kind="none"))
    wait = ju.remaining_ms(backoff, context.now_ms)
    if wait > 0:
        return ManagePlan(managed=Managed(kind="none"), requeue_ms=wait, active=0)
    diff = min(diff, MAX_PER_SYNC)
    indexes: list[int | None] = [None] * diff
    if spec is not None and spec.completion_mode == "Indexed":
        found = first_pending(active, succeeded_indexes or set(), diff, completions or 0)
        indexes = list(found)
        diff = len(indexes)
    if diff == 0:
        return ManagePlan(managed=Managed(kind="none"))
    expectations = exp.expect_creations(context.expectations, key, diff, context.now_ms)
    planned = [_create(job, index, key) for index in indexes]
    batches: list[tuple[Planned, ...]] = []
    size = 1
    while planned:
        batches.append(tuple(planned[:size]))
        planned = planned[size:]
        size = min(2 * size, len(planned)) if planned else 0
    return ManagePlan(
        managed=Managed(kind="create", count=diff),
        batches=tuple(batches),
        expectations=expectations,
        active=len(active) + diff,
    )


def tally(managed: Managed, replies: tuple[Reply, ...]) -> tuple[int, int, str]:
    """(pods created or removed, ready pods removed, the first error)."""
    error = ""
    done = 0
    ready = 0
    for reply in replies:
        ok = reply.planned.succeeded(reply.answer)
        if not ok and not error:
            error = failure_text(reply.answer)
        method = reply.planned.call.method
        if managed.kind == "create" and method == "POST" and ok:
            done += 1
        if managed.kind != "create" and method == "DELETE":
            done += ok
            ready += reply.planned.call.path in managed.ready_paths
    return done, ready, error
