"""etcd's watch guarantees, checked over recorded watch streams.

The guarantees are those of the etcd API guarantees page (v3.4, "Watch APIs") as etcd's
robustness tests check them (reference notes §3.3); the messages quote that page. The events a
watch should see come from a *replay*: the writes of the history applied in a linearization of
it (the order :func:`spec.linearizability_report.check_history` found), each write giving the
events of its revision. Events of one revision are compared as a set (sorted by key and type).

Checks per watch, in order: created (the first response says so), filter, ordered, unique,
atomic, bookmarkable, key-values (each event's kv, and the create flag, i.e. version 1 exactly
when the key did not exist before, match the replay), prev_kv, resumable, reliable, and
compaction (a cancel carries a compact revision above the start revision that some compaction
reached). The first failure of each guarantee per watch is reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import immutables
import msgspec

from models.etcd import (
    CompactionRequest,
    Event,
    KeyValue,
    WatchCreateRequest,
    range_end_covers,
)
from models.history import OperationRecord, WatchRecord
from spec.etcd.keyspace import EtcdState, Keys, apply

ORDERED = (
    "broke Ordered - events are ordered by revision; an event will never appear on a watch if "
    "it precedes an event in time that has already been posted"
)
UNIQUE = "broke Unique - an event will never appear on a watch twice"
ATOMIC = (
    "broke Atomic - a list of events is guaranteed to encompass complete revisions; updates in "
    "the same revision over multiple keys will not be split over several lists of events"
)
BOOKMARKABLE = (
    "broke Bookmarkable - Progress notification events guarantee that all events up to a "
    "revision have already been delivered"
)
RESUMABLE = (
    "broke Resumable - A broken watch can be resumed by establishing a new watch starting "
    "after the last revision received in a previous watch, so long as the revision is in the "
    "history window"
)
RELIABLE = (
    "broke Reliable - a sequence of events will never drop any subsequence of events; if there "
    "are events ordered in time as a < b < c, then if the watch receives events a and c, it is "
    "guaranteed to receive b"
)
FILTER = "broke Filter - every event matches the watch's key range and filters"
CREATED = "broke Created - the first response of a watch has created set"
KEY_VALUE = "broke IsCreate/KeyValue - an event's key-value is the one written at its revision"
PREV_KV = "broke PrevKV - an event's prev_kv is the key-value just before its revision"
COMPACTED = (
    "broke Compaction - a watch canceled for compaction carries the compaction revision, "
    "above its start revision"
)


class WatchProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One broken guarantee on one watch stream."""

    watch: int
    client_id: int
    guarantee: str
    message: str
    revision: int = 0


class Replay(msgspec.Struct, frozen=True, kw_only=True):
    """The history's writes, revision by revision."""

    events: immutables.Map[int, tuple[Event, ...]]
    keys_at: immutables.Map[int, Keys]
    last_revision: int
    compactions: frozenset[int]


def _sort_key(event: Event) -> tuple[bytes, str]:
    return (event.kv.key, event.type)


def replay(records: Sequence[OperationRecord], order: Sequence[int]) -> Replay:
    """Apply the operations at history indices ``order`` from an empty keyspace."""
    state = EtcdState()
    events: dict[int, tuple[Event, ...]] = {}
    keys_at: dict[int, Keys] = {1: state.keys}
    compactions: set[int] = set()
    for index in order:
        before = state
        _, state = apply(state, records[index].operation)
        if isinstance(records[index].operation, CompactionRequest) and (
            state.compact_revision != before.compact_revision
        ):
            compactions.add(state.compact_revision)
        if state.revision == before.revision:
            continue
        changed: list[Event] = []
        for key in sorted(set(before.keys) | set(state.keys)):
            old, new = before.keys.get(key), state.keys.get(key)
            if new is not None and new != old:
                changed.append(Event(type="PUT", kv=new, prev_kv=old))
            elif new is None and old is not None:
                gone = KeyValue(key=key, mod_revision=state.revision)
                changed.append(Event(type="DELETE", kv=gone, prev_kv=old))
        events[state.revision] = tuple(sorted(changed, key=_sort_key))
        keys_at[state.revision] = state.keys
    return Replay(
        events=immutables.Map(events),
        keys_at=immutables.Map(keys_at),
        last_revision=state.revision,
        compactions=frozenset(compactions),
    )


def _matches(request: WatchCreateRequest, event: Event) -> bool:
    if event.type == "PUT" and "NOPUT" in request.filters:
        return False
    if event.type == "DELETE" and "NODELETE" in request.filters:
        return False
    return range_end_covers(request.key, request.range_end, event.kv.key)


def _expected(
    history: Replay, request: WatchCreateRequest, first: int, last: int
) -> list[tuple[int, Event]]:
    return [
        (revision, event)
        for revision in range(max(first, 2), last + 1)
        for event in history.events.get(revision, ())
        if _matches(request, event)
    ]


def _stream_checks(watch: WatchRecord) -> list[tuple[str, int]]:
    """Guarantees that need only the stream: created, filter, ordered, unique, atomic,
    bookmarkable."""
    found: list[tuple[str, int]] = []
    first = watch.messages[0].response if watch.messages else None
    if watch.messages and (first is None or not first.created):
        found.append((CREATED, 0))
    last_revision = 0
    progress_revision = 0
    seen: set[tuple[int, bytes]] = set()
    for message in watch.messages:
        response = message.response
        if response is None:
            continue
        if message.is_progress_notify():
            revision = response.header.revision
            if revision < max(last_revision, progress_revision):
                found.append((BOOKMARKABLE, revision))
            progress_revision = max(progress_revision, revision)
            continue
        if response.events and response.events[0].kv.mod_revision == last_revision:
            found.append((ATOMIC, last_revision))
        for event in response.events:
            revision = event.kv.mod_revision
            if not _matches(watch.request, event):
                found.append((FILTER, revision))
            if revision < last_revision:
                found.append((ORDERED, revision))
            if (revision, event.kv.key) in seen:
                found.append((UNIQUE, revision))
            if revision <= progress_revision:
                found.append((BOOKMARKABLE, revision))
            seen.add((revision, event.kv.key))
            last_revision = max(last_revision, revision)
    return found


def _replay_checks(watch: WatchRecord, history: Replay) -> list[tuple[str, int]]:
    """Guarantees judged against the replay: key-values, prev_kv, resumable, reliable,
    compaction."""
    found: list[tuple[str, int]] = []
    request = watch.request
    responses = [response for _, response in watch.received()]
    received = [(event.kv.mod_revision, event) for r in responses for event in r.events]
    for revision, event in received:
        wanted = [
            item for item in history.events.get(revision, ()) if _sort_key(item) == _sort_key(event)
        ]
        if not wanted or wanted[0].kv != event.kv:
            found.append((KEY_VALUE, revision))
        elif request.prev_kv and event.prev_kv is not None and event.prev_kv != wanted[0].prev_kv:
            found.append((PREV_KV, revision))
    for response in responses:
        wrong_compaction = (
            response.compact_revision <= request.start_revision
            or response.compact_revision not in history.compactions
        )
        if response.canceled and response.compact_revision and wrong_compaction:
            found.append((COMPACTED, response.compact_revision))
    observed = [revision for revision, _ in received] + [
        message.response.header.revision
        for message in watch.messages
        if message.response is not None and message.is_progress_notify()
    ]
    if not observed:
        return found
    if request.start_revision > 0:
        first = request.start_revision
    else:
        first = received[0][0] if received else max(observed) + 1
    expected = _expected(history, request, first, max(observed))
    resumed = request.start_revision > 0 and expected and received
    if resumed:
        # Events of one revision form a set: etcd sends them in the txn's operation order.
        first_revision = expected[0][0]
        at_first = [event.kv for revision, event in expected if revision == first_revision]
        if received[0][0] != first_revision or received[0][1].kv not in at_first:
            found.append((RESUMABLE, received[0][0]))
    got = sorted(((revision, _sort_key(event)) for revision, event in received))
    want = sorted(((revision, _sort_key(event)) for revision, event in expected))
    if got != want:
        missing = sorted(set(want) - set(got))
        found.append((RELIABLE, missing[0][0] if missing else 0))
    return found


def check_watches(
    records: Sequence[OperationRecord], watches: Sequence[WatchRecord], order: Sequence[int]
) -> list[WatchProblem]:
    """Every watch's broken guarantees, given a linearization ``order`` of ``records``."""
    history = replay(records, order)
    problems: list[WatchProblem] = []
    for number, watch in enumerate(watches):
        reported: set[str] = set()
        for message, revision in _stream_checks(watch) + _replay_checks(watch, history):
            guarantee = message.split(" - ")[0].removeprefix("broke ")
            if guarantee in reported:
                continue
            reported.add(guarantee)
            problems.append(
                WatchProblem(
                    watch=number,
                    client_id=watch.client_id,
                    guarantee=guarantee,
                    message=message,
                    revision=revision,
                )
            )
    return problems
