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
from impl.apiserver.writes import Current
from models.apiserver.clock import rfc3339
from models.apiserver.resources import object_key
from models.apiserver.status import bad_request, conflict, forbidden, not_found, success
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status, StatusDetails

Json = dict[str, Any]
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
"""The NamespaceLifecycle plugin refuses to delete these."""


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
    """``CheckGracefulDelete`` for pods."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
        grace = 0
    return max(int(grace), 0) if int(grace) >= 0 else 1


def decide_delete(ctx: Context, current: Current | None) -> Decision:
    if current is None:
        return reply(not_found(ctx.resource.qualified, ctx.info.name))
    options = _options(ctx)
    if isinstance(options, Status):
        return reply(options)
    obj = copy.deepcopy(current.obj)
    meta = metadata(obj)
    name = meta_str(obj, "name")
    preconditions = options.get("preconditions") or {}
    if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
        return reply(
            conflict(
                ctx.resource.qualified,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta.get('uid', '')}",
            )
        )
    if preconditions.get("resourceVersion") and str(preconditions["resourceVersion"]) != str(
        current.mod_revision
    ):
        return reply(
            conflict(
                ctx.resource.qualified,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, "
                f"ResourceVersion in object meta: {current.mod_revision}",
            )
        )
    key = object_key(ctx.resource, ctx.info.namespace, name)
    meta.pop("resourceVersion", None)
    finalizers = list(meta.get("finalizers") or [])
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is True:
        policy = "Orphan"
    if policy == "Foreground" and "foregroundDeletion" not in finalizers:
        finalizers.append("foregroundDeletion")
    if policy == "Orphan" and "orphan" not in finalizers:
        finalizers.append("orphan")
    if ctx.resource.kind == "Namespace" and name in IMMORTAL_NAMESPACES:
        return reply(forbidden("namespaces", name, "this namespace may not be deleted"))
    if ctx.resource.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
        return _terminate_namespace(ctx, current, obj, key)
    grace = _pod_grace(obj, options) if ctx.resource.kind == "Pod" else 0
    already = meta.get("deletionTimestamp")
    if grace > 0:
        if already and int(meta.get("deletionGracePeriodSeconds") or 0) <= grace:
            return _unchanged(current, obj)
        meta["deletionTimestamp"] = rfc3339(ctx.entropy.now_seconds + grace)
        meta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            meta["finalizers"] = finalizers
        return _update(key, current, obj)
    if finalizers:
        if already and finalizers == list(meta.get("finalizers") or []):
            return _unchanged(current, obj)
        if not already:
            meta["deletionTimestamp"] = ctx.entropy.now
            meta["deletionGracePeriodSeconds"] = 0
        meta["finalizers"] = finalizers
        return _update(key, current, obj)
    return Write(
        writes=(KeyWrite(key=key, expected=current.mod_revision, value=None),),
        code=200,
        answer="body",
        body=deleted_answer(ctx, current.obj),
    )


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


def _unchanged(current: Current, obj: Json) -> Decision:
    metadata(obj)["resourceVersion"] = str(current.mod_revision)
    return Write(writes=(), code=200, answer="body", body=encode(obj))


def _update(key: str, current: Current, obj: Json) -> Decision:
    return Write(
        writes=(KeyWrite(key=key, expected=current.mod_revision, value=stored_bytes(obj)),),
        code=200,
    )


def _terminate_namespace(ctx: Context, current: Current, obj: Json, key: str) -> Decision:
    meta = metadata(obj)
    if meta.get("deletionTimestamp"):
        return _unchanged(current, obj)
    meta["deletionTimestamp"] = ctx.entropy.now
    meta["deletionGracePeriodSeconds"] = 0
    obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
    return _update(key, current, obj)
