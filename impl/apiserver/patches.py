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

A patch that cannot apply gives a ``PatchError`` value (kube answers 422 or 400 with its message).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import msgspec

from models.apiserver.schemas import Schema, SchemaSet


class PatchError(msgspec.Struct, frozen=True, kw_only=True):
    """A patch that does not apply to the object (its message is the answer's)."""

    message: str


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


def _pointer(path: str) -> list[str] | PatchError:
    if path == "":
        return []
    if not path.startswith("/"):
        return PatchError(message=f'the json pointer "{path}" must start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _missing(path: str) -> PatchError:
    return PatchError(message=f'doc is missing path: "{path}": missing value')


def _walk(doc: Any, parts: list[str], path: str) -> Any | PatchError:
    """The node at ``parts`` below ``doc``."""
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _missing(path)
    return node


def _index(node: list[Any], part: str, path: str, adding: bool) -> int | PatchError:
    if adding and part == "-":
        return len(node)
    if not part.isdigit():
        return PatchError(message=f'invalid index in path "{path}"')
    index = int(part)
    if index > len(node) or (not adding and index == len(node)):
        return PatchError(message=f"unable to access invalid index: {index}")
    return index


def _get(doc: Any, path: str) -> Any | PatchError:
    parts = _pointer(path)
    return parts if isinstance(parts, PatchError) else _walk(doc, parts, path)


def _add(doc: Any, path: str, value: Any) -> Any | PatchError:
    parts = _pointer(path)
    if isinstance(parts, PatchError):
        return parts
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
        return doc
    if isinstance(parent, list):
        index = _index(parent, last, path, adding=True)
        if isinstance(index, PatchError):
            return index
        parent.insert(index, value)
        return doc
    return parent if isinstance(parent, PatchError) else _missing(path)


def _remove(doc: Any, path: str) -> Any | PatchError:
    parts = _pointer(path)
    if isinstance(parts, PatchError):
        return parts
    if not parts:
        return PatchError(message="cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return doc
    if isinstance(parent, list):
        index = _index(parent, last, path, adding=False)
        if isinstance(index, PatchError):
            return index
        del parent[index]
        return doc
    if isinstance(parent, PatchError):
        return parent
    return PatchError(message=f"Unable to remove nonexistent key: {last}: missing value")


def _replace(doc: Any, path: str, value: Any) -> Any | PatchError:
    found = _get(doc, path)
    if isinstance(found, PatchError):
        return found
    if path == "":
        return value
    removed = _remove(doc, path)
    return removed if isinstance(removed, PatchError) else _add(removed, path, value)


def _move_or_copy(doc: Any, op: str, raw: dict[str, Any], path: str) -> Any | PatchError:
    source = raw.get("from")
    if not isinstance(source, str):
        return PatchError(message=f'JSON Patch operation "{op}" is missing from')
    value = _get(doc, source)
    if isinstance(value, PatchError):
        return value
    value = copy.deepcopy(value)
    if op == "move":
        doc = _remove(doc, source)
        if isinstance(doc, PatchError):
            return doc
    return _add(doc, path, value)


def _operation(doc: Any, raw: object) -> Any | PatchError:
    if not isinstance(raw, dict):
        return PatchError(message="invalid JSON Patch operation")
    op, path = raw.get("op"), raw.get("path")
    if not isinstance(path, str):
        return PatchError(message=f'JSON Patch operation "{op}" is missing a path')
    match op:
        case "add":
            return _add(doc, path, copy.deepcopy(raw.get("value")))
        case "remove":
            return _remove(doc, path)
        case "replace":
            return _replace(doc, path, copy.deepcopy(raw.get("value")))
        case "move" | "copy":
            return _move_or_copy(doc, op, raw, path)
        case "test":
            found = _get(doc, path)
            if isinstance(found, PatchError):
                return found
            if found != raw.get("value"):
                return PatchError(message=f"testing value {path} failed: test failed")
            return doc
        case _:
            return PatchError(message=f"Unexpected kind: {op}")


def json_patch(target: Any, operations: Any) -> Any | PatchError:
    """RFC 6902: each operation in order; any failure fails the whole patch."""
    if not isinstance(operations, list):
        return PatchError(
            message="json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    doc = copy.deepcopy(target)
    for raw in operations:
        doc = _operation(doc, raw)
        if isinstance(doc, PatchError):
            return doc
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


def strategic_merge(
    original: Any, patch: Any, schema: Schema | None, schemas: SchemaSet
) -> Any | PatchError:
    """Apply a strategic merge patch to ``original`` (both plain JSON)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _merge_map(original if isinstance(original, dict) else {}, patch, schema, schemas)


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], schema: Schema | None, schemas: SchemaSet
) -> Any | PatchError:
    """The merged map, None when the patch says ``$patch: delete``."""
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        return PatchError(message=f"Unknown patch type: {directive}")
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
        if isinstance(merged, PatchError):
            return merged
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


def _merge_value(
    original: Any, patch: Any, schema: Schema | None, schemas: SchemaSet
) -> Any | PatchError:
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
) -> list[Any] | PatchError:
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
            return PatchError(
                message="merging an object in json but data type is not map, is "
                + type(item).__name__
            )
        if key not in item:
            return PatchError(message=f"map: {item} does not contain declared merge key: {key}")
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
        merged = _merge_map(
            {} if position is None else result[position], item, items_schema, schemas
        )
        if isinstance(merged, PatchError):
            return merged
        if position is None:
            result.append(merged)
        else:
            result[position] = merged
    return result


def _reorder(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """``$setElementOrder``: the listed elements in the given order, the others after them."""

    def identity(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ranked = [item for want in wanted for item in items if identity(item) == want]
    rest = [item for item in items if identity(item) not in wanted]
    return ranked + rest
