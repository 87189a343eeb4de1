"""Watch streams as pure state: creation, event delivery, progress, cancellation.

Theory of operation. A watch stream holds watchers, each with the next revision it still has to
deliver. :func:`deliver` walks each watcher from that revision up to the store's revision over the
events stored per revision, keeping those in its range that its filters let through, and emits
them in one response per watcher, never splitting a revision across responses (Atomic) and
capping a response at ``max_events`` (only at a revision boundary). A watcher whose next revision
has been compacted is cancelled with ``compact_revision`` set, as etcd does. Progress answers
(``watch_id`` -1) are only produced after delivery, so they never overtake events.
"""

from __future__ import annotations

import immutables
import msgspec

from impl.etcd.store import EtcdState
from models.etcd import (
    Event,
    ResponseHeader,
    WatchCreateRequest,
    WatchFilter,
    WatchResponse,
    range_end_covers,
)

PROGRESS_WATCH_ID = -1
DEFAULT_MAX_EVENTS_PER_RESPONSE = 1000


class Watcher(msgspec.Struct, frozen=True, kw_only=True):
    """One watch: its range, filters, and the next revision it must deliver."""

    watch_id: int
    key: bytes
    range_end: bytes
    next_revision: int
    filters: frozenset[WatchFilter]
    prev_kv: bool
    progress_notify: bool


class WatchStream(msgspec.Struct, frozen=True, kw_only=True):
    """The watchers multiplexed on one stream, and the next watch ID to hand out."""

    watchers: immutables.Map[int, Watcher] = msgspec.field(default_factory=immutables.Map)
    next_watch_id: int = 0


def _header(state: EtcdState) -> ResponseHeader:
    return ResponseHeader(revision=state.revision)


def on_create(
    state: EtcdState, stream: WatchStream, request: WatchCreateRequest
) -> tuple[WatchStream, tuple[WatchResponse, ...]]:
    """Add a watcher; start revision 0 means the next revision; then deliver what is pending."""
    watch_id = request.watch_id if request.watch_id > 0 else stream.next_watch_id
    if watch_id in stream.watchers:
        return stream, (
            WatchResponse(
                header=_header(state),
                watch_id=watch_id,
                created=True,
                canceled=True,
                cancel_reason="etcdserver: watch_id already exists",
            ),
        )
    start_revision = request.start_revision if request.start_revision != 0 else state.revision + 1
    watcher = Watcher(
        watch_id=watch_id,
        key=request.key,
        range_end=request.range_end,
        next_revision=start_revision,
        filters=frozenset(request.filters),
        prev_kv=request.prev_kv,
        progress_notify=request.progress_notify,
    )
    stream = WatchStream(
        watchers=stream.watchers.set(watch_id, watcher),
        next_watch_id=max(stream.next_watch_id, watch_id + 1),
    )
    created = WatchResponse(header=_header(state), watch_id=watch_id, created=True)
    stream, pending = deliver(state, stream)
    return stream, (created, *pending)


def on_cancel(
    state: EtcdState, stream: WatchStream, watch_id: int
) -> tuple[WatchStream, tuple[WatchResponse, ...]]:
    """Remove a watcher; an unknown ID gets no answer (as etcd)."""
    if watch_id not in stream.watchers:
        return stream, ()
    cancelled = WatchResponse(header=_header(state), watch_id=watch_id, canceled=True)
    return msgspec.structs.replace(stream, watchers=stream.watchers.delete(watch_id)), (cancelled,)


def on_progress_request(
    state: EtcdState, stream: WatchStream
) -> tuple[WatchStream, tuple[WatchResponse, ...]]:
    """Deliver what is pending, then say every watcher is synced up to the store revision."""
    stream, pending = deliver(state, stream)
    progress = WatchResponse(header=_header(state), watch_id=PROGRESS_WATCH_ID)
    return stream, (*pending, progress)


def progress_notifications(state: EtcdState, stream: WatchStream) -> tuple[WatchResponse, ...]:
    """Periodic progress notifications for synced watchers that asked for them.

    A watcher whose start revision is still in the future gets none (etcd 3.4.38, issue
    #20221: a notification below the start revision says nothing true about the watch).
    """
    return tuple(
        WatchResponse(header=_header(state), watch_id=watch_id)
        for watch_id in sorted(stream.watchers.keys())
        if stream.watchers[watch_id].progress_notify
        and stream.watchers[watch_id].next_revision == state.revision + 1
    )


def _matches(watcher: Watcher, event: Event) -> bool:
    if not range_end_covers(watcher.key, watcher.range_end, event.kv.key):
        return False
    if event.type == "PUT":
        return "NOPUT" not in watcher.filters
    return "NODELETE" not in watcher.filters


def _pending_events(
    state: EtcdState, watcher: Watcher, max_events: int
) -> tuple[tuple[Event, ...], int]:
    """Matching events from ``next_revision`` on, and the revision to continue from."""
    events: list[Event] = []
    revision = watcher.next_revision
    while revision <= state.revision and len(events) < max_events:
        for event in state.events.get(revision, ()):
            if _matches(watcher, event):
                events.append(
                    event if watcher.prev_kv else msgspec.structs.replace(event, prev_kv=None)
                )
        revision += 1
    return tuple(events), revision


def deliver(
    state: EtcdState,
    stream: WatchStream,
    max_events: int = DEFAULT_MAX_EVENTS_PER_RESPONSE,
) -> tuple[WatchStream, tuple[WatchResponse, ...]]:
    """Every watcher's pending events (or its cancellation by compaction), one response each."""
    responses: list[WatchResponse] = []
    watchers = stream.watchers
    for watch_id in sorted(stream.watchers.keys()):
        watcher = stream.watchers[watch_id]
        if watcher.next_revision > state.revision:
            continue
        if watcher.next_revision < state.compact_revision or watcher.next_revision < 0:
            responses.append(
                WatchResponse(
                    header=ResponseHeader(),
                    watch_id=watch_id,
                    canceled=True,
                    compact_revision=max(state.compact_revision, 0),
                )
            )
            watchers = watchers.delete(watch_id)
            continue
        events, next_revision = _pending_events(state, watcher, max_events)
        watchers = watchers.set(
            watch_id, msgspec.structs.replace(watcher, next_revision=next_revision)
        )
        if events:
            responses.append(WatchResponse(header=_header(state), watch_id=watch_id, events=events))
    return msgspec.structs.replace(stream, watchers=watchers), tuple(responses)
