"""The subresources that are not plain status writes: ``scale``, ``binding``, ``eviction``
and a namespace's ``finalize``.

- scale (autoscaling/v1 Scale): GET builds it from the object (spec.replicas,
  status.replicas, the selector as a string); PUT/PATCH write ``spec.replicas`` back.
- binding (POST): sets ``spec.nodeName``; 409 when the pod is already bound or is being
  deleted; answers 201 Status Success.
- eviction (POST): a policy/v1 Eviction deletes the pod as a DELETE with its options would.
- finalize (PUT): replaces a namespace's ``spec.finalizers``; a terminating namespace with
  none left is removed.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from impl.apiserver.bodies import media_type, parse_body
from impl.apiserver.context import Context, Decision, KeyWrite, Reply, Write, json_response, reply
from impl.apiserver.deletes import decide_delete
from impl.apiserver.eviction import budget_gate
from impl.apiserver.objects import encode, meta_str, metadata, stored_bytes
from impl.apiserver.patching import (
    JSON_PATCH,
    MERGE_PATCH,
    PATCH_TYPES,
    STRATEGIC_PATCH,
    patched_object,
)
from impl.apiserver.writes import Current, finish_update
from models.apiserver.messages import ApiRequest
from models.apiserver.resources import object_key
from models.apiserver.status import (
    MODIFIED,
    bad_request,
    conflict,
    not_found,
    success,
    unsupported_media_type,
)
from models.apiserver.status import (
    invalid as invalid_status,
)
from models.field_errors import invalid
from models.k8s.base import decode_hook
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status, StatusDetails
from models.selectors import LabelSelector, format_label_selector

Json = dict[str, Any]


def _dotted(obj: Json, path: str) -> Any:
    node: Any = obj
    for step in [s for s in path.split(".") if s]:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def scale_of(ctx: Context, current: Current) -> Json:
    obj = current.obj
    custom = ctx.custom
    if custom is not None:
        replicas = _dotted(obj, custom.scale_spec_path) or 0
        status_replicas = _dotted(obj, custom.scale_status_path) or 0
        selector = _dotted(obj, custom.scale_selector_path) if custom.scale_selector_path else None
        selector_text = selector if isinstance(selector, str) else ""
    else:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        replicas, status_replicas = spec.get("replicas", 0), status.get("replicas", 0)
        try:
            selector_text = (
                format_label_selector(
                    msgspec.convert(spec.get("selector"), LabelSelector, dec_hook=decode_hook)
                )
                if spec.get("selector")
                else ""
            )
        except msgspec.ValidationError:
            selector_text = ""
    meta = metadata(obj)
    scale: Json = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": status_replicas},
    }
    scale["metadata"]["resourceVersion"] = str(current.mod_revision)
    if selector_text:
        scale["status"]["selector"] = selector_text
    return scale


def get_scale(ctx: Context, current: Current | None) -> Reply:
    if current is None:
        return reply(not_found(ctx.resource.qualified, ctx.info.name))
    return Reply(response=json_response(200, encode(scale_of(ctx, current))))


def decide_scale(ctx: Context, current: Current | None) -> Decision:
    if current is None:
        return reply(not_found(ctx.resource.qualified, ctx.info.name))
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return reply(body)
    scale = scale_of(ctx, current)
    if ctx.request.method.upper() == "PATCH":
        kind = media_type(ctx.request.content_type)
        if kind not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH):
            return reply(
                unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media "
                    f"types include: {', '.join(PATCH_TYPES)}"
                )
            )
        result = patched_object(ctx, kind, scale, body)
        if isinstance(result, Status):
            return reply(result)
        scale = result
    elif isinstance(body, dict):
        scale = body
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        return reply(
            invalid_status(
                "Scale",
                "autoscaling",
                ctx.info.name,
                [
                    invalid(
                        "spec.replicas",
                        replicas if isinstance(replicas, int) else None,
                        "must be greater than or equal to 0",
                    )
                ],
            )
        )
    requested_rv = (scale.get("metadata") or {}).get("resourceVersion")
    if requested_rv and str(requested_rv) != str(current.mod_revision):
        return reply(
            conflict(
                ctx.resource.qualified,
                ctx.info.name,
                MODIFIED,
            )
        )
    new = copy.deepcopy(current.obj)
    custom = ctx.custom
    if custom is not None:
        node = new
        steps = [s for s in custom.scale_spec_path.split(".") if s]
        for step in steps[:-1]:
            node = node.setdefault(step, {})
        node[steps[-1]] = replicas
    else:
        new.setdefault("spec", {})["replicas"] = replicas
    sub_ctx = msgspec.structs.replace(
        ctx, info=msgspec.structs.replace(ctx.info, subresource=""), scale_write=True
    )
    decision = finish_update(sub_ctx, current, new, (), check_rv=False)
    if isinstance(decision, Write) and decision.answer == "object":
        return Write(writes=decision.writes, code=200, answer="scale")
    return decision


def decide_binding(ctx: Context, current: Current | None) -> Decision:
    if current is None:
        return reply(not_found("pods", ctx.info.name))
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return reply(body)
    target = (body.get("target") or {}) if isinstance(body, dict) else {}
    node = target.get("name")
    if not node:
        return reply(bad_request("Binding target.name is required"))
    pod = copy.deepcopy(current.obj)
    meta = metadata(pod)
    name = meta_str(pod, "name")
    binding_uid = ((body.get("metadata") or {}).get("uid")) if isinstance(body, dict) else None
    if binding_uid and binding_uid != meta.get("uid"):
        return reply(
            conflict(
                "pods",
                name,
                f"Precondition failed: UID in precondition: {binding_uid}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        )
    if meta.get("deletionTimestamp"):
        return reply(
            conflict(
                "pods/binding", name, f"pod {name} is being deleted, cannot be assigned to a host"
            )
        )
    spec = pod.setdefault("spec", {})
    if spec.get("nodeName"):
        return reply(
            conflict(
                "pods/binding", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"'
            )
        )
    spec["nodeName"] = node
    annotations = ((body.get("metadata") or {}).get("annotations")) or {}
    if annotations:
        meta.setdefault("annotations", {}).update(annotations)
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": ctx.entropy.now,
        }
    )
    status["conditions"] = conditions
    meta.pop("resourceVersion", None)
    key = object_key(ctx.resource, ctx.info.namespace, name)
    answer = encode_json(success())
    return Write(
        writes=(KeyWrite(key=key, expected=current.mod_revision, value=stored_bytes(pod)),),
        code=201,
        answer="body",
        body=answer,
    )


def decide_eviction(ctx: Context, current: Current | None) -> Decision:
    if current is None:
        return reply(not_found("pods", ctx.info.name))
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return reply(body)
    options = (body.get("deleteOptions") or {}) if isinstance(body, dict) else {}
    delete_request = ApiRequest(
        method="DELETE",
        path=ctx.request.path,
        body=encode(options),
        content_type="application/json",
    )
    delete_ctx = msgspec.structs.replace(
        ctx, request=delete_request, info=msgspec.structs.replace(ctx.info, subresource="")
    )
    decision = decide_delete(delete_ctx, current)
    if isinstance(decision, Write):
        gate = budget_gate(ctx, current.obj)
        if isinstance(gate, Status):
            return reply(gate)
        return Write(
            writes=(*decision.writes, *([gate] if gate is not None else [])),
            code=201,
            answer="body",
            body=encode_json(success(StatusDetails(name=ctx.info.name, kind="pods"))),
            then_delete=decision.then_delete,
        )
    return decision


def decide_finalize(ctx: Context, current: Current | None) -> Decision:
    if current is None:
        return reply(not_found("namespaces", ctx.info.name))
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return reply(body)
    finalizers = (
        ((body.get("spec") or {}).get("finalizers") or []) if isinstance(body, dict) else []
    )
    namespace = copy.deepcopy(current.obj)
    namespace.setdefault("spec", {})["finalizers"] = list(finalizers)
    if not finalizers:
        namespace["spec"].pop("finalizers")
    meta = metadata(namespace)
    meta.pop("resourceVersion", None)
    key = object_key(ctx.resource, "", ctx.info.name)
    if meta.get("deletionTimestamp") and not finalizers and not meta.get("finalizers"):
        return Write(
            writes=(KeyWrite(key=key, expected=current.mod_revision, value=None),),
            code=200,
            answer="body",
            body=encode(namespace),
        )
    return Write(
        writes=(KeyWrite(key=key, expected=current.mod_revision, value=stored_bytes(namespace)),),
        code=200,
    )
