"""ResourceQuota admission on a create, with the server's cached objects: the namespace's quotas
(``quota.admit``) against the objects of the created resource the namespace holds, and the
quotas' new ``status`` (``hard`` and ``used`` after the create) written in the same etcd
transaction as the object, guarded by each quota's revision, as kube's admission writes a
quota's usage before admitting. Removing an object recounts them the same way (``release``,
what kube's quota controller does on a delete). A ResourceQuota being created (or its spec
changed) gets its status at once, counted from the namespace's objects (kube's quota controller
fills it shortly after).
"""

from __future__ import annotations

from typing import Any, Final

from impl.apiserver.cache import objects_under
from impl.apiserver.context import Context, KeyWrite
from impl.apiserver.objects import decode, metadata, stored_bytes
from impl.apiserver.quota import (
    QUOTA_PREFIX,
    admit,
    charge,
    charged_status,
    counted_resource,
    matches,
    recorded_usage,
    status_of,
)
from models.apiserver.resources import BUILTIN_RESOURCES, collection_prefix
from models.k8s.meta_ops import Status

Json = dict[str, Any]
_BUILTIN_PREFIXES: Final = {
    (r.group, r.resource): collection_prefix(r, "{ns}") for r in reversed(BUILTIN_RESOURCES)
}


def _held(ctx: Context, namespace: str, group: str, resource: str) -> list[tuple[str, Json]]:
    """The namespace's objects of ``group``/``resource`` (key, object)."""
    pattern = _BUILTIN_PREFIXES.get((group, resource))
    if pattern is None:
        for custom in ctx.catalog.custom.values():
            if (custom.resource.group, custom.resource.resource) == (group, resource):
                pattern = collection_prefix(custom.resource, "{ns}")
                break
    if pattern is None or not pattern.endswith("/{ns}/"):
        return []
    found = objects_under(ctx.cache, pattern.replace("{ns}", namespace))
    return [(key, decode(value.value)) for key, value in found]


def _objects_by(
    ctx: Context, namespace: str, quotas: list[Json], new_key: str, new: Json | None
) -> dict[tuple[str, str], list[Json]]:
    """The namespace's objects of each resource the quotas count, with ``new`` (an object of
    the request's resource, at ``new_key``) in place of what the store holds there."""
    wanted = {
        counted
        for quota in quotas
        for name in (quota.get("spec") or {}).get("hard") or {}
        if (counted := counted_resource(str(name))) is not None
    }
    own = (ctx.resource.group, ctx.resource.resource)
    found: dict[tuple[str, str], list[Json]] = {}
    for group, resource in wanted:
        objects = [obj for key, obj in _held(ctx, namespace, group, resource) if key != new_key]
        if new is not None and (group, resource) == own:
            objects.append(new)
        found[(group, resource)] = objects
    return found


def quota_status(ctx: Context, quota: Json, key: str) -> Json:
    """The status of a ResourceQuota being written at ``key``, counted from its namespace."""
    namespace = str(metadata(quota).get("namespace") or ctx.info.namespace)
    return status_of(quota, _objects_by(ctx, namespace, [quota], key, quota))


def admit_create(
    ctx: Context, obj: Json, key: str, name: str, previous: Json | None = None
) -> Status | tuple[KeyWrite, ...]:
    """The quota refusal of a create (or, with the ``previous`` object, of an update), or the
    quota status writes that go with it."""
    namespace = ctx.info.namespace
    if not ctx.resource.namespaced or namespace not in ctx.policy_namespaces:
        return ()
    cached = objects_under(ctx.cache, f"{QUOTA_PREFIX}{namespace}/")
    if not cached:
        return ()
    quotas = [decode(value.value) for _, value in cached]
    group, resource = ctx.resource.group, ctx.resource.resource
    held = [
        obj
        for held_key, obj in _held(ctx, namespace, group, resource)
        if held_key != key or previous is not None
    ]
    # A quota the store returned after a failed commit is newer than the objects the cache
    # counts: its status.used (which every charged create writes) is the fresher usage.
    fresher = {
        str(metadata(quota).get("name", "")): quota
        for (_, value), quota in zip(cached, quotas, strict=True)
        if value.mod_revision > ctx.cache.revision
    }
    recorded = {quota_name: recorded_usage(quota) for quota_name, quota in fresher.items()}
    refused = admit(
        quotas, held, obj, group, resource, ctx.resource.qualified, name, recorded, previous
    )
    if refused is not None:
        return refused
    objects_by = _objects_by(ctx, namespace, quotas, key, obj)
    requested = charge(group, resource, obj, previous)
    writes = []
    for (quota_key, value), quota in zip(cached, quotas, strict=True):
        if str(metadata(quota).get("name", "")) in fresher:
            if not matches(quota, group, resource, obj):
                continue
            status = charged_status(quota, requested)
        else:
            status = status_of(quota, objects_by)
        if quota.get("status") == status:
            continue
        quota["status"] = status
        writes.append(
            KeyWrite(key=quota_key, expected=value.mod_revision, value=stored_bytes(quota))
        )
    return tuple(writes)


def release(ctx: Context, key: str) -> tuple[KeyWrite, ...]:
    """The quota status writes that go with removing the object at ``key``: each quota of the
    namespace recounted without it (what kube's quota controller does on a delete event)."""
    namespace = ctx.info.namespace
    if not ctx.resource.namespaced or namespace not in ctx.policy_namespaces:
        return ()
    cached = objects_under(ctx.cache, f"{QUOTA_PREFIX}{namespace}/")
    quotas = [decode(value.value) for _, value in cached]
    objects_by = _objects_by(ctx, namespace, quotas, key, None)
    writes = []
    for (quota_key, value), quota in zip(cached, quotas, strict=True):
        if quota_key == key:
            continue
        status = status_of(quota, objects_by)
        if quota.get("status") != status:
            quota["status"] = status
            writes.append(
                KeyWrite(key=quota_key, expected=value.mod_revision, value=stored_bytes(quota))
            )
    return tuple(writes)
