"""PATCH: the four patch types applied to the current object, then the update path; and
server-side apply (``application/apply-patch+yaml``), which creates a missing object."""

from __future__ import annotations

import copy
import json
from typing import Any

from impl.apiserver.bodies import Decoded, decode_object, field_validation, media_type, parse_body
from impl.apiserver.context import Context, Decision, KeyWrite, Write, reply
from impl.apiserver.managed import (
    Conflict,
    apply_conflicts,
    leaves,
    owned_by_others,
    previously_applied,
    record_apply,
)
from impl.apiserver.objects import decode, metadata, stored_bytes
from impl.apiserver.patches import PatchError, json_patch, merge_patch, strategic_merge
from impl.apiserver.writes import Current, check_type_meta, create_object, finish_update
from models.apiserver.status import (
    bad_request,
    failure,
    invalid,
    not_found,
    unsupported_media_type,
)
from models.field_errors import forbidden, required
from models.k8s.meta_ops import Status, StatusCause, StatusDetails

Json = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def _unsupported(ctx: Context) -> Status:
    accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] if ctx.resource.custom else list(PATCH_TYPES)
    return unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )


def patched_object(ctx: Context, kind: str, live: Json, patch: Any) -> Json | Status:
    """``live`` with ``patch`` of media type ``kind`` applied."""
    if kind == JSON_PATCH:
        result = json_patch(live, patch)
    elif kind == MERGE_PATCH:
        result = merge_patch(live, patch)
    else:
        result = strategic_merge(live, patch, ctx.root_schema(), ctx.schemas)
    if isinstance(result, PatchError):
        if kind == JSON_PATCH:
            # NewGenericServerResponse(422, ...): kube keeps the reason, not the patch's error.
            return failure(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
                StatusDetails(),
            )
        return bad_request(result.message)
    if not isinstance(result, dict):
        return bad_request("the patch did not produce an object")
    return result


def decide_patch(ctx: Context, current: Current | None) -> Decision:
    kind = media_type(ctx.request.content_type)
    if kind not in PATCH_TYPES or (kind == STRATEGIC_PATCH and ctx.resource.custom):
        return reply(_unsupported(ctx))
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return reply(body)
    if kind == APPLY_PATCH:
        return decide_apply(ctx, current, body)
    if ctx.request.param("force") is not None:
        return reply(
            invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [forbidden("force", "may not be specified for non-apply patch")],
            )
        )
    if current is None:
        return reply(not_found(ctx.resource.qualified, ctx.info.name))
    if kind != JSON_PATCH and not isinstance(body, dict):
        return reply(
            bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
        )
    result = patched_object(ctx, kind, copy.deepcopy(current.obj), body)
    if isinstance(result, Status):
        return reply(result)
    mode = field_validation(ctx.request.param("fieldValidation"))
    if isinstance(mode, Status):
        return reply(mode)
    decoded = decode_object(
        result,
        ctx.root_schema(),
        ctx.schemas,
        mode,
        ctx.resource.kind,
        ctx.resource.group_version,
        ctx.resource.custom,
    )
    if isinstance(decoded, Status):
        return reply(decoded)
    patch_rv = _patch_resource_version(kind, body)
    new: Json = decoded.value
    if patch_rv is None:
        metadata(new)["resourceVersion"] = str(current.mod_revision)
    return finish_update(ctx, current, new, decoded.warnings, check_rv=False, decoded=decoded)


def _patch_resource_version(kind: str, body: Any) -> str | None:
    if kind == JSON_PATCH:
        for op in body if isinstance(body, list) else []:
            if isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion":
                return str(op.get("value"))
        return None
    meta = body.get("metadata") if isinstance(body, dict) else None
    value = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return str(value) if value else None


def _conflict_status(conflicts: list[Conflict]) -> Status:
    """``NewConflictError``: one cause per field; the message groups fields by manager, the
    managers in the order of their identifiers."""
    causes = tuple(
        StatusCause(
            reason="FieldManagerConflict", message=f"conflict with {c.owner}", field=c.field
        )
        for c in conflicts
    )
    if len(conflicts) == 1:
        only = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {only.owner}: {only.field}"
    else:
        lines: list[str] = []
        for identity in sorted({c.identity for c in conflicts}):
            group = [c for c in conflicts if c.identity == identity]
            lines.append(f"conflicts with {group[0].owner}:")
            lines += [f"- {c.field}" for c in group]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return failure(409, "Conflict", message, StatusDetails(causes=causes))


def decide_apply(ctx: Context, current: Current | None, body: Any) -> Decision:
    """Server-side apply: create when missing, else merge the configuration and own it."""
    manager = ctx.request.param("fieldManager")
    if not manager:
        # ValidatePatchOptions: the field manager is required for apply patches.
        return reply(
            invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [required("fieldManager", "is required for apply patch")],
            )
        )
    force = ctx.request.param("force") in ("true", "1")
    mode = field_validation(ctx.request.param("fieldValidation"))
    if isinstance(mode, Status):
        return reply(mode)
    decoded = decode_object(
        body,
        ctx.root_schema(),
        ctx.schemas,
        "Strict" if mode == "Strict" else mode,
        ctx.resource.kind,
        ctx.resource.group_version,
        ctx.resource.custom,
    )
    if isinstance(decoded, Status):
        return reply(decoded)
    applied: Json = decoded.value
    problem = check_type_meta(ctx, applied)
    if problem is not None:
        return reply(problem)
    if not applied.get("apiVersion") or not applied.get("kind"):
        return reply(bad_request("apiVersion and kind must be set in an apply configuration"))
    if current is None:
        obj = copy.deepcopy(applied)
        decision = create_object(ctx, obj, decoded, None)
        return _with_apply_entry(ctx, decision, None, applied, manager, force)
    live = current.obj
    conflicts = apply_conflicts(ctx, live, applied, manager)
    if conflicts and not force:
        return reply(_conflict_status(conflicts))
    result = _merge_applied(ctx, live, applied, manager)
    if isinstance(result, PatchError):
        return reply(bad_request(result.message))
    applied_rv = (applied.get("metadata") or {}).get("resourceVersion")
    metadata(result)["resourceVersion"] = (
        str(applied_rv) if applied_rv else str(current.mod_revision)
    )
    record_apply(ctx, live, result, applied, manager, force)
    return finish_update(
        ctx,
        current,
        result,
        decoded.warnings,
        check_rv=False,
        decoded=Decoded(value=result),
        applied=True,
    )


def _with_apply_entry(
    ctx: Context, decision: Decision, live: Json | None, applied: Json, manager: str, force: bool
) -> Decision:
    if not isinstance(decision, Write) or not decision.writes or decision.writes[0].value is None:
        return decision
    first = decision.writes[0]
    assert first.value is not None
    obj = decode(first.value)
    metadata(obj).pop("managedFields", None)
    record_apply(ctx, live, obj, applied, manager, force)
    rewritten = KeyWrite(key=first.key, expected=first.expected, value=stored_bytes(obj))
    return Write(
        writes=(rewritten, *decision.writes[1:]),
        code=decision.code,
        answer=decision.answer,
        body=decision.body,
        warnings=decision.warnings,
    )


def _merge_applied(ctx: Context, live: Json, applied: Json, manager: str) -> Json | PatchError:
    """The live object with the configuration merged in and the manager's dropped fields gone."""
    schema, schemas = ctx.root_schema(), ctx.schemas
    before = previously_applied(live, manager, ctx.field_subresource)
    now = set(leaves(applied, schema, schemas))
    others = owned_by_others(live, manager)
    result = copy.deepcopy(live)
    for path in sorted(before - now - others, key=len, reverse=True):
        _remove_path(result, path)
    merged = strategic_merge(result, applied, schema, schemas)
    if isinstance(merged, PatchError | dict):
        return merged
    return PatchError(message="the apply configuration did not produce an object")


def _remove_path(obj: Any, path: tuple[str, ...]) -> None:
    node = obj
    steps = [step for step in path if step != "."]
    for index, step in enumerate(steps):
        kind, _, rest = step.partition(":")
        last = index == len(steps) - 1
        if kind == "f" and isinstance(node, dict):
            if last:
                node.pop(rest, None)
                return
            node = node.get(rest)
        elif kind == "k" and isinstance(node, list):
            keys = json.loads(rest)
            for position, item in enumerate(node):
                if isinstance(item, dict) and all(item.get(k) == v for k, v in keys.items()):
                    if last:
                        del node[position]
                        return
                    node = item
                    break
            else:
                return
        elif kind == "v" and isinstance(node, list):
            value = json.loads(rest)
            if last and value in node:
                node.remove(value)
            return
        else:
            return
