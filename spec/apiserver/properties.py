"""The API server's invariants as named properties over a recorded client history
(``models.apiserver.history``), each safety property with a ``sometimes`` companion showing the
run exercised what it guards.

- ``write_versions_increase``: every successful write gets its own resourceVersion, and one that
  returned before another began has the smaller one (api-concepts: resourceVersion is the
  store's revision, which every write moves).
- ``no_lost_update``: an update conditioned on a resourceVersion succeeds only once for it and
  only on a version a write made (optimistic concurrency: a stale resourceVersion is 409).
- ``watch_ordered_gap_free``: a watch delivers, in increasing resourceVersion order, exactly the
  changes after its start, none missing up to the last one it delivered.
- ``list_consistent``: a list at revision R shows each object as its last write at or before R
  left it.
- ``finalizer_blocks_deletion``: an object whose delete was answered with a deletionTimestamp
  (a finalizer holds it) is still readable until a later write releases it.
- ``uid_stable``: every observation of an object between its create and its delete shows the
  create's uid.

Writes whose outcome is unknown (no answer, a 5xx) are excused: they may or may not appear. A
delete's own revision is never returned to the client, so deletes are conditioned on the
resourceVersion they remove (DeleteOptions preconditions) and placed in revision order by time:
a delete that returned before a write began has the smaller revision.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Final

from models.apiserver.history import ApiHistory, ApiOperation, Seen, WatchStream
from spec.property import Violation

EXPECTED_EVENT: Final = {"create": "ADDED", "update": "MODIFIED", "delete": "DELETED"}


def _writes(history: ApiHistory) -> list[ApiOperation]:
    return [op for op in history.operations if op.kind in EXPECTED_EVENT]


def _version(op: ApiOperation) -> int:
    """The resourceVersion a successful create or update returned, or a delete that left the
    object held by a finalizer (0 for a delete that removed it: its revision is not returned)."""
    if op.kind == "delete" and not (op.objects and op.objects[0].deleting):
        return 0
    return op.objects[0].resource_version if op.objects else 0


def _removals(history: ApiHistory, name: str) -> list[ApiOperation]:
    """The successful deletes of ``name`` that removed it (conditioned on the version)."""
    return [
        op
        for op in _writes(history)
        if op.kind == "delete" and op.name == name and op.succeeded and not _version(op)
    ]


def _later_revision(history: ApiHistory, moment: int) -> int | None:
    """The smallest resourceVersion of a write that began after ``moment``: every write that
    returned by ``moment`` has a smaller revision."""
    versions = [_version(op) for op in _writes(history) if op.call_time > moment and _version(op)]
    return min(versions, default=None)


def _violation(name: str, reason: str) -> Violation:
    return Violation(property_name=name, nodes=(), reason=reason)


def write_versions_increase(history: ApiHistory) -> list[Violation]:
    done = [op for op in _writes(history) if op.succeeded and _version(op)]
    seen: dict[int, ApiOperation] = {}
    problems: list[Violation] = []
    for op in done:
        other = seen.setdefault(_version(op), op)
        if other is not op:
            problems.append(
                _violation(
                    "write_versions_increase",
                    f"{op.kind} of {op.name} and {other.kind} of {other.name} both got "
                    f"resourceVersion {_version(op)}",
                )
            )
    ordered = sorted(done, key=lambda op: op.call_time)
    calls = [op.call_time for op in ordered]
    smallest_after: list[ApiOperation | None] = [None] * (len(ordered) + 1)
    for index in range(len(ordered) - 1, -1, -1):
        best = smallest_after[index + 1]
        smallest_after[index] = (
            ordered[index] if best is None or _version(ordered[index]) < _version(best) else best
        )
    for first in done:
        if first.return_time is None:
            continue
        later = smallest_after[bisect.bisect_right(calls, first.return_time)]
        if later is not None and _version(first) >= _version(later):
            problems.append(
                _violation(
                    "write_versions_increase",
                    f"{first.kind} of {first.name} returned resourceVersion {_version(first)} "
                    f"before {later.kind} of {later.name} began, which got {_version(later)}",
                )
            )
    return problems


def concurrent_writes_happen(history: ApiHistory) -> bool:
    writes = [op for op in _writes(history) if op.return_time is not None]
    return any(
        a.client != b.client
        and a.call_time < (b.return_time or 0)
        and b.call_time < (a.return_time or 0)
        for a in writes
        for b in writes
    )


def no_lost_update(history: ApiHistory) -> list[Violation]:
    made: dict[tuple[str, int], ApiOperation] = {}
    for op in _writes(history):
        if op.succeeded and op.kind != "delete" and _version(op):
            made[(op.name, _version(op))] = op
    used: dict[tuple[str, int], ApiOperation] = {}
    problems: list[Violation] = []
    for op in history.operations:
        if op.kind != "update" or not op.precondition or not op.succeeded:
            continue
        key = (op.name, op.precondition)
        earlier = used.setdefault(key, op)
        if earlier is not op:
            problems.append(
                _violation(
                    "no_lost_update",
                    f"two updates of {op.name} conditioned on resourceVersion {op.precondition} "
                    f"both succeeded (tokens {earlier.token} and {op.token}): one was lost",
                )
            )
        if key not in made and not _unknown_write_of(history, op.name):
            problems.append(
                _violation(
                    "no_lost_update",
                    f"an update of {op.name} conditioned on resourceVersion {op.precondition} "
                    "succeeded, but no write of it made that version",
                )
            )
    return problems


def _unknown_write_of(history: ApiHistory, name: str) -> bool:
    return any(op.name == name and not op.definite for op in _writes(history))


def conflicts_happen(history: ApiHistory) -> bool:
    return any(op.kind == "update" and op.status == 409 for op in history.operations)


def _stream_problems(history: ApiHistory, stream: WatchStream) -> Iterator[str]:
    last = stream.start_revision
    delivered: dict[int, tuple[str, Seen]] = {}
    for event in stream.events:
        if event.type == "ERROR":
            return
        revision = event.resource_version if event.object is None else event.object.resource_version
        if event.type == "BOOKMARK":
            if revision < last:
                yield f"watch {stream.watch_id}: bookmark at {revision} after an event at {last}"
            last = max(last, revision)
            continue
        if revision <= last:
            yield (
                f"watch {stream.watch_id}: {event.type} at resourceVersion {revision} came after "
                f"{last} (events must increase past the start {stream.start_revision})"
            )
        last = max(last, revision)
        if event.object is not None:
            delivered[revision] = (event.type, event.object)
    for op in _writes(history):
        version = _version(op)
        if not (op.succeeded and version and stream.start_revision < version <= last):
            continue
        got = delivered.get(version)
        held = op.kind == "delete"  # a delete with a version left the object to a finalizer
        wanted = "MODIFIED" if held else EXPECTED_EVENT[op.kind]
        if got is None:
            yield (
                f"watch {stream.watch_id} from {stream.start_revision} delivered events up to "
                f"{last} but skipped the {op.kind} of {op.name} at {version}"
            )
        elif got[0] != wanted or got[1].name != op.name or (not held and got[1].token != op.token):
            yield (
                f"watch {stream.watch_id}: at {version} it delivered {got[0]} {got[1].name} "
                f"({got[1].token}) for the {op.kind} of {op.name} ({op.token})"
            )


def _skipped_removals(history: ApiHistory, stream: WatchStream) -> Iterator[str]:
    """A removal the stream must have delivered: it removed a version after the stream's start,
    and the stream got past a write that began after the removal returned."""
    last = max(
        (
            event.resource_version if event.object is None else event.object.resource_version
            for event in stream.events
            if event.type != "ERROR"
        ),
        default=stream.start_revision,
    )
    for name in history.names:
        for removal in _removals(history, name):
            if removal.return_time is None or removal.precondition <= stream.start_revision:
                continue
            bound = _later_revision(history, removal.return_time)
            if bound is None or last < bound:
                continue
            if not any(
                event.type == "DELETED"
                and event.object is not None
                and event.object.name == name
                and removal.precondition < event.object.resource_version < bound
                for event in stream.events
            ):
                yield (
                    f"watch {stream.watch_id} from {stream.start_revision} got to {last} but "
                    f"skipped the delete of {name} (version {removal.precondition})"
                )


def watch_ordered_gap_free(history: ApiHistory) -> list[Violation]:
    return [
        _violation("watch_ordered_gap_free", reason)
        for stream in history.watches
        for problems in (_stream_problems(history, stream), _skipped_removals(history, stream))
        for reason in problems
    ]


def watches_see_changes(history: ApiHistory) -> bool:
    return any(
        sum(event.type in ("ADDED", "MODIFIED", "DELETED") for event in stream.events) >= 2
        for stream in history.watches
    )


def _state_at(history: ApiHistory, name: str, listing: ApiOperation) -> Seen | str | None:
    """The object ``name`` at the list's revision by the writes (absent: None), or "unknown"
    when an unknown write or a removal concurrent with the list leaves it open."""
    writes = [op for op in _writes(history) if op.name == name]
    if any(not op.definite for op in writes):
        return "unknown"
    revision = listing.list_revision
    last: ApiOperation | None = None
    for op in writes:
        newer = last is None or _version(op) > _version(last)
        if op.succeeded and 0 < _version(op) <= revision and newer:
            last = op
    if last is None:
        return None
    current = last.objects[0]
    for removal in _removals(history, name):
        if removal.precondition != current.resource_version:
            continue
        if removal.return_time is not None and removal.return_time < listing.call_time:
            return None
        if listing.return_time is None or removal.call_time < listing.return_time:
            return "unknown"
    return current


def list_consistent(history: ApiHistory) -> list[Violation]:
    problems: list[Violation] = []
    for op in history.operations:
        if op.kind != "list" or not op.succeeded:
            continue
        listed = {seen.name: seen for seen in op.objects}
        for name in history.names:
            expected = _state_at(history, name, op)
            if expected == "unknown":
                continue
            got = listed.get(name)
            if (expected is None) != (got is None) or (
                isinstance(expected, Seen)
                and got is not None
                and (got.resource_version, got.token) != (expected.resource_version, expected.token)
            ):
                shown = "absent" if got is None else f"at {got.resource_version} ({got.token})"
                wanted = (
                    "absent"
                    if not isinstance(expected, Seen)
                    else f"at {expected.resource_version} ({expected.token})"
                )
                problems.append(
                    _violation(
                        "list_consistent",
                        f"a list at resourceVersion {op.list_revision} showed {name} {shown}; "
                        f"the writes up to it leave it {wanted}",
                    )
                )
    return problems


def lists_see_objects(history: ApiHistory) -> bool:
    return any(op.kind == "list" and op.objects for op in history.operations)


def finalizer_blocks_deletion(history: ApiHistory) -> list[Violation]:
    problems: list[Violation] = []
    for held in history.operations:
        if not (held.kind == "delete" and held.succeeded and held.objects):
            continue
        if not held.objects[0].deleting or held.return_time is None:
            continue
        # Any later write of the object may release it, even one that began before the
        # delete's answer arrived (it read the deletionTimestamp first).
        release = min(
            (
                op.call_time
                for op in _writes(history)
                if op.name == held.name and op.call_time > held.call_time and op is not held
            ),
            default=None,
        )
        for read in history.operations:
            if read.kind not in ("get", "list") or (not read.succeeded and read.status != 404):
                continue
            if read.call_time < held.return_time or (
                release is not None and read.return_time is not None and read.return_time > release
            ):
                continue
            if read.kind == "get" and read.name == held.name and read.status == 404:
                problems.append(
                    _violation(
                        "finalizer_blocks_deletion",
                        f"{held.name} was answered 404 while its finalizer still held it",
                    )
                )
            if read.kind == "list" and all(seen.name != held.name for seen in read.objects):
                problems.append(
                    _violation(
                        "finalizer_blocks_deletion",
                        f"a list left out {held.name} while its finalizer still held it",
                    )
                )
    return problems


def finalizers_hold(history: ApiHistory) -> bool:
    return any(
        op.kind == "delete" and op.succeeded and op.objects and op.objects[0].deleting
        for op in history.operations
    )


def uid_stable(history: ApiHistory) -> list[Violation]:
    problems: list[Violation] = []
    observed = [(op, seen) for op in history.operations for seen in op.objects] + [
        (None, event.object)
        for stream in history.watches
        for event in stream.events
        if event.object is not None
    ]
    for create in _writes(history):
        if create.kind != "create" or not create.succeeded or not create.objects:
            continue
        born = create.objects[0]
        # The next incarnation's create bounds this one (a removal's revision is not known).
        ends = [
            _version(op)
            for op in _writes(history)
            if op.kind == "create"
            and op.name == create.name
            and op.succeeded
            and _version(op) > born.resource_version
        ]
        # So does a delete that removed it (or may have: its outcome is unknown), after the
        # version it was conditioned on.
        ends += [
            op.precondition + 1
            for op in _writes(history)
            if op.kind == "delete"
            and op.name == create.name
            and op.precondition >= born.resource_version
            and (not op.definite or (op.succeeded and not _version(op)))
        ]
        end = min(ends, default=None)
        for _, seen in observed:
            if seen.name != create.name or seen.resource_version < born.resource_version:
                continue
            if end is not None and seen.resource_version >= end:
                continue
            if seen.uid != born.uid:
                problems.append(
                    _violation(
                        "uid_stable",
                        f"{create.name} created with uid {born.uid} was seen at "
                        f"resourceVersion {seen.resource_version} with uid {seen.uid}",
                    )
                )
    return problems


def objects_are_recreated(history: ApiHistory) -> bool:
    creates = [op.name for op in _writes(history) if op.kind == "create" and op.succeeded]
    return len(creates) > len(set(creates))


Check = Callable[[ApiHistory], list[Violation]]
SAFETY: Final[tuple[tuple[str, Check], ...]] = (
    ("write_versions_increase", write_versions_increase),
    ("no_lost_update", no_lost_update),
    ("watch_ordered_gap_free", watch_ordered_gap_free),
    ("list_consistent", list_consistent),
    ("finalizer_blocks_deletion", finalizer_blocks_deletion),
    ("uid_stable", uid_stable),
)
SOMETIMES: Final[tuple[tuple[str, str, Callable[[ApiHistory], bool]], ...]] = (
    ("concurrent_writes_happen", "write_versions_increase", concurrent_writes_happen),
    ("conflicts_happen", "no_lost_update", conflicts_happen),
    ("watches_see_changes", "watch_ordered_gap_free", watches_see_changes),
    ("lists_see_objects", "list_consistent", lists_see_objects),
    ("finalizers_hold", "finalizer_blocks_deletion", finalizers_hold),
    ("objects_are_recreated", "uid_stable", objects_are_recreated),
)
"""(companion, the safety property it shows is not vacuous, predicate)."""


def violations(history: ApiHistory) -> list[Violation]:
    """Every safety property's violations, in the order of ``SAFETY``."""
    return [problem for _, check in SAFETY for problem in check(history)]


def unexercised(history: ApiHistory) -> list[str]:
    """The ``sometimes`` companions that did not hold in this history."""
    return [name for name, _, holds in SOMETIMES if not holds(history)]
