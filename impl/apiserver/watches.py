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
from impl.apiserver.catalog import CustomResource
from impl.apiserver.objects import decode, encode
from impl.apiserver.reads import Filter
from impl.apiserver.tables import build_table
from models.apiserver.messages import SendWatch
from models.apiserver.resources import Resource
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
    table: Printing | None = None
    """Set when the client asked for Tables (``kubectl get -w``): each event's object is then a
    one-row Table, the first with its column definitions, the others without (kube's
    ``watchEmbeddedEncoder`` sets NoHeaders after the first event)."""
    headers_sent: bool = False


class Printing(msgspec.Struct, frozen=True, kw_only=True):
    """What a Table watch needs to print rows: the resource and a custom resource's columns."""

    resource: Resource
    custom: CustomResource | None = None


def event_line(kind: str, value: bytes) -> bytes:
    """``{"type":KIND,"object":VALUE}`` and a newline."""
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


def _object(watcher: Watcher, value: bytes, now: int, first: bool) -> bytes:
    if watcher.table is None:
        return value
    obj = decode(value)
    revision = str((obj.get("metadata") or {}).get("resourceVersion", ""))
    table = build_table(watcher.table.resource, watcher.table.custom, now, [obj], revision)
    if not first:
        table["columnDefinitions"] = None
    return encode(table)


def line_for(watcher: Watcher, change: Change, now: int, first: bool) -> bytes | None:
    """The line ``change`` gives ``watcher``, or None when it does not concern it."""
    if change.revision <= watcher.start_revision or not change.key.startswith(watcher.prefix):
        return None
    after = change.type != "DELETED" and _passes(watcher, change.value)
    before = bool(change.previous) and _passes(watcher, change.previous)
    if change.type == "DELETED":
        kind = "DELETED" if before else ""
    else:
        kind = "MODIFIED" if after and before else "ADDED" if after else "DELETED" if before else ""
    if not kind:
        return None
    return event_line(kind, _object(watcher, change.value, now, first))


def initial_lines(watcher: Watcher, cache: WatchCache, now: int) -> list[bytes]:
    """Synthetic ADDED events for the current objects of the selection (RV unset or "0")."""
    lines: list[bytes] = []
    for key in sorted(k for k in cache.objects if k.startswith(watcher.prefix)):
        value = cache.objects[key].value
        if _passes(watcher, value):
            first = not lines and not watcher.headers_sent
            lines.append(event_line("ADDED", _object(watcher, value, now, first)))
    return lines


def fan_out(
    watchers: list[Watcher], changes: tuple[Change, ...], now: int
) -> tuple[list[SendWatch], list[Watcher]]:
    """The lines ``changes`` give ``watchers``, and the watchers whose state moved (a Table
    watch that has now sent its column definitions)."""
    sends: list[SendWatch] = []
    sent: set[int] = {w.watch_id for w in watchers if w.headers_sent}
    for change in changes:
        for watcher in watchers:
            line = line_for(watcher, change, now, watcher.watch_id not in sent)
            if line is not None:
                sends.append(SendWatch(watch_id=watcher.watch_id, line=line))
                sent.add(watcher.watch_id)
    moved = [
        msgspec.structs.replace(w, headers_sent=True)
        for w in watchers
        if w.table is not None and not w.headers_sent and w.watch_id in sent
    ]
    return sends, moved
