"""An informer's store: the objects of each watched resource, by namespace and name.

Theory of operation. A controller's cache is what its informers have seen: every object of
each watched resource, decoded to its ``models.k8s`` type (or ``MetadataOnly``), indexed by
namespace (cluster-scoped objects sit under the empty namespace) and name, as client-go's
indexer with its namespace index. ``apply`` folds one watch event in and returns the object it
replaced, so that handlers can compare old and new; ``replace`` is a relist: the changes it
implies (adds, updates, deletions of objects the list no longer holds) come back in key order.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any, Final, Literal

import immutables
import msgspec

from models.controllers.messages import ChangeType
from models.controllers.resources import RESOURCES, MetadataOnly, Resource
from models.k8s.base import decode_hook

Objects = immutables.Map[str, Any]
"""Objects of one namespace by name."""


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One change a handler sees: ``old`` is None for an add, ``new`` None for a delete."""

    resource: str
    change: ChangeType
    old: Any = None
    new: Any = None

    @property
    def current(self) -> Any:
        """The object as it is now, or as it was last seen for a delete."""
        return self.new if self.new is not None else self.old


class Cache(msgspec.Struct, frozen=True, kw_only=True):
    """Objects by resource, then namespace, then name; ``listed`` once a resource's first list
    arrived (client-go's ``HasSynced``)."""

    stores: immutables.Map[str, immutables.Map[str, Objects]] = msgspec.field(
        default_factory=immutables.Map
    )
    listed: frozenset[str] = frozenset()


_DECODERS: Final = MappingProxyType(
    {
        model: msgspec.json.Decoder(model, dec_hook=decode_hook)
        for model in {resource.model for resource in RESOURCES.values()} | {MetadataOnly}
    }
)
"""One stateless decoder per object type, made once."""


def decode(resource: Resource, raw: bytes, metadata_only: bool) -> Any | None:
    """The object ``raw`` holds, decoded for ``resource``; None when it does not decode."""
    model: type[Any] = MetadataOnly if metadata_only else resource.model
    try:
        obj = _DECODERS[model].decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    if metadata_only and not obj.kind:
        # List items carry no type meta; a metadata informer knows its resource's kind.
        obj = msgspec.structs.replace(obj, api_version=resource.api_version, kind=resource.kind)
    return obj


def namespace_of(obj: Any) -> str:
    return (obj.metadata.namespace or "") if obj.metadata is not None else ""


def name_of(obj: Any) -> str:
    return (obj.metadata.name or "") if obj.metadata is not None else ""


def key_of(obj: Any) -> str:
    """client-go's ``MetaNamespaceKeyFunc``: ``namespace/name``, or ``name`` when cluster-scoped."""
    namespace = namespace_of(obj)
    return f"{namespace}/{name_of(obj)}" if namespace else name_of(obj)


def split_key(key: str) -> tuple[str, str]:
    """``(namespace, name)`` of a key."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def get(cache: Cache, resource: str, namespace: str, name: str) -> Any | None:
    store = cache.stores.get(resource)
    if store is None:
        return None
    objects = store.get(namespace)
    return objects.get(name) if objects is not None else None


def in_namespace(cache: Cache, resource: str, namespace: str) -> list[Any]:
    """The objects of one namespace, by name."""
    objects = cache.stores.get(resource, immutables.Map()).get(namespace)
    if objects is None:
        return []
    return [objects[name] for name in sorted(objects.keys())]


def every(cache: Cache, resource: str) -> Iterator[Any]:
    """Every object of a resource, by namespace then name."""
    store = cache.stores.get(resource, immutables.Map())
    for namespace in sorted(store.keys()):
        objects = store[namespace]
        for name in sorted(objects.keys()):
            yield objects[name]


def count(cache: Cache, resource: str) -> int:
    return sum(len(objects) for objects in cache.stores.get(resource, immutables.Map()).values())


def apply(cache: Cache, resource: str, change: ChangeType, obj: Any) -> tuple[Cache, Any | None]:
    """The cache after one watch event, and the object it replaced (None if none)."""
    store = cache.stores.get(resource, immutables.Map())
    namespace, name = namespace_of(obj), name_of(obj)
    objects = store.get(namespace, immutables.Map())
    old = objects.get(name)
    if change == "DELETED":
        if old is None:
            return cache, None
        objects = objects.delete(name)
        store = store.set(namespace, objects) if len(objects) else store.delete(namespace)
    else:
        store = store.set(namespace, objects.set(name, obj))
    return msgspec.structs.replace(cache, stores=cache.stores.set(resource, store)), old


def replace(cache: Cache, resource: str, objects: list[Any]) -> tuple[Cache, list[Change]]:
    """The cache after a relist of ``resource``, and the changes it implies in key order."""
    fresh: dict[str, Any] = {key_of(obj): obj for obj in objects}
    changes: list[Change] = []
    known = {key_of(obj): obj for obj in every(cache, resource)}
    for key in sorted(set(fresh) | set(known)):
        old, new = known.get(key), fresh.get(key)
        kind: Literal["ADDED", "MODIFIED", "DELETED"]
        if old is None:
            kind = "ADDED"
        elif new is None:
            kind = "DELETED"
        elif old == new:
            continue
        else:
            kind = "MODIFIED"
        changes.append(Change(resource=resource, change=kind, old=old, new=new))
    store: immutables.Map[str, Objects] = immutables.Map()
    with store.mutate() as building:
        for obj in objects:
            namespace = namespace_of(obj)
            building[namespace] = building.get(namespace, immutables.Map()).set(name_of(obj), obj)
        store = building.finish()
    stores = cache.stores.set(resource, store)
    return Cache(stores=stores, listed=cache.listed | {resource}), changes
