"""managedFields: who owns which field (server-side apply's bookkeeping), and apply itself.

Fields are paths of ``fieldsV1`` steps: ``f:<name>`` for an object field, ``k:{"name":"c"}``
for an element of a list of type map (keyed by ``x-kubernetes-list-map-keys``), ``v:<json>``
for an element of a set. Every write records an ``Update`` entry for its manager
(``?fieldManager=`` or the User-Agent's product): the fields it changed move to it from the
other managers. An apply (``application/apply-patch+yaml``) owns exactly the fields of its
configuration: fields owned by another manager with a different value are conflicts (409)
unless ``force=true``; fields it owned before and no longer applies are removed when no other
manager owns them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from impl.apiserver.context import Context
from models.apiserver.schemas import Schema, SchemaSet

Json = dict[str, Any]
Path = tuple[str, ...]

_IGNORED_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


def _child(schema: Schema | None, key: str, schemas: SchemaSet) -> Schema | None:
    if schema is None:
        return None
    schema = schemas.resolve(schema)
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and key in properties:
        return schemas.resolve(properties[key])
    additional = schema.get("additionalProperties")
    return schemas.resolve(additional) if isinstance(additional, Mapping) else None


def leaves(
    value: Any, schema: Schema | None, schemas: SchemaSet, prefix: Path = ()
) -> dict[Path, Any]:
    """Every owned leaf path of ``value`` with its value (maps' and list items' own paths
    included as ``.`` members with value None)."""
    out: dict[Path, Any] = {}
    if isinstance(value, dict):
        resolved = schemas.resolve(schema) if schema is not None else None
        is_map = resolved is not None and isinstance(resolved.get("additionalProperties"), Mapping)
        if prefix and is_map:
            out[(*prefix, ".")] = None
        for key in sorted(value):
            if not prefix and key in ("apiVersion", "kind"):
                continue
            if prefix == ("f:metadata",) and key in _IGNORED_META:
                continue
            child = _child(schema, key, schemas)
            out.update(leaves(value[key], child, schemas, (*prefix, f"f:{key}")))
        if prefix and not value and not is_map:
            out[prefix] = {}
        return out
    if isinstance(value, list) and schema is not None:
        resolved = schemas.resolve(schema)
        list_type = resolved.get("x-kubernetes-list-type")
        items = schemas.resolve(resolved["items"]) if "items" in resolved else None
        keys = list(resolved.get("x-kubernetes-list-map-keys") or ())
        if list_type == "map" and keys:
            for item in value:
                if isinstance(item, dict):
                    ident = json.dumps(
                        {k: item.get(k) for k in keys if k in item},
                        separators=(",", ":"),
                        sort_keys=True,
                    )
                    step = (*prefix, f"k:{ident}")
                    out[(*step, ".")] = None
                    out.update(leaves(item, items, schemas, step))
            return out
        if list_type == "set":
            for item in value:
                out[(*prefix, f"v:{json.dumps(item, separators=(',', ':'))}")] = None
            return out
    out[prefix] = value
    return out


def to_fields_v1(paths: set[Path]) -> Json:
    tree: Json = {}
    for path in sorted(paths):
        node = tree
        for step in path:
            node = node.setdefault(step, {})
    return tree


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    if not isinstance(tree, dict) or not tree:
        return {prefix} if prefix else set()
    for step in tree:
        paths |= from_fields_v1(tree[step], (*prefix, step))
    return paths


def manager_name(ctx: Context) -> str:
    name = ctx.request.param("fieldManager")
    if name:
        return name
    return ctx.request.user_agent.split("/", 1)[0] or "unknown"


def _entries(obj: Json) -> list[Json]:
    meta = obj.get("metadata") or {}
    entries = meta.get("managedFields") if isinstance(meta, dict) else None
    return [dict(e) for e in entries or [] if isinstance(e, dict)]


def _entry(ctx: Context, manager: str, operation: str, paths: set[Path]) -> Json:
    entry: Json = {
        "manager": manager,
        "operation": operation,
        "apiVersion": ctx.resource.group_version,
        "time": ctx.entropy.now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }
    if ctx.field_subresource:
        entry["subresource"] = ctx.field_subresource
    return entry


def _store_entries(obj: Json, entries: list[Json]) -> None:
    meta = obj.setdefault("metadata", {})
    kept = [e for e in entries if e.get("fieldsV1")]
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def _same_owner(entry: Json, manager: str, operation: str, subresource: str) -> bool:
    return bool(
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and entry.get("subresource", "") == subresource
    )


def record_update(ctx: Context, old: Json | None, new: Json) -> None:
    """Give the request's manager (operation Update) the fields this write changed."""
    schema, schemas = ctx.root_schema(), ctx.schemas
    requested = (new.get("metadata") or {}).get("managedFields")
    if isinstance(requested, list) and requested == [{}]:
        new["metadata"].pop("managedFields", None)
        return
    new_leaves = leaves(new, schema, schemas)
    old_leaves = leaves(old, schema, schemas) if old is not None else {}
    changed = {
        path
        for path, value in new_leaves.items()
        if path not in old_leaves or old_leaves[path] != value
    }
    removed = set(old_leaves) - set(new_leaves)
    entries = _entries(old) if old is not None else []
    if not changed and not removed:
        _store_entries(new, entries)
        return
    manager, subresource = manager_name(ctx), ctx.field_subresource
    updated: list[Json] = []
    mine: set[Path] = set()
    for entry in entries:
        paths = from_fields_v1(entry.get("fieldsV1"))
        if _same_owner(entry, manager, "Update", subresource):
            mine = paths
            continue
        entry["fieldsV1"] = to_fields_v1((paths - changed) - removed)
        updated.append(entry)
    mine = (mine | changed) - removed
    updated.append(_entry(ctx, manager, "Update", {p for p in mine if p in new_leaves}))
    _store_entries(new, updated)


def _render(path: Path) -> str:
    text = ""
    for step in path:
        if step == ".":
            continue
        kind, _, rest = step.partition(":")
        if kind == "f":
            text += f".{rest}"
        elif kind == "k":
            keys = json.loads(rest)
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        else:
            text += f"[={rest}]"
    return text


class Conflict(msgspec.Struct, frozen=True, kw_only=True):
    """An applied field another manager owns with a different value."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    field: str

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.manager, self.operation, self.api_version, self.subresource)

    @property
    def owner(self) -> str:
        """The manager as kube prints it (``printManager``): ``"name"``, ``with subresource``,
        and for Update managers ``using <apiVersion>`` (the identifier carries no time)."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


def apply_conflicts(ctx: Context, live: Json, applied: Json, manager: str) -> list[Conflict]:
    """Every applied field another manager owns with a different value."""
    schema, schemas = ctx.root_schema(), ctx.schemas
    applied_leaves = leaves(applied, schema, schemas)
    live_leaves = leaves(live, schema, schemas)
    conflicts: list[Conflict] = []
    for entry in _entries(live):
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            continue
        owned = from_fields_v1(entry.get("fieldsV1"))
        for path in sorted(owned & set(applied_leaves)):
            if path[-1] == "." or live_leaves.get(path) == applied_leaves[path]:
                continue
            conflicts.append(
                Conflict(
                    manager=str(entry.get("manager")),
                    operation=str(entry.get("operation")),
                    api_version=str(entry.get("apiVersion", "")),
                    subresource=str(entry.get("subresource", "")),
                    field=_render(path),
                )
            )
    return conflicts


def record_apply(
    ctx: Context, live: Json | None, result: Json, applied: Json, manager: str, force: bool
) -> None:
    """The manager's Apply entry owns exactly the applied fields; forced fields leave others."""
    schema, schemas = ctx.root_schema(), ctx.schemas
    applied_paths = set(leaves(applied, schema, schemas))
    entries = _entries(live) if live is not None else []
    updated: list[Json] = []
    for entry in entries:
        if _same_owner(entry, manager, "Apply", ctx.field_subresource):
            continue
        paths = from_fields_v1(entry.get("fieldsV1"))
        if force:
            paths -= applied_paths
        entry["fieldsV1"] = to_fields_v1(paths)
        updated.append(entry)
    updated.append(_entry(ctx, manager, "Apply", applied_paths))
    _store_entries(result, updated)


def previously_applied(live: Json, manager: str, subresource: str) -> set[Path]:
    for entry in _entries(live):
        if _same_owner(entry, manager, "Apply", subresource):
            return from_fields_v1(entry.get("fieldsV1"))
    return set()


def owned_by_others(live: Json, manager: str) -> set[Path]:
    owned: set[Path] = set()
    for entry in _entries(live):
        if not (entry.get("manager") == manager and entry.get("operation") == "Apply"):
            owned |= from_fields_v1(entry.get("fieldsV1"))
    return owned
