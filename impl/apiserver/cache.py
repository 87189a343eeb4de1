"""The watch cache: the latest state of every object under ``/registry/`` and a bounded window
of recent changes, fed by the store's watch, from which watches are served.

Theory of operation. ``load`` fills the cache from a range over ``/registry/`` at revision R;
``apply`` takes the store's events in revision order. Each change is kept as a ``Change``
holding the object as the API returns it (``resourceVersion`` set), so a watch line is built
once per change whatever the number of watchers. The window keeps the last ``capacity``
revisions: a watch may start from any revision at or after ``window_start``; older ones get
410 Expired ``too old resource version: <rv> (<window_start>)``, as kube's watch cache words it.
"""

from __future__ import annotations

from typing import Literal

import immutables
import msgspec

from impl.apiserver.objects import decode, encode, metadata
from models.etcd import Event, KeyValue

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]


class CachedObject(msgspec.Struct, frozen=True, kw_only=True):
    """An object as the API returns it (resourceVersion set) and its etcd revisions."""

    value: bytes
    mod_revision: int
    create_revision: int


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One change: the new object (or, for DELETED, the last one at the deletion revision) and
    the object before it (to tell a selector's watcher when an object enters or leaves)."""

    revision: int
    type: ChangeType
    key: str
    value: bytes
    previous: bytes = b""


class WatchCache(msgspec.Struct, frozen=True, kw_only=True):
    revision: int = 0
    loaded: bool = False
    window_start: int = 0
    capacity: int = 1000
    objects: immutables.Map[str, CachedObject] = msgspec.field(default_factory=immutables.Map)
    changes: immutables.Map[int, tuple[Change, ...]] = msgspec.field(default_factory=immutables.Map)


def _with_rv(value: bytes, revision: int) -> bytes:
    obj = decode(value)
    if not isinstance(obj, dict):
        return value
    metadata(obj)["resourceVersion"] = str(revision)
    return encode(obj)


def load(cache: WatchCache, kvs: tuple[KeyValue, ...], revision: int) -> WatchCache:
    """The cache as a fresh list at ``revision`` (the window starts empty there)."""
    objects = {
        kv.key.decode(): CachedObject(
            value=_with_rv(kv.value, kv.mod_revision),
            mod_revision=kv.mod_revision,
            create_revision=kv.create_revision,
        )
        for kv in kvs
    }
    return WatchCache(
        revision=revision,
        loaded=True,
        window_start=revision,
        capacity=cache.capacity,
        objects=immutables.Map(objects),
    )


def apply(
    cache: WatchCache, events: tuple[Event, ...], revision: int
) -> tuple[WatchCache, tuple[Change, ...]]:
    """The cache after the store's ``events`` (ignoring any already applied), and the changes."""
    objects = cache.objects.mutate()
    changes: list[Change] = []
    for event in events:
        event_revision = event.kv.mod_revision
        if event_revision <= cache.revision:
            continue
        key = event.kv.key.decode()
        old = objects.get(key)
        if event.type == "PUT":
            value = _with_rv(event.kv.value, event_revision)
            objects[key] = CachedObject(
                value=value, mod_revision=event_revision, create_revision=event.kv.create_revision
            )
            kind: ChangeType = "ADDED" if old is None else "MODIFIED"
            changes.append(
                Change(
                    revision=event_revision,
                    type=kind,
                    key=key,
                    value=value,
                    previous=old.value if old else b"",
                )
            )
        elif old is not None:
            del objects[key]
            last = _with_rv(old.value, event_revision)
            changes.append(
                Change(
                    revision=event_revision, type="DELETED", key=key, value=last, previous=old.value
                )
            )
    new_revision = max(cache.revision, revision, *(change.revision for change in changes))
    window = cache.changes.mutate()
    for change in changes:
        window[change.revision] = (*window.get(change.revision, ()), change)
    window_start = cache.window_start
    while len(window) > cache.capacity:
        window_start += 1
        if window_start in window:
            del window[window_start]
    updated = WatchCache(
        revision=new_revision,
        loaded=True,
        window_start=window_start,
        capacity=cache.capacity,
        objects=objects.finish(),
        changes=window.finish(),
    )
    return updated, tuple(changes)


def changes_since(cache: WatchCache, revision: int, prefix: str) -> tuple[Change, ...] | None:
    """Every retained change after ``revision`` under ``prefix``, or None when too old."""
    if revision < cache.window_start:
        return None
    found: list[Change] = []
    for change_revision in range(revision + 1, cache.revision + 1):
        for change in cache.changes.get(change_revision, ()):
            if change.key.startswith(prefix):
                found.append(change)
    return tuple(found)


def objects_under(cache: WatchCache, prefix: str) -> list[tuple[str, CachedObject]]:
    """The cached objects under ``prefix``, in key order."""
    return sorted((key, value) for key, value in cache.objects.items() if key.startswith(prefix))
