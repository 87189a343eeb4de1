"""GET and LIST answers: selectors, paging with continue tokens, Table or JSON.

A list holds the objects under the collection's key prefix at one revision. ``limit`` cuts it
into pages; the continue token is kube's (base64 of ``{"v":"meta.k8s.io/v1","rv":R,
"start":"<next key suffix>"}``), and every page is read at the first page's revision R, so the
pages form one consistent snapshot; once R is compacted the token is 410 Expired. Items of
built-in kinds are returned without apiVersion/kind, as kube's typed lists do.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
from returns.pipeline import is_successful

from impl.apiserver.context import Context, json_response
from impl.apiserver.objects import (
    DEFAULT_FIELD_LABELS,
    FIELD_LABELS,
    decode,
    encode,
    field_set,
    labels_of,
)
from impl.apiserver.tables import table_for, wants_table
from models.apiserver.messages import ApiResponse
from models.apiserver.status import bad_request, expired
from models.field_selectors import FieldSelector, parse_field_selector
from models.k8s.meta_ops import Status
from models.selectors import Selector, parse_label_selector

Json = dict[str, Any]
TABLE_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class Filter(msgspec.Struct, frozen=True, kw_only=True):
    labels: Selector
    fields: FieldSelector
    kind: str

    def matches(self, obj: Json) -> bool:
        if not self.labels.is_empty() and not self.labels.matches(labels_of(obj)):
            return False
        return not self.fields.terms or self.fields.matches(field_set(self.kind, obj))


def parse_filter(ctx: Context) -> Filter | Status:
    label_text = ctx.request.param("labelSelector") or ""
    labels = parse_label_selector(label_text)
    if not is_successful(labels):
        message = labels.failure().message  # labels.Parse's error, already "unable to parse..."
        prefix = "unable to parse requirement: "
        return bad_request(message if message.startswith(prefix) else prefix + message)
    field_text = ctx.request.param("fieldSelector") or ""
    fields = parse_field_selector(field_text)
    if not is_successful(fields):
        return bad_request(fields.failure().message)
    allowed = FIELD_LABELS.get(ctx.resource.kind, DEFAULT_FIELD_LABELS)
    for term in fields.unwrap().terms:
        if term.field not in allowed:
            return bad_request(f"field label not supported: {term.field}")
    return Filter(labels=labels.unwrap(), fields=fields.unwrap(), kind=ctx.resource.kind)


def encode_continue(revision: int, start: str) -> str:
    token = json.dumps(
        {"v": "meta.k8s.io/v1", "rv": revision, "start": start}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str] | Status:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        revision, start = int(data["rv"]), str(data["start"])
        if data.get("v") != "meta.k8s.io/v1" or revision <= 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        return bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        )
    return revision, start


def expired_continue() -> Status:
    return expired(
        "The provided continue parameter is too old to display a consistent list result. You can "
        "start a new list without the continue parameter, or use the continue token in this "
        "response to retrieve the remainder of the results. Continuing with the provided token "
        "results in an inconsistent list - objects that were created, modified, or deleted "
        "between the time the first chunk was returned and now may show up in the list."
    )


def parse_limit(ctx: Context) -> int | Status:
    text = ctx.request.param("limit")
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        return bad_request(f"invalid limit: {text}")
    return max(value, 0)


def item_response(ctx: Context, value: bytes) -> ApiResponse:
    if wants_table(ctx.request.accept):
        obj = decode(value)
        table = table_for(
            ctx, [obj], str((obj.get("metadata") or {}).get("resourceVersion", "")), ""
        )
        return ApiResponse(status=200, content_type=TABLE_TYPE, body=encode(table))
    return json_response(200, value)


def list_response(
    ctx: Context, items: list[tuple[str, bytes]], revision: int, prefix: str, limit: int
) -> ApiResponse:
    """A list (or Table) of the matching ``items`` (key, object with RV), sorted by key,
    cut at ``limit`` with a continue token."""
    filter_ = parse_filter(ctx)
    assert not isinstance(filter_, Status)
    selected: list[Json] = []
    next_key = ""
    remaining = 0
    for key, value in items:
        obj = decode(value)
        if not filter_.matches(obj):
            continue
        if limit and len(selected) >= limit:
            if not next_key:
                next_key = key
            remaining += 1
            continue
        selected.append(obj)
    meta: Json = {"resourceVersion": str(revision)}
    if next_key:
        meta["continue"] = encode_continue(revision, next_key[len(prefix) :])
        if not ctx.request.param("labelSelector") and not ctx.request.param("fieldSelector"):
            meta["remainingItemCount"] = remaining
    if wants_table(ctx.request.accept):
        table = table_for(ctx, selected, str(revision), meta.get("continue", ""))
        if "remainingItemCount" in meta:
            table["metadata"]["remainingItemCount"] = meta["remainingItemCount"]
        return ApiResponse(status=200, content_type=TABLE_TYPE, body=encode(table))
    if not ctx.resource.custom:
        for obj in selected:
            obj.pop("apiVersion", None)
            obj.pop("kind", None)
    body = {
        "kind": ctx.resource.list_kind_name,
        "apiVersion": ctx.resource.group_version,
        "metadata": meta,
        "items": selected,
    }
    return json_response(200, encode(body))
