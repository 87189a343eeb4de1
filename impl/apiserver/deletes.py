"""DELETE: preconditions, graceful deletion, finalizers and propagation policy.

kube's generic ``Delete``: a missing object is 404; ``preconditions`` (uid, resourceVersion)
that do not hold are 409. A pod bound to a node is deleted gracefully: it keeps existing with
``deletionTimestamp`` = now + grace and ``deletionGracePeriodSeconds`` = grace (the kubelet
removes it); an unbound or finished pod goes at once. ``propagationPolicy`` Foreground and
Orphan add the ``foregroundDeletion``/``orphan`` finalizer. An object with finalizers only gets
``deletionTimestamp`` (and grace 0); the update that empties its finalizers removes it. A
namespace whose ``spec.finalizers`` is not empty turns Terminating instead.
"""

from __future__ import annotations

import copy
from typing import Any

from impl.apiserver.bodies import parse_body
from impl.apiserver.context import Context, Decision, KeyWrite, Write, reply
from impl.apiserver.objects import encode, meta_str, metadata, stored_bytes
from impl.apiserver.priority_classes import QUALIFIED as PRIORITY_CLASSES
from impl.apiserver.priority_classes import delete_refusal
from impl.apiserver.writes import Current
from models.apiserver.clock import parse_rfc3339, rfc3339
from models.apiserver.resources import object_key
from models.apiserver.status import bad_request, conflict, forbidden, not_found, success
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status, StatusDetails

Json = dict[str, Any]
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
"""The NamespaceLifecycle plugin refuses to delete these."""
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
"""The garbage collector's finalizers (``metav1.FinalizerOrphanDependents``,
``FinalizerDeleteDependents``); kube-controller-manager's GC removes them."""


def _options(ctx: Context) -> Json | Status:
    body = parse_body(ctx.request.body, "application/json") if ctx.request.body else {}
    if isinstance(body, Status):
        return body
    options = dict(body) if isinstance(body, dict) else {}
    grace = ctx.request.param("gracePeriodSeconds")
    if grace is not None:
        try:
            options["gracePeriodSeconds"] = int(grace)
        except ValueError:
            return bad_request(f"invalid gracePeriodSeconds: {grace}")
    policy = ctx.request.param("propagationPolicy")
    if policy:
        options["propagationPolicy"] = policy
    if options.get("propagationPolicy") not in (None, "Orphan", "Background", "Foreground"):
        return bad_request(
            f'propagationPolicy: Unsupported value: "{options["propagationPolicy"]}"'
        )
    return options


def _pod_grace(obj: Json, options: Json) -> int:
    """The pod strategy's ``CheckGracefulDelete``: the grace period (it always deletes pods
    gracefully, with 0 for an unscheduled or finished pod)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds") or 0
    if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
        grace = 0
    return 1 if int(grace) < 0 else int(grace)


def _gc_policy(finalizers: list[str], options: Json) -> tuple[bool, bool]:
    """(orphan, foreground): ``shouldOrphanDependents`` and ``shouldDeleteDependents``. Options
    first (``orphanDependents``, then ``propagationPolicy``), then the object's own GC
    finalizer, then the default policy (background for every served kind)."""
    if options.get("orphanDependents") is not None:
        return bool(options["orphanDependents"]), False
    policy = options.get("propagationPolicy")
    if policy is not None:
        return policy == "Orphan", policy == "Foreground"
    for finalizer in finalizers:
        if finalizer in (ORPHAN, FOREGROUND):
            return finalizer == ORPHAN, finalizer == FOREGROUND
    return False, False


def gc_finalizers(finalizers: list[str], options: Json) -> list[str]:
    """``deletionFinalizersForGarbageCollection``: drop both GC finalizers, add back the
    policy's; the list is kept as it was when the set does not change."""
    orphan, foreground = _gc_policy(finalizers, options)
    kept = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
    kept += [ORPHAN] * orphan + [FOREGROUND] * foreground
    return finalizers if set(kept) == set(finalizers) else kept


def _check_preconditions(ctx: Context, current: Current, options: Json) -> Status | None:
    meta, name = metadata(current.obj), meta_str(current.obj, "name")
    preconditions = options.get("preconditions") or {}
    if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
        return conflict(
            ctx.resource.qualified,
            name,
            f"Precondition failed: UID in precondition: {preconditions['uid']}, "
            f"UID in object meta: {meta.get('uid', '')}",
        )
    wanted = preconditions.get("resourceVersion")
    if wanted and str(wanted) != str(current.mod_revision):
        return conflict(
            ctx.resource.qualified,
            name,
            f"Precondition failed: ResourceVersion in precondition: {wanted}, "
            f"ResourceVersion in object meta: {current.mod_revision}",
        )
    return None


def decide_delete(ctx: Context, current: Current | None) -> Decision:
    if ctx.resource.qualified == PRIORITY_CLASSES:
        refused = delete_refusal(ctx.info.name)
        if refused is not None:
            return reply(refused)
    if current is None:
        return reply(not_found(ctx.resource.qualified, ctx.info.name))
    options = _options(ctx)
    if isinstance(options, Status):
        return reply(options)
    refused = _check_preconditions(ctx, current, options)
    if refused is not None:
        return reply(refused)
    obj = copy.deepcopy(current.obj)
    meta, name = metadata(obj), meta_str(obj, "name")
    key = object_key(ctx.resource, ctx.info.namespace, name)
    meta.pop("resourceVersion", None)
    if ctx.resource.kind == "Namespace" and name in IMMORTAL_NAMESPACES:
        return reply(forbidden("namespaces", name, "this namespace may not be deleted"))
    if ctx.resource.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
        return _terminate_namespace(ctx, current, obj, key)
    graceful = _before_delete(ctx, obj, options) if ctx.resource.kind == "Pod" else "no"
    if graceful == "pending":  # a longer grace period than the one running: nothing to do
        return _unchanged(current, current.obj, options)
    finalizers = list(meta.get("finalizers") or [])
    wanted = gc_finalizers(finalizers, options)
    if wanted:
        meta["finalizers"] = wanted
    else:
        meta.pop("finalizers", None)
    if wanted and graceful == "no":
        _mark_as_deleting(ctx, meta)
    if wanted or graceful == "later":
        if obj == _without_version(current.obj):
            return _unchanged(current, obj, options)
        return _update(key, current, obj, options)
    if graceful == "now":  # the update with grace 0, then the deletion (kube does both)
        return Write(
            writes=(KeyWrite(key=key, expected=current.mod_revision, value=stored_bytes(obj)),),
            code=200,
            then_delete=True,
        )
    return Write(
        writes=(KeyWrite(key=key, expected=current.mod_revision, value=None),),
        code=200,
        answer="body",
        body=deleted_answer(ctx, current.obj),
    )


def _before_delete(ctx: Context, obj: Json, options: Json) -> str:
    """``rest.BeforeDelete`` for pods (the graceful strategy), setting ``deletionTimestamp`` and
    ``deletionGracePeriodSeconds`` in ``obj``: "pending" (a graceful deletion already runs and
    is not shortened), "later" (the pod waits out a grace period), "now" (grace 0: updated,
    then deleted), or "no" (already marked with grace 0: deleted like any other kind)."""
    meta = metadata(obj)
    since = meta.get("deletionTimestamp")
    running = int(meta.get("deletionGracePeriodSeconds") or 0)
    if since:
        if running <= 0:
            return "no"
        asked = options.get("gracePeriodSeconds")
        if asked is None or int(asked) >= running:
            return "pending"
        period = max(int(asked), 0)
        start = _seconds(since) - running
        meta["deletionTimestamp"] = rfc3339(start + period)
        meta["deletionGracePeriodSeconds"] = period
        return "later" if period > 0 else "now"
    period = _pod_grace(obj, options)
    meta["deletionTimestamp"] = rfc3339(ctx.entropy.now_seconds + period)
    meta["deletionGracePeriodSeconds"] = period
    if int(meta.get("generation") or 0) > 0:
        meta["generation"] = int(meta["generation"]) + 1
    return "later" if period > 0 else "now"


def _seconds(text: object) -> int:
    return parse_rfc3339(text) or 0


def _without_version(obj: Json) -> Json:
    bare = copy.deepcopy(obj)
    metadata(bare).pop("resourceVersion", None)
    return bare


def _mark_as_deleting(ctx: Context, meta: Json) -> None:
    """``markAsDeleting``: the first marking bumps ``generation``; ``deletionTimestamp``
    becomes now unless it is already earlier; the grace period is 0."""
    since = meta.get("deletionTimestamp")
    if not since and int(meta.get("generation") or 0) > 0:
        meta["generation"] = int(meta["generation"]) + 1
    if not since or _seconds(since) > ctx.entropy.now_seconds:
        meta["deletionTimestamp"] = ctx.entropy.now
    meta["deletionGracePeriodSeconds"] = 0


def deleted_answer(ctx: Context, last: Json) -> bytes:
    """What a completed delete answers (``finalizeDelete``): the last state for stores with
    ``ReturnDeletedObject`` (pods, services, service accounts, namespaces, custom resources),
    else a Success Status naming the object (its ``kind`` is the resource, as kube sets it)."""
    if ctx.resource.return_deleted:
        return encode(last)
    resource, _, group = ctx.resource.qualified.partition(".")
    details = StatusDetails(
        name=meta_str(last, "name"), group=group or None, kind=resource, uid=meta_str(last, "uid")
    )
    return encode_json(success(details))


def _accepted(options: Json) -> int:
    """The deprecated ``orphanDependents: false`` makes a delete that did not remove the object
    answer 202 Accepted (the handler's legacy rule); 200 otherwise."""
    return 202 if options.get("orphanDependents") is False else 200


def _unchanged(current: Current, obj: Json, options: Json) -> Decision:
    kept = copy.deepcopy(obj)
    metadata(kept)["resourceVersion"] = str(current.mod_revision)
    return Write(writes=(), code=_accepted(options), answer="body", body=encode(kept))


def _update(key: str, current: Current, obj: Json, options: Json) -> Decision:
    return Write(
        writes=(KeyWrite(key=key, expected=current.mod_revision, value=stored_bytes(obj)),),
        code=_accepted(options),
    )


def _terminate_namespace(ctx: Context, current: Current, obj: Json, key: str) -> Decision:
    meta = metadata(obj)
    if meta.get("deletionTimestamp"):
        return _unchanged(current, obj, {})
    meta["deletionTimestamp"] = ctx.entropy.now
    meta["deletionGracePeriodSeconds"] = 0
    obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
    return _update(key, current, obj, {})
