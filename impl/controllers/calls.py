"""The API calls controllers make, built from typed objects, and the answers read back."""

from __future__ import annotations

from typing import Any

import msgspec

from impl.controllers.objects import meta
from models.controllers.messages import Answered, ApiCall
from models.controllers.resources import Resource
from models.k8s.codec import encode_json, to_builtins

JSON = "application/json"
MERGE = "application/merge-patch+json"


def body_of(obj: Any) -> bytes:
    return encode_json(obj)


def plain(obj: Any) -> Any:
    """A typed object as plain JSON data."""
    return to_builtins(obj)


def create(resource: Resource, namespace: str, body: dict[str, Any]) -> ApiCall:
    return ApiCall(
        method="POST",
        path=resource.collection_path(namespace),
        content_type=JSON,
        body=msgspec.json.encode(body, order="sorted"),
    )


def update(resource: Resource, obj: Any, subresource: str = "") -> ApiCall:
    """PUT of the whole object; its resourceVersion makes the write conditional."""
    return ApiCall(
        method="PUT",
        path=resource.object_path(meta(obj).namespace or "", meta(obj).name or "", subresource),
        content_type=JSON,
        body=body_of(obj),
    )


def update_status(resource: Resource, obj: Any) -> ApiCall:
    return update(resource, obj, "status")


def patch(
    resource: Resource,
    namespace: str,
    name: str,
    body: Any,
    content_type: str = MERGE,
    subresource: str = "",
) -> ApiCall:
    return ApiCall(
        method="PATCH",
        path=resource.object_path(namespace, name, subresource),
        content_type=content_type,
        body=msgspec.json.encode(body, order="sorted"),
    )


def delete(
    resource: Resource,
    namespace: str,
    name: str,
    *,
    propagation: str = "",
    uid_precondition: str = "",
    grace_period_seconds: int | None = None,
) -> ApiCall:
    options: dict[str, Any] = {}
    if propagation:
        options["propagationPolicy"] = propagation
    if uid_precondition:
        options["preconditions"] = {"uid": uid_precondition}
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    body = b""
    if options:
        body = msgspec.json.encode(
            {"apiVersion": "v1", "kind": "DeleteOptions", **options}, order="sorted"
        )
    return ApiCall(
        method="DELETE",
        path=resource.object_path(namespace, name),
        content_type=JSON if body else "",
        body=body,
    )


def get(resource: Resource, namespace: str, name: str) -> ApiCall:
    return ApiCall(method="GET", path=resource.object_path(namespace, name))


def failure_text(answer: Answered) -> str:
    """A failed answer in words: the Status message if there is one."""
    if answer.status == 0:
        return "no answer from the API server"
    try:
        decoded = msgspec.json.decode(answer.body)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])
    return f"HTTP {answer.status}"


def decoded(answer: Answered) -> Any:
    try:
        return msgspec.json.decode(answer.body)
    except msgspec.DecodeError:
        return None
