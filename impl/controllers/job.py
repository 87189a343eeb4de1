"""The Job controller (``job-controller``): runs a Job's pods to completion, tracking each
finished pod exactly once through the ``batch.kubernetes.io/job-tracking`` finalizer.

Theory of operation (``pkg/controller/job/job_controller.go``, v1.35). Job events queue the
Job at once; pod events (creation and deletion observed against expectations, a tracking
finalizer seen removed) queue its Job one second later (``syncJobBatchPeriod``). A sync of a
Job that is not finished (no Complete or Failed condition):

1. reads its pods (controller reference to the Job, selector matching) and counts:
   succeeded and failed = the status counters + the pods in
   ``status.uncountedTerminatedPods`` + newly finished pods still carrying the finalizer (a
   pod being deleted before it finished counts as failed); sets ``startTime``;
2. decides the end: an existing SuccessCriteriaMet condition, or FailureTarget (which becomes
   Failed), or more failures than ``backoffLimit`` (or, with ``restartPolicy: OnFailure``,
   container restarts reaching it): FailureTarget ``BackoffLimitExceeded``; past
   ``activeDeadlineSeconds``: FailureTarget ``DeadlineExceeded`` (else a sync is due when
   the deadline comes);
3. if ending: deletes the active pods; otherwise (expectations satisfied) manages pods
   (``job_manage``): a suspended Job loses its active pods; too many are removed
   (``ActivePods`` order; Indexed: duplicated and out-of-range indexes first); too few are
   created in slow-start batches once the pod-failure backoff has passed, each with the
   tracking finalizer and a controller reference (Indexed: the lowest missing indexes);
   reaching ``completions`` succeeded with no pod active gives SuccessCriteriaMet
   ``CompletionsReached``; the Suspended condition follows ``suspend``;
4. tracks: finished pods' UIDs go to ``uncountedTerminatedPods`` (with the interim
   FailureTarget/SuccessCriteriaMet condition) in one status write, their finalizers are
   removed, the pods whose finalizer is gone move to ``succeeded``/``failed`` (Indexed:
   ``completedIndexes``) in another; once nothing is uncounted and no pod is terminating the
   terminal Complete (with ``completionTime``) or Failed condition is added.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import immutables
import msgspec

from impl.controllers import events
from impl.controllers import expectations as exp
from impl.controllers import job_util as ju
from impl.controllers.cache import Change, get, in_namespace, key_of, split_key
from impl.controllers.calls import decoded, failure_text, plain
from impl.controllers.job_manage import Managed, manage_calls, tally
from impl.controllers.objects import (
    controller_of,
    deleting,
    is_active,
    is_ready,
    labels,
    meta,
    phase,
    pod_key,
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
    Reply,
    Watch,
    finished,
    unchanged,
)
from models.controllers.config import ControllerConfig
from models.controllers.messages import ApiCall
from models.controllers.resources import RESOURCES
from models.k8s.base import decode_hook
from models.k8s.batch import Job
from models.k8s.core.pod import Pod
from models.selectors import label_selector_as_selector

NAME = "job-controller"
JOBS = RESOURCES["jobs"]
PODS = RESOURCES["pods"]
BATCH_PERIOD_MS = 1000
MAX_UNCOUNTED = 500
STRATEGIC = "application/strategic-merge-patch+json"
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")

Json = dict[str, Any]


class JobPrivate(msgspec.Struct, frozen=True, kw_only=True):
    """The backoff records and the finalizer removals expected, per Job key."""

    backoffs: immutables.Map[str, ju.Backoff] = msgspec.field(default_factory=immutables.Map)
    removals: immutables.Map[str, frozenset[str]] = msgspec.field(default_factory=immutables.Map)


def _observe_removal(private: JobPrivate, key: str, pod_uid: str) -> JobPrivate:
    expected = private.removals.get(key)
    if expected is None or pod_uid not in expected:
        return private
    rest = expected - {pod_uid}
    removals = private.removals.set(key, rest) if rest else private.removals.delete(key)
    return msgspec.structs.replace(private, removals=removals)


# Handlers -------------------------------------------------------------------------------------


def _job_of(context: Context[JobPrivate], pod: Pod) -> Job | None:
    ref = controller_of(pod)
    if ref is None or ref.kind != "Job":
        return None
    job: Job | None = get(context.cache, "jobs", meta(pod).namespace or "", ref.name or "")
    return job if job is not None and uid(job) == ref.uid else None


def _matching(context: Context[JobPrivate], pod: Pod) -> list[str]:
    keys = []
    for job in in_namespace(context.cache, "jobs", meta(pod).namespace or ""):
        parsed = label_selector_as_selector(job.spec.selector if job.spec else None)
        selector = parsed.value_or(None)
        if selector is not None and not selector.is_empty() and selector.matches(labels(pod)):
            keys.append(key_of(job))
    return keys


def _pod_changed(context: Context[JobPrivate], change: Change) -> Reaction[JobPrivate]:
    expectations, private = context.expectations, context.private
    old, new = change.old, change.new
    pod = change.current
    if change.change == "MODIFIED" and meta(old).resource_version == meta(new).resource_version:
        return unchanged(context)
    job = _job_of(context, pod)
    if job is None:
        if controller_of(pod) is not None or change.change == "DELETED":
            return unchanged(context)
        return Reaction(
            expectations=expectations,
            private=private,
            delayed=tuple((k, BATCH_PERIOD_MS) for k in _matching(context, pod)),
        )
    key = key_of(job)
    if change.change == "ADDED":
        if deleting(new):
            expectations = exp.deletion_observed(expectations, key, pod_key(new))
        else:
            expectations = exp.creation_observed(expectations, key)
    elif change.change == "DELETED":
        expectations = exp.deletion_observed(expectations, key, pod_key(old))
        if ju.has_tracking_finalizer(old):
            private = _observe_removal(private, key, uid(old))
    else:
        if deleting(new) and not deleting(old):
            expectations = exp.deletion_observed(expectations, key, pod_key(new))
        if ju.has_tracking_finalizer(old) and not ju.has_tracking_finalizer(new):
            private = _observe_removal(private, key, uid(new))
    return Reaction(expectations=expectations, private=private, delayed=((key, BATCH_PERIOD_MS),))


def handle(context: Context[JobPrivate], change: Change) -> Reaction[JobPrivate]:
    if change.resource == "jobs":
        key = key_of(change.current)
        if change.change == "DELETED":
            private = context.private
            private = JobPrivate(
                backoffs=private.backoffs.delete(key)
                if key in private.backoffs
                else private.backoffs,
                removals=private.removals.delete(key)
                if key in private.removals
                else private.removals,
            )
            return Reaction(
                expectations=exp.forget_key(context.expectations, key), private=private, adds=(key,)
            )
        return unchanged(context, key)
    if change.resource == "pods":
        return _pod_changed(context, change)
    return unchanged(context)


# Reading a Job ---------------------------------------------------------------------------------


def completions_of(job: Job) -> int | None:
    return job.spec.completions if job.spec else None


def is_indexed(job: Job) -> bool:
    return (job.spec.completion_mode if job.spec else None) == "Indexed"


def suspended(job: Job) -> bool:
    return bool(job.spec.suspend) if job.spec else False


def _conditions(job: Job) -> list[Json]:
    status = plain(job.status) if job.status is not None else {}
    return list(status.get("conditions") or [])


def finished_job(job: Job) -> bool:
    """``IsJobFinished``: a Complete or Failed condition that is True."""
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in _conditions(job)
    )


def is_pod_failed(pod: Pod, job: Job) -> bool:
    """``isPodFailed``: Failed, or (unless only failed pods are replaced) deleted unfinished."""
    if phase(pod) == "Failed":
        return True
    policy = job.spec.pod_replacement_policy if job.spec else None
    if policy == "Failed":
        return False
    return deleting(pod) and phase(pod) != "Succeeded"


def new_condition(kind: str, reason: str, message: str, now_ms: int) -> Json:
    moment = timestamp(now_ms)
    return {
        "type": kind,
        "status": "True",
        "lastProbeTime": moment,
        "lastTransitionTime": moment,
        "reason": reason,
        "message": message,
    }


def ensure_condition(
    conditions: list[Json], kind: str, status: str, reason: str, message: str, now_ms: int
) -> tuple[list[Json], bool]:
    """``ensureJobConditionStatus``."""
    for index, condition in enumerate(conditions):
        if condition.get("type") == kind:
            if (condition.get("status"), condition.get("reason"), condition.get("message")) != (
                status,
                reason,
                message,
            ):
                fresh = new_condition(kind, reason, message, now_ms) | {"status": status}
                return [*conditions[:index], fresh, *conditions[index + 1 :]], True
            return conditions, False
    if status != "False":
        return [
            *conditions,
            new_condition(kind, reason, message, now_ms) | {"status": status},
        ], True
    return conditions, False


def _true_condition(conditions: list[Json], kind: str) -> Json | None:
    return next(
        (c for c in conditions if c.get("type") == kind and c.get("status") == "True"), None
    )


def _index_order(pod: Pod) -> tuple[bool, int]:
    index = ju.completion_index(pod)
    return (index is None, index or 0)


def owned_pods(context: Context[JobPrivate], job: Job) -> list[Pod]:
    parsed = label_selector_as_selector(job.spec.selector if job.spec else None)
    selector = parsed.value_or(None)
    return [
        pod
        for pod in in_namespace(context.cache, "pods", meta(job).namespace or "")
        if (ref := controller_of(pod)) is not None
        and ref.uid == uid(job)
        and selector is not None
        and selector.matches(labels(pod))
    ]


def _past_backoff_on_failure(job: Job, pods: list[Pod]) -> bool:
    template = job.spec.template if job.spec else None
    if template is None or template.spec is None or template.spec.restart_policy != "OnFailure":
        return False
    total = 0
    for pod in pods:
        if phase(pod) in ("Running", "Pending") and pod.status is not None:
            total += sum(c.restart_count or 0 for c in pod.status.init_container_statuses or ())
            total += sum(c.restart_count or 0 for c in pod.status.container_statuses or ())
    limit = (job.spec.backoff_limit if job.spec else None) or 0
    return total > 0 if limit == 0 else total >= limit


# The sync, in stages ---------------------------------------------------------------------------


@dataclass
class Stage:
    """What the sync computed before its pod calls; the tracking stage continues from it."""

    key: str
    job: Json
    pods: list[Pod]
    active: int
    ready: int
    terminating: int
    satisfied: bool
    finished: Json | None
    backoff: ju.Backoff
    prev_indexes: set[int] = field(default_factory=set)
    succeeded_indexes: set[int] = field(default_factory=set)
    manage_called: bool = False
    deleting_active: int = 0
    requeue_ms: int | None = None
    error: str = ""


class Track(msgspec.Struct, frozen=True, kw_only=True, tag="track"):
    """Between the tracking writes: the stage and what is to come."""

    stage: Any
    step: str
    to_remove: tuple[str, ...] = ()
    with_finalizer: frozenset[str] = frozenset()
    reached_max: bool = False
    needs_flush: bool = False


class Manage(msgspec.Struct, frozen=True, kw_only=True, tag="manage"):
    stage: Any
    managed: Managed


def _status(job: Json) -> Json:
    status: Json = job.setdefault("status", {})
    return status


def sync(context: Context[JobPrivate], key: str) -> Outcome[JobPrivate]:
    namespace, name = split_key(key)
    typed: Job | None = get(context.cache, "jobs", namespace, name)
    private = context.private
    if typed is None:
        return Outcome(expectations=exp.forget_key(context.expectations, key), private=private)
    if finished_job(typed):
        if key in private.backoffs:
            private = msgspec.structs.replace(private, backoffs=private.backoffs.delete(key))
        return Outcome(expectations=context.expectations, private=private)
    mode = typed.spec.completion_mode if typed.spec else None
    if mode not in (None, "NonIndexed", "Indexed"):
        return finished(context)
    job = plain(typed)
    status = _status(job)
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    counted_succeeded = set(uncounted.get("succeeded") or ())
    counted_failed = set(uncounted.get("failed") or ())
    satisfied = exp.satisfied(context.expectations, key, context.now_ms)
    pods = owned_pods(context, typed)
    active_pods = [p for p in pods if is_active(p)]
    expected = private.removals.get(key, frozenset())
    terminating = sum(1 for p in pods if deleting(p) and phase(p) not in ("Succeeded", "Failed"))

    def fresh(p: Pod) -> bool:
        if not ju.has_tracking_finalizer(p) or uid(p) in expected:
            return False
        if is_indexed(typed):
            index = ju.completion_index(p)
            return index is not None and index < (completions_of(typed) or 0)
        return True

    new_succeeded = [
        p for p in pods if fresh(p) and uid(p) not in counted_succeeded and phase(p) == "Succeeded"
    ]
    new_failed = [
        p for p in pods if fresh(p) and uid(p) not in counted_failed and is_pod_failed(p, typed)
    ]
    succeeded = (status.get("succeeded") or 0) + len(new_succeeded) + len(counted_succeeded)
    failed = (status.get("failed") or 0) + len(new_failed) + len(counted_failed)
    if status.get("startTime") is None and not suspended(typed):
        status["startTime"] = timestamp(context.now_ms)
    backoff = ju.new_backoff(private.backoffs.get(key, ju.Backoff()), new_succeeded, new_failed)
    stage = Stage(
        key=key,
        job=job,
        pods=pods,
        active=len(active_pods),
        ready=sum(1 for p in active_pods if is_ready(p)),
        terminating=terminating,
        satisfied=satisfied,
        finished=None,
        backoff=backoff,
    )
    limit = (typed.spec.backoff_limit if typed.spec else None) or 0
    conditions = _conditions(typed)
    success = next(
        (
            c
            for c in conditions
            if c.get("type") == "SuccessCriteriaMet" and c.get("status") == "True"
        ),
        None,
    )
    stage.finished = success
    if stage.finished is None:
        target = next(
            (
                c
                for c in conditions
                if c.get("type") == "FailureTarget" and c.get("status") == "True"
            ),
            None,
        )
        if target is not None:
            stage.finished = new_condition(
                "Failed", target.get("reason", ""), target.get("message", ""), context.now_ms
            )
    if stage.finished is None:
        deadline = typed.spec.active_deadline_seconds if typed.spec else None
        started = seconds(status.get("startTime"))
        if failed > limit or _past_backoff_on_failure(typed, pods):
            stage.finished = new_condition("FailureTarget", *BACKOFF_EXCEEDED, context.now_ms)
        elif deadline is not None and started is not None and not suspended(typed):
            left = deadline * 1000 - (context.now_ms - started * 1000)
            if left <= 0:
                stage.finished = new_condition("FailureTarget", *DEADLINE_EXCEEDED, context.now_ms)
            else:
                stage.requeue_ms = left
    if is_indexed(typed):
        completions = completions_of(typed) or 0
        stage.prev_indexes = ju.parse_indexes(status.get("completedIndexes") or "", completions)
        stage.succeeded_indexes = stage.prev_indexes | {
            index
            for p in pods
            if phase(p) == "Succeeded"
            and ju.has_tracking_finalizer(p)
            and (index := ju.completion_index(p)) is not None
            and index < completions
        }
        succeeded = len(stage.succeeded_indexes)
    if stage.finished is not None:
        batch = tuple(
            Planned(
                call=ApiCall(
                    method="DELETE",
                    path=PODS.object_path(namespace, meta(p).name or ""),
                ),
                tolerated=frozenset({404}),
            )
            for p in active_pods
        )
        stage.deleting_active = len(batch)
        managed = Managed(
            kind="end",
            count=len(batch),
            ready_paths=frozenset(
                PODS.object_path(namespace, meta(p).name or "") for p in active_pods if is_ready(p)
            ),
        )
        return _after_calls(context, stage, managed, (batch,) if batch else (), private, succeeded)
    if satisfied and not deleting(typed):
        stage.manage_called = True
        plan = manage_calls(
            context,
            key,
            typed,
            active_pods,
            succeeded,
            terminating,
            backoff,
            stage.succeeded_indexes,
        )
        if plan.requeue_ms is not None:
            stage.requeue_ms = (
                plan.requeue_ms
                if stage.requeue_ms is None
                else min(stage.requeue_ms, plan.requeue_ms)
            )
        if plan.active is not None:
            stage.active = plan.active
        return _after_calls(
            context, stage, plan.managed, plan.batches, private, succeeded, plan.expectations
        )
    return _decide(context, stage, private, succeeded)


def _after_calls(
    context: Context[JobPrivate],
    stage: Stage,
    managed: Managed,
    batches: tuple[tuple[Planned, ...], ...],
    private: JobPrivate,
    succeeded: int,
    expectations: exp.Expectations | None = None,
) -> Outcome[JobPrivate]:
    stage.job["_succeeded"] = succeeded
    if not batches:
        return _decide(
            msgspec_context(context, expectations), stage, private, succeeded, managed, ()
        )
    return Outcome(
        expectations=expectations if expectations is not None else context.expectations,
        private=private,
        batches=batches,
        resume=True,
        memo=Manage(stage=stage, managed=managed),
    )


def msgspec_context(
    context: Context[JobPrivate], expectations: exp.Expectations | None
) -> Context[JobPrivate]:
    if expectations is None:
        return context
    return Context(context.config, context.cache, expectations, context.private, context.now_ms)


def _decide(
    context: Context[JobPrivate],
    stage: Stage,
    private: JobPrivate,
    succeeded: int,
    managed: Managed | None = None,
    replies: tuple[Reply, ...] = (),
) -> Outcome[JobPrivate]:
    """After the pod calls: the active count they leave, completion, suspension; then track."""
    typed_spec = stage.job.get("spec") or {}
    status = _status(stage.job)
    if managed is not None:
        removed, removed_ready, error = tally(managed, replies)
        if managed.kind == "end":
            if removed != stage.active or not stage.satisfied:
                stage.finished = None
            stage.active -= removed
            stage.terminating += removed
            stage.ready -= removed_ready
        elif managed.kind in ("delete", "suspend"):
            stage.active -= removed
            stage.terminating += removed
            stage.ready -= removed_ready
        elif managed.kind == "create":
            stage.active -= managed.count - removed
        stage.error = error
    recorded = _pod_events(context, stage, replies)
    suspend_changed = False
    if stage.finished is None:
        completions = typed_spec.get("completions")
        if completions is None:
            complete = succeeded > 0 and stage.active == 0
        else:
            complete = succeeded >= completions and stage.active == 0
        if complete:
            stage.finished = new_condition(
                "SuccessCriteriaMet", *COMPLETIONS_REACHED, context.now_ms
            )
        elif stage.manage_called:
            conditions = list(status.get("conditions") or [])
            if typed_spec.get("suspend"):
                conditions, suspend_changed = ensure_condition(
                    conditions, "Suspended", "True", "JobSuspended", "Job suspended", context.now_ms
                )
            else:
                conditions, suspend_changed = ensure_condition(
                    conditions, "Suspended", "False", "JobResumed", "Job resumed", context.now_ms
                )
                if suspend_changed:
                    status["startTime"] = timestamp(context.now_ms)
            if conditions:
                status["conditions"] = conditions
    needs = (
        suspend_changed
        or stage.active != (status.get("active") or 0)
        or stage.ready != status.get("ready")
        or stage.terminating != status.get("terminating")
    )
    status["active"] = stage.active
    status["ready"] = stage.ready
    status["terminating"] = stage.terminating
    return events.before(_track(context, stage, private, needs), recorded)


def _job_meta(job: Json) -> Job:
    """The Job's metadata as a typed object, for an event about it."""
    return msgspec.convert(
        {"metadata": job.get("metadata")}, Job, dec_hook=decode_hook, strict=False
    )


def _pod_events(
    context: Context[JobPrivate], stage: Stage, replies: tuple[Reply, ...]
) -> tuple[Planned, ...]:
    """``RealPodControl``'s events for the pods this sync created or deleted."""
    typed = _job_meta(stage.job)
    found = []
    for sequence, reply in enumerate(replies):
        answer, call = reply.answer, reply.planned.call
        ok = 200 <= answer.status < 300
        if call.method == "POST":
            body = decoded(answer) if ok else None
            created = (body.get("metadata") or {}).get("name") if isinstance(body, dict) else None
            if ok:
                reason, message = "SuccessfulCreate", f"Created pod: {created}"
            else:
                reason, message = "FailedCreate", f"Error creating: {failure_text(answer)}"
        elif call.method == "DELETE" and ok:
            reason, message = "SuccessfulDelete", f"Deleted pod: {call.path.rsplit('/', 1)[-1]}"
        else:
            continue
        found.append(
            events.event(
                context.config,
                NAME,
                typed,
                "Job",
                "batch/v1",
                reason,
                message,
                context.now_ms,
                sequence,
                warning=not ok,
            )
        )
    return events.recorded(*found)


def _clean(status: Json, with_finalizer: frozenset[str] | set[str]) -> bool:
    """``cleanUncountedPodsWithoutFinalizers``."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    updated = False
    for field_name, counter in (("succeeded", "succeeded"), ("failed", "failed")):
        listed = list(uncounted.get(field_name) or [])
        kept = [u for u in listed if u in with_finalizer]
        if len(kept) != len(listed):
            updated = True
            status[counter] = (status.get(counter) or 0) + len(listed) - len(kept)
            if kept:
                uncounted[field_name] = kept
            else:
                uncounted.pop(field_name, None)
    return updated


def _track(
    context: Context[JobPrivate], stage: Stage, private: JobPrivate, needs: bool
) -> Outcome[JobPrivate]:
    """``trackJobStatusAndRemoveFinalizers`` up to the first status write."""
    job = stage.job
    job.pop("_succeeded", None)
    status = _status(job)
    spec = job.get("spec") or {}
    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions") or 0
    expected = private.removals.get(stage.key, frozenset())
    pods = stage.pods
    if indexed:
        pods = sorted(
            pods, key=lambda p: (ju.completion_index(p) is None, ju.completion_index(p) or 0)
        )
    with_finalizer = {
        uid(p) for p in pods if ju.has_tracking_finalizer(p) and uid(p) not in expected
    }
    needs = _clean(status, with_finalizer) or needs
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    was_succeeded = set(uncounted.get("succeeded") or ())
    was_failed = set(uncounted.get("failed") or ())
    to_remove: list[str] = []
    new_indexes: list[int] = []
    reached = False
    for pod in pods:
        pod_uid = uid(pod)
        if not ju.has_tracking_finalizer(pod) or pod_uid in expected:
            continue
        failed_pod = phase(pod) == "Failed" or (
            spec.get("podReplacementPolicy") != "Failed"
            and deleting(pod)
            and phase(pod) != "Succeeded"
        )
        can_remove = (
            bool((job.get("metadata") or {}).get("deletionTimestamp"))
            or stage.finished is not None
            or phase(pod) == "Succeeded"
            or failed_pod
        )
        if not can_remove:
            continue
        to_remove.append(pod_key(pod) + "|" + pod_uid)
        index = ju.completion_index(pod)
        if phase(pod) == "Succeeded" and pod_uid not in was_failed:
            if indexed:
                if index is not None and index < completions and index not in stage.prev_indexes:
                    new_indexes.append(index)
                    needs = True
            elif pod_uid not in was_succeeded:
                needs = True
                uncounted.setdefault("succeeded", []).append(pod_uid)
        elif (
            failed_pod
            or (stage.finished is not None and stage.finished.get("type") != "SuccessCriteriaMet")
        ) and (
            pod_uid not in was_failed
            and (not indexed or (index is not None and index < completions))
        ):
            needs = True
            uncounted.setdefault("failed", []).append(pod_uid)
        counted = (
            len(new_indexes)
            + len(uncounted.get("succeeded") or ())
            + len(uncounted.get("failed") or ())
        )
        if counted >= MAX_UNCOUNTED:
            reached = True
            break
    if indexed:
        stage.succeeded_indexes |= set(new_indexes)
        text = ju.format_indexes(stage.succeeded_indexes)
        if text != (status.get("completedIndexes") or ""):
            needs = True
        status["succeeded"] = len(stage.succeeded_indexes)
        status["completedIndexes"] = text
    conditions = list(status.get("conditions") or [])
    if stage.finished is not None and stage.finished.get("type") == "FailureTarget":
        conditions.append(stage.finished)
        needs = True
        stage.finished = new_condition(
            "Failed", stage.finished["reason"], stage.finished["message"], context.now_ms
        )
    if stage.finished is not None and stage.finished.get("type") == "SuccessCriteriaMet":
        if not any(c.get("type") == "SuccessCriteriaMet" for c in conditions):
            conditions.append(stage.finished)
            needs = True
        stage.finished = new_condition(
            "Complete", stage.finished["reason"], stage.finished["message"], context.now_ms
        )
    if conditions:
        status["conditions"] = conditions
    memo = Track(
        stage=stage,
        step="flushed",
        to_remove=tuple(to_remove),
        with_finalizer=frozenset(with_finalizer),
        reached_max=reached,
    )
    if needs:
        return Outcome(
            expectations=context.expectations,
            private=private,
            batches=((Planned(call=_put_status(job)),),),
            resume=True,
            memo=memo,
        )
    return _remove_finalizers(context, memo, private)


def _put_status(job: Json) -> ApiCall:
    """PUT of the status; the counters and completedIndexes are Go ``omitempty`` values."""
    metadata = job.get("metadata") or {}
    status = dict(job.get("status") or {})
    for name in ("active", "succeeded", "failed", "completedIndexes"):
        if not status.get(name):
            status.pop(name, None)
    job = {**job, "status": status}
    return ApiCall(
        method="PUT",
        path=JOBS.object_path(
            metadata.get("namespace") or "", metadata.get("name") or "", "status"
        ),
        content_type="application/json",
        body=msgspec.json.encode(job),
    )


def _remove_finalizers(
    context: Context[JobPrivate], memo: Track, private: JobPrivate
) -> Outcome[JobPrivate]:
    if not memo.to_remove:
        return _finish(context, msgspec.structs.replace(memo, step="removed"), private, ())
    stage: Stage = memo.stage
    uids = frozenset(item.split("|")[1] for item in memo.to_remove)
    removals = private.removals.set(stage.key, private.removals.get(stage.key, frozenset()) | uids)
    private = msgspec.structs.replace(private, removals=removals)
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [ju.TRACKING_FINALIZER]}}
    batch = tuple(
        Planned(
            call=ApiCall(
                method="PATCH",
                path=PODS.object_path(*item.split("|")[0].split("/", 1)),
                content_type=STRATEGIC,
                body=msgspec.json.encode(patch),
            ),
            tolerated=frozenset({404}),
            any_answer=True,
        )
        for item in memo.to_remove
    )
    return Outcome(
        expectations=context.expectations,
        private=private,
        batches=(batch,),
        resume=True,
        memo=msgspec.structs.replace(memo, step="removed"),
    )


def _finish(
    context: Context[JobPrivate], memo: Track, private: JobPrivate, replies: tuple[Reply, ...]
) -> Outcome[JobPrivate]:
    """After the finalizer patches: count the pods without finalizer; the terminal condition."""
    stage: Stage = memo.stage
    status = _status(stage.job)
    with_finalizer = set(memo.with_finalizer)
    error = stage.error
    patches = [reply for reply in replies if reply.planned.call.method == "PATCH"]
    for item, reply in zip(memo.to_remove, patches, strict=False):
        pod_uid = item.split("|")[1]
        answer = reply.answer
        if 200 <= answer.status < 300 or answer.status == 404:
            with_finalizer.discard(pod_uid)
        else:
            private = _observe_removal(private, stage.key, pod_uid)
            error = error or "removing tracking finalizer failed"
    needs = _clean(status, with_finalizer) or memo.needs_flush
    if error and needs:
        return _write_last(context, stage, private, error)
    uncounted = status.get("uncountedTerminatedPods") or {}
    done = (
        not memo.reached_max
        and stage.finished is not None
        and not (uncounted.get("succeeded") or uncounted.get("failed"))
        and stage.terminating == 0
    )
    if done:
        assert stage.finished is not None
        conditions, _ = ensure_condition(
            list(status.get("conditions") or []),
            stage.finished["type"],
            "True",
            stage.finished["reason"],
            stage.finished["message"],
            context.now_ms,
        )
        status["conditions"] = conditions
        if stage.finished["type"] == "Complete":
            status["completionTime"] = stage.finished["lastTransitionTime"]
        needs = True
        typed = _job_meta(stage.job)
        complete = stage.finished["type"] == "Complete"
        finished_event = events.event(
            context.config,
            NAME,
            typed,
            "Job",
            "batch/v1",
            "Completed" if complete else stage.finished["reason"],
            "Job completed" if complete else stage.finished["message"],
            context.now_ms,
            warning=not complete,
        )
        if finished_event is not None:
            return events.before(_write_last(context, stage, private, error), (finished_event,))
    if needs:
        return _write_last(context, stage, private, error)
    return Outcome(
        expectations=context.expectations,
        private=private,
        error=error,
        requeue_after_ms=stage.requeue_ms,
    )


def _write_last(
    context: Context[JobPrivate], stage: Stage, private: JobPrivate, error: str
) -> Outcome[JobPrivate]:
    return Outcome(
        expectations=context.expectations,
        private=private,
        batches=((Planned(call=_put_status(stage.job)),),),
        error=error,
        requeue_after_ms=stage.requeue_ms,
    )


def resume(
    context: Context[JobPrivate], key: str, memo: Any, replies: tuple[Reply, ...], failed: bool
) -> Outcome[JobPrivate]:
    private = context.private
    if isinstance(memo, Manage):
        stage: Stage = copy.deepcopy(memo.stage)
        return _decide(
            context, stage, private, stage.job.get("_succeeded", 0), memo.managed, replies
        )
    assert isinstance(memo, Track)
    stage = copy.deepcopy(memo.stage)
    memo = msgspec.structs.replace(memo, stage=stage)
    if memo.step == "flushed":
        puts = [reply for reply in replies if reply.planned.call.method == "PUT"]
        answer = puts[-1].answer if puts else None
        if answer is None or not 200 <= answer.status < 300:
            return Outcome(
                expectations=context.expectations,
                private=private,
                error="adding uncounted pods to status failed",
            )
        body = decoded(answer)
        if isinstance(body, dict):
            body["status"] = stage.job.get("status") or {}
            stage.job = body
        backoffs = private.backoffs.set(key, stage.backoff)
        private = msgspec.structs.replace(private, backoffs=backoffs)
        return _remove_finalizers(context, memo, private)
    del failed
    return _finish(context, memo, private, replies)


def _workers(config: ControllerConfig) -> int:
    return config.concurrent_job_syncs


DEFINITION: ControllerDef[JobPrivate] = ControllerDef(
    name=NAME,
    watches=(Watch("jobs"), Watch("pods")),
    initial=lambda _config: JobPrivate(),
    handle=handle,
    sync=sync,
    resume=resume,
    workers=_workers,
    aliases=("job",),
)
