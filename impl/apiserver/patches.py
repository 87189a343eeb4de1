"""The three patch formats kubectl sends, applied to an object as JSON.

- JSON Patch (RFC 6902, ``application/json-patch+json``): add, remove, replace, move, copy,
  test, with JSON Pointers (RFC 6901).
- JSON Merge Patch (RFC 7386, ``application/merge-patch+json``): objects merge, ``null``
  deletes, everything else (lists included) replaces.
- Strategic Merge Patch (``application/strategic-merge-patch+json``): like a merge patch, but
  lists whose schema says ``x-kubernetes-patch-strategy: merge`` merge element by element
  (by ``x-kubernetes-patch-merge-key``, or as a set for primitives), with the directives
  ``$patch: replace|delete|merge``, ``$retainKeys``, ``$setElementOrder/<list>`` and
  ``$deleteFromPrimitiveList/<list>``.

A patch that cannot apply is a ``PatchError`` (kube answers 422 or 400 with its message).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from models.apiserver.schemas import Schema, SchemaSet


class PatchError(Exception):
    """A patch that does not apply to the object (its message is the answer's)."""


# JSON Merge Patch ----------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# JSON Patch ----------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'the json pointer "{path}" must start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f'doc is missing path: "{path}": missing value')
    return node


def _index(node: list[Any], part: str, path: str, adding: bool) -> int:
    if adding and part == "-":
        return len(node)
    if not part.isdigit():
        raise PatchError(f'invalid index in path "{path}"')
    index = int(part)
    if index > len(node) or (not adding and index == len(node)):
        raise PatchError(f"unable to access invalid index: {index}")
    return index


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in _pointer(path):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f'doc is missing path: "{path}": missing value')
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, adding=True), value)
    else:
        raise PatchError(f'doc is missing path: "{path}": missing value')
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, path, adding=False)]
    else:
        raise PatchError(f"Unable to remove nonexistent key: {last}: missing value")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: each operation in order; any failure fails the whole patch."""
    if not isinstance(operations, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for raw in operations:
        if not isinstance(raw, dict):
            raise PatchError("invalid JSON Patch operation")
        op, path = raw.get("op"), raw.get("path")
        if not isinstance(path, str):
            raise PatchError(f'JSON Patch operation "{op}" is missing a path')
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(raw.get("value")))
        elif op == "remove":
            doc = _remove(doc, path)
        elif op == "replace":
            _get(doc, path)
            doc = (
                _add(_remove(doc, path), path, copy.deepcopy(raw.get("value")))
                if _pointer(path)
                else copy.deepcopy(raw.get("value"))
            )
        elif op in ("move", "copy"):
            source = raw.get("from")
            if not isinstance(source, str):
                raise PatchError(f'JSON Patch operation "{op}" is missing from')
            value = copy.deepcopy(_get(doc, source))
            if op == "move":
                doc = _remove(doc, source)
            doc = _add(doc, path, value)
        elif op == "test":
            if _get(doc, path) != raw.get("value"):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {op}")
    return doc


# Strategic Merge Patch -----------------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def _child_schema(schema: Schema | None, key: str, schemas: SchemaSet) -> Schema | None:
    if schema is None:
        return None
    schema = schemas.resolve(schema)
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and key in properties:
        return schemas.resolve(properties[key])
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        return schemas.resolve(additional)
    return None


def _strategy(schema: Schema | None) -> tuple[bool, str]:
    """(merge the list?, its merge key)."""
    if schema is None:
        return False, ""
    strategy = str(schema.get("x-kubernetes-patch-strategy", ""))
    return "merge" in strategy.split(","), str(schema.get("x-kubernetes-patch-merge-key", ""))


def strategic_merge(original: Any, patch: Any, schema: Schema | None, schemas: SchemaSet) -> Any:
    """Apply a strategic merge patch to ``original`` (both plain JSON)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _merge_map(original if isinstance(original, dict) else {}, patch, schema, schemas)


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], schema: Schema | None, schemas: SchemaSet
) -> Any:
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}")
    result = dict(original)
    orders: dict[str, Any] = {}
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN):
            continue
        if key.startswith(_ORDER):
            orders[key[len(_ORDER) :]] = value
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            name = key[len(_DELETE_PRIMITIVE) :]
            current = result.get(name)
            if isinstance(current, list) and isinstance(value, list):
                result[name] = [item for item in current if item not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        child = _child_schema(schema, key, schemas)
        merged = _merge_value(result.get(key), value, child, schemas)
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged
    retain = patch.get(_RETAIN)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for name, order in orders.items():
        child = _child_schema(schema, name, schemas)
        if isinstance(result.get(name), list) and isinstance(order, list):
            result[name] = _reorder(result[name], order, _strategy(child)[1])
    return result


def _merge_value(original: Any, patch: Any, schema: Schema | None, schemas: SchemaSet) -> Any:
    if isinstance(patch, dict):
        if schema is not None and schema.get("x-kubernetes-map-type") == "atomic":
            return copy.deepcopy(patch)
        return _merge_map(original if isinstance(original, dict) else {}, patch, schema, schemas)
    if isinstance(patch, list):
        merge, key = _strategy(schema)
        if merge and isinstance(original, list):
            return _merge_list(original, patch, key, schema, schemas)
        return [
            item
            for item in copy.deepcopy(patch)
            if not (isinstance(item, dict) and item.get(_DIRECTIVE) == "delete")
        ]
    return copy.deepcopy(patch)


def _merge_list(
    original: list[Any], patch: list[Any], key: str, schema: Schema | None, schemas: SchemaSet
) -> list[Any]:
    if any(isinstance(item, dict) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return [
            item
            for item in copy.deepcopy(patch)
            if not (isinstance(item, dict) and _DIRECTIVE in item)
        ]
    if not key:
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    items_schema = (
        schemas.resolve(schema["items"]) if schema is not None and "items" in schema else None
    )
    result = [copy.deepcopy(item) for item in original]
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(
                f"merging an object in json but data type is not map, is {type(item).__name__}"
            )
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        position = next(
            (
                i
                for i, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(key) == item[key]
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if position is not None:
                del result[position]
            continue
        if position is None:
            result.append(_merge_map({}, item, items_schema, schemas))
        else:
            result[position] = _merge_map(result[position], item, items_schema, schemas)
    return result


def _reorder(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """``$setElementOrder``: the listed elements in the given order, the others after them."""

    def identity(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ranked = [item for want in wanted for item in items if identity(item) == want]
    rest = [item for item in items if identity(item) not in wanted]
    return ranked + rest
