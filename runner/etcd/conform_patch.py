"""Resolve writes with an unknown outcome from what the watches saw (etcd robustness "patching").

A put whose value is unique (every value the workload writes is) and that shows up in a watch
event was applied, at that event's revision; the operation certainly returned before the watch
delivered the event. Such a record becomes definite, with the result the put (or the txn whose
branch holds it) must have had, and a return time no later than the event's arrival. This keeps
the linearizability search small when faults leave many outcomes unknown. Writes that no watch
saw stay unknown (a watch may have missed them), so nothing is ever dropped.
"""

from __future__ import annotations

import msgspec

from models.etcd import (
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    KeyValue,
    PutRequest,
    PutResponse,
    RequestOp,
    ResponseHeader,
    ResponseOp,
    TxnRequest,
    TxnResponse,
)
from models.history import History, OperationRecord


class Sighting(msgspec.Struct, frozen=True, kw_only=True):
    """A put seen on a watch: its event and when the watch received it."""

    event: Event
    time: int
    with_prev_kv: bool


def _sightings(
    history: History,
) -> tuple[dict[tuple[bytes, bytes], Sighting], dict[int, list[Event]]]:
    """Puts by (key, value), first arrival; and every event seen per revision, from range
    watches without filters (which see every key of their range at each revision)."""
    puts: dict[tuple[bytes, bytes], Sighting] = {}
    by_revision: dict[int, dict[tuple[str, bytes], Event]] = {}
    for watch in history.watches:
        if not watch.request.range_end or watch.request.filters:
            continue  # only streams that see every change to a range count as witnesses
        for time, response in watch.received():
            for event in response.events:
                revision = event.kv.mod_revision
                by_revision.setdefault(revision, {})[(event.type, event.kv.key)] = event
                if event.type != "PUT":
                    continue
                seen = puts.get((event.kv.key, event.kv.value))
                if seen is None or time < seen.time:
                    puts[(event.kv.key, event.kv.value)] = Sighting(
                        event=event, time=time, with_prev_kv=watch.request.prev_kv
                    )
    events = {revision: list(found.values()) for revision, found in by_revision.items()}
    return puts, events


def _previous(seen: Sighting) -> tuple[KeyValue | None] | None:
    """The put's previous key-value when the sighting proves it (None: unknowable). etcd may
    omit an event's prev_kv after compaction, so a missing one only counts for a creation."""
    if not seen.with_prev_kv:
        return None
    if seen.event.prev_kv is not None:
        return (seen.event.prev_kv,)
    return (None,) if seen.event.kv.version == 1 else None


def _branch_result(
    branch: tuple[RequestOp, ...], revision: int, events: list[Event]
) -> tuple[ResponseOp, ...] | None:
    """Responses of a branch of puts and deletes applied at ``revision`` (None if unknowable)."""
    responses: list[ResponseOp] = []
    for operation in branch:
        if isinstance(operation, PutRequest) and not operation.prev_kv:
            responses.append(PutResponse(header=ResponseHeader(revision=revision)))
        elif (
            isinstance(operation, DeleteRangeRequest)
            and not operation.range_end
            and not operation.prev_kv
        ):
            deleted = sum(1 for e in events if e.type == "DELETE" and e.kv.key == operation.key)
            responses.append(
                DeleteRangeResponse(header=ResponseHeader(revision=revision), deleted=deleted)
            )
        else:
            return None
    return tuple(responses)


def _resolve(
    record: OperationRecord,
    puts: dict[tuple[bytes, bytes], Sighting],
    events: dict[int, list[Event]],
) -> OperationRecord:
    operation = record.operation
    if isinstance(operation, PutRequest):
        seen = puts.get((operation.key, operation.value))
        if seen is None or seen.time < record.call_time:
            return record
        revision = seen.event.kv.mod_revision
        result: PutResponse | TxnResponse = PutResponse(header=ResponseHeader(revision=revision))
        if operation.prev_kv:
            known = _previous(seen)
            if known is None:
                return record
            result = PutResponse(header=ResponseHeader(revision=revision), prev_kv=known[0])
    elif isinstance(operation, TxnRequest):
        for succeeded, branch in ((True, operation.success), (False, operation.failure)):
            unique = [op for op in branch if isinstance(op, PutRequest)]
            seen = puts.get((unique[0].key, unique[0].value)) if unique else None
            if seen is None or seen.time < record.call_time:
                continue
            revision = seen.event.kv.mod_revision
            responses = _branch_result(branch, revision, events.get(revision, []))
            if responses is None:
                return record
            result = TxnResponse(
                header=ResponseHeader(revision=revision),
                succeeded=succeeded,
                responses=responses,
            )
            break
        else:
            return record
    else:
        return record
    return msgspec.structs.replace(record, definite=True, return_time=seen.time, result=result)


def patch_history(history: History) -> tuple[History, int]:
    """The history with every write a watch proved applied made definite, and how many."""
    puts, events = _sightings(history)
    patched = []
    resolved = 0
    for record in history.operations:
        if record.definite and record.return_time is not None:
            patched.append(record)
            continue
        updated = _resolve(record, puts, events)
        resolved += 0 if updated is record else 1
        patched.append(updated)
    return msgspec.structs.replace(history, operations=tuple(patched)), resolved
