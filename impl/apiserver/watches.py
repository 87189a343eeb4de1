"""Watch streams: their registration, initial events, and fan-out of cache changes.

A watcher sees a change when the object (before or after) is in its collection and passes its
selectors: entering the selection reads as ADDED, leaving it as DELETED, as kube's
``cacheWatcher`` converts them. Events go out in revision order, each with the object's
resourceVersion; a watcher that asked for ``allowWatchBookmarks`` gets BOOKMARK events carrying
the cache's revision on ticks.
"""

from __future__ import annotations

import msgspec

from impl.apiserver.cache import Change, WatchCache
from impl.apiserver.objects import decode, encode
from impl.apiserver.reads import Filter
from models.apiserver.messages import SendWatch
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status


class Watcher(msgspec.Struct, frozen=True, kw_only=True):
    watch_id: int
    prefix: str
    filter: Filter
    kind: str
    api_version: str
    start_revision: int
    bookmarks: bool = False
    deadline_seconds: int = 0
    bookmarked_revision: int = 0
    next_bookmark_seconds: int = 0


def event_line(kind: str, value: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + value + b"}\n"


def error_line(status: Status) -> bytes:
    return event_line("ERROR", encode_json(status))


def bookmark_line(watcher: Watcher, revision: int) -> bytes:
    body = {
        "kind": watcher.kind,
        "apiVersion": watcher.api_version,
        "metadata": {"resourceVersion": str(revision)},
    }
    return event_line("BOOKMARK", encode(body))


def _passes(watcher: Watcher, value: bytes) -> bool:
    if not value:
        return False
    if not watcher.filter.labels.requirements and not watcher.filter.fields.terms:
        return True
    obj = decode(value)
    return isinstance(obj, dict) and watcher.filter.matches(obj)


def line_for(watcher: Watcher, change: Change) -> bytes | None:
    """The line ``change`` gives ``watcher``, or None when it does not concern it."""
    if change.revision <= watcher.start_revision or not change.key.startswith(watcher.prefix):
        return None
    now = change.type != "DELETED" and _passes(watcher, change.value)
    before = bool(change.previous) and _passes(watcher, change.previous)
    if change.type == "DELETED":
        return event_line("DELETED", change.value) if before else None
    if now and before:
        return event_line("MODIFIED", change.value)
    if now:
        return event_line("ADDED", change.value)
    if before:
        return event_line("DELETED", change.value)
    return None


def initial_lines(watcher: Watcher, cache: WatchCache) -> list[bytes]:
    """Synthetic ADDED events for the current objects of the selection (RV unset or "0")."""
    lines = []
    for key in sorted(k for k in cache.objects if k.startswith(watcher.prefix)):
        value = cache.objects[key].value
        if _passes(watcher, value):
            lines.append(event_line("ADDED", value))
    return lines


def fan_out(watchers: list[Watcher], changes: tuple[Change, ...]) -> list[SendWatch]:
    sends: list[SendWatch] = []
    for change in changes:
        for watcher in watchers:
            line = line_for(watcher, change)
            if line is not None:
                sends.append(SendWatch(watch_id=watcher.watch_id, line=line))
    return sends
