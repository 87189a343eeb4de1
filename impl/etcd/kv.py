"""Put, DeleteRange, Range and Txn as one write transaction each, with etcd's validation.

Theory of operation. Every KV request runs as a transaction over a read view of the store
(etcd's ``applyTxn``): Put, DeleteRange and Range are single-operation transactions. As etcd 3.4
does, all compares, including those of nested txns, are evaluated first against the state before
the transaction (``compareToPath``); then the chosen operations are checked (ranges against the
compaction and current revisions, puts against ``ignore_value``/``ignore_lease`` and lease
existence), and only then executed in order. Later operations see earlier writes of the same
transaction. A transaction that wrote anything gets exactly one new revision, ``revision + 1``,
shared by every key it changed; its events are stored under that revision in write order.
"""

from __future__ import annotations

import msgspec

from impl.etcd.ranges import check_range_request, range_response
from impl.etcd.store import (
    EMPTY_KEY_HISTORY,
    EtcdState,
    Lease,
    current_value,
    keys_in_range,
    live_values,
    version_at,
)
from impl.etcd.txn_checks import check_txn_shape
from models.etcd import (
    ERROR_KEY_NOT_FOUND,
    ERROR_KEY_NOT_PROVIDED,
    ERROR_LEASE_NOT_FOUND,
    NO_LEASE,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    Event,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    RequestOp,
    ResponseHeader,
    ResponseOp,
    TxnRequest,
    TxnResponse,
    range_end_covers,
)


class _Writer:
    """The pending changes of one transaction (local to one apply call, then discarded)."""

    def __init__(self, state: EtcdState) -> None:
        self.state = state
        self.changed: dict[bytes, KeyValue | None] = {}
        self.events: list[Event] = []
        self.leases: dict[int, Lease] = {}

    @property
    def next_revision(self) -> int:
        return self.state.revision + 1

    @property
    def view_revision(self) -> int:
        return self.next_revision if self.events else self.state.revision

    def value(self, key: bytes) -> KeyValue | None:
        if key in self.changed:
            return self.changed[key]
        return current_value(self.state, key)

    def lease(self, lease_id: int) -> Lease | None:
        return self.leases.get(lease_id, self.state.leases.get(lease_id))

    def live_range(self, key: bytes, range_end: bytes) -> tuple[KeyValue, ...]:
        candidates = set(keys_in_range(self.state, key, range_end))
        candidates.update(k for k in self.changed if range_end_covers(key, range_end, k))
        found = (self.value(candidate) for candidate in sorted(candidates))
        return tuple(kv for kv in found if kv is not None)

    def _move_lease(self, key: bytes, old: int, new: int) -> None:
        if old == new:
            return
        if old != NO_LEASE:
            previous = self.lease(old)
            if previous is not None:
                self.leases[old] = msgspec.structs.replace(previous, keys=previous.keys - {key})
        if new != NO_LEASE:
            attached = self.lease(new)
            assert attached is not None, "lease existence is checked before execution"
            self.leases[new] = msgspec.structs.replace(attached, keys=attached.keys | {key})

    def put(self, request: PutRequest) -> PutResponse:
        previous = self.value(request.key)
        value = previous.value if request.ignore_value and previous else request.value
        lease = previous.lease if request.ignore_lease and previous else request.lease
        kv = KeyValue(
            key=request.key,
            create_revision=previous.create_revision if previous else self.next_revision,
            mod_revision=self.next_revision,
            version=previous.version + 1 if previous else 1,
            value=value,
            lease=lease,
        )
        self._move_lease(request.key, previous.lease if previous else NO_LEASE, lease)
        self.changed[request.key] = kv
        self.events.append(Event(type="PUT", kv=kv, prev_kv=previous))
        return PutResponse(
            header=ResponseHeader(revision=self.next_revision),
            prev_kv=previous if request.prev_kv else None,
        )

    def delete(self, request: DeleteRangeRequest) -> DeleteRangeResponse:
        deleted = self.live_range(request.key, request.range_end)
        for previous in deleted:
            tombstone = KeyValue(
                key=previous.key, create_revision=0, mod_revision=self.next_revision, version=0
            )
            self._move_lease(previous.key, previous.lease, NO_LEASE)
            self.changed[previous.key] = None
            self.events.append(Event(type="DELETE", kv=tombstone, prev_kv=previous))
        return DeleteRangeResponse(
            header=ResponseHeader(revision=self.view_revision),
            deleted=len(deleted),
            prev_kvs=deleted if request.prev_kv else (),
        )

    def range(self, request: RangeRequest) -> ResponseOp:
        if request.revision > 0:
            found = live_values(self.state, request.key, request.range_end, request.revision)
        else:
            found = self.live_range(request.key, request.range_end)
        return range_response(request, found, self.view_revision)

    def commit(self) -> EtcdState:
        if not self.events:
            return msgspec.structs.replace(self.state, leases=self.state.leases.update(self.leases))
        history = self.state.history.mutate()
        new_keys = [key for key in self.changed if key not in self.state.history]
        for event in self.events:
            history[event.kv.key] = (*history.get(event.kv.key, EMPTY_KEY_HISTORY), event.kv)
        return msgspec.structs.replace(
            self.state,
            revision=self.next_revision,
            history=history.finish(),
            sorted_keys=tuple(sorted((*self.state.sorted_keys, *new_keys))),
            events=self.state.events.set(self.next_revision, tuple(self.events)),
            leases=self.state.leases.update(self.leases),
        )


def compare_holds(state: EtcdState, compare: Compare) -> bool:
    """Whether ``compare`` holds for every key of its range (a missing key has zero fields)."""
    found = live_values(state, compare.key, compare.range_end, state.revision)
    if not found:
        if compare.target == "VALUE":
            return False
        found = (KeyValue(key=compare.key, create_revision=0, mod_revision=0, version=0),)
    return all(_compare_one(kv, compare) for kv in found)


def _compare_one(kv: KeyValue, compare: Compare) -> bool:
    actual: int | bytes
    expected: int | bytes
    if compare.target == "VERSION":
        actual, expected = kv.version, compare.version
    elif compare.target == "CREATE":
        actual, expected = kv.create_revision, compare.create_revision
    elif compare.target == "MOD":
        actual, expected = kv.mod_revision, compare.mod_revision
    elif compare.target == "VALUE":
        actual, expected = kv.value, compare.value
    else:
        actual, expected = kv.lease, compare.lease
    if compare.result == "EQUAL":
        return actual == expected
    if compare.result == "NOT_EQUAL":
        return actual != expected
    if compare.result == "GREATER":
        return actual > expected  # type: ignore[operator]
    return actual < expected  # type: ignore[operator]


class _Path(msgspec.Struct, frozen=True, kw_only=True):
    """The branch chosen at one txn level, with the paths of its nested txns in order."""

    succeeded: bool
    nested: tuple[_Path, ...]


def _choose_path(state: EtcdState, request: TxnRequest) -> _Path:
    succeeded = all(compare_holds(state, compare) for compare in request.compare)
    branch = request.success if succeeded else request.failure
    nested = tuple(_choose_path(state, op) for op in branch if isinstance(op, TxnRequest))
    return _Path(succeeded=succeeded, nested=nested)


def _chosen_ops(ops: tuple[RequestOp, ...], path: _Path) -> list[RequestOp]:
    """Every operation the chosen branches will run, nested txns flattened, in order."""
    chosen: list[RequestOp] = []
    nested_paths = iter(path.nested)
    for op in ops:
        if isinstance(op, TxnRequest):
            inner = next(nested_paths)
            chosen.extend(_chosen_ops(op.success if inner.succeeded else op.failure, inner))
        else:
            chosen.append(op)
    return chosen


def _check_branch(state: EtcdState, ops: tuple[RequestOp, ...], path: _Path) -> EtcdError | None:
    """etcd's order: puts are checked first (``checkPut``), then ranges (``checkRange``)."""
    chosen = _chosen_ops(ops, path)
    for op in chosen:
        if isinstance(op, PutRequest):
            error = check_put_against_state(state, op)
            if error is not None:
                return error
    for op in chosen:
        if isinstance(op, RangeRequest):
            error = check_range_request(op, state.revision, state.compact_revision)
            if error is not None:
                return error
    return None


def check_put_against_state(state: EtcdState, request: PutRequest) -> EtcdError | None:
    """A put needs its key for ignore_value/ignore_lease, and an existing lease."""
    if (request.ignore_value or request.ignore_lease) and current_value(state, request.key) is None:
        return ERROR_KEY_NOT_FOUND
    if request.lease != NO_LEASE and request.lease not in state.leases:
        return ERROR_LEASE_NOT_FOUND
    return None


def _execute(writer: _Writer, request: TxnRequest, path: _Path) -> TxnResponse:
    branch = request.success if path.succeeded else request.failure
    nested_paths = iter(path.nested)
    responses: list[ResponseOp] = []
    for op in branch:
        if isinstance(op, RangeRequest):
            responses.append(writer.range(op))
        elif isinstance(op, PutRequest):
            responses.append(writer.put(op))
        elif isinstance(op, DeleteRangeRequest):
            responses.append(writer.delete(op))
        else:
            responses.append(_execute(writer, op, next(nested_paths)))
    return TxnResponse(
        header=ResponseHeader(), succeeded=path.succeeded, responses=tuple(responses)
    )


def apply_txn(state: EtcdState, request: TxnRequest) -> tuple[EtcdState, TxnResponse | EtcdError]:
    """Run a txn: compares on the state before it, then the chosen branch, in one revision."""
    shape_error = check_txn_shape(request)
    if shape_error is not None:
        return state, shape_error
    path = _choose_path(state, request)
    error = _check_branch(state, request.success if path.succeeded else request.failure, path)
    if error is not None:
        return state, error
    writer = _Writer(state)
    response = _execute(writer, request, path)
    header = ResponseHeader(revision=writer.view_revision)
    return writer.commit(), msgspec.structs.replace(response, header=header)


def apply_single(
    state: EtcdState, request: RangeRequest | PutRequest | DeleteRangeRequest
) -> tuple[EtcdState, ResponseOp | EtcdError]:
    """Put, DeleteRange or Range on their own: a one-operation txn."""
    if request.key == b"":
        return state, ERROR_KEY_NOT_PROVIDED
    new_state, response = apply_txn(state, TxnRequest(success=(request,)))
    if isinstance(response, EtcdError):
        return state, response
    inner = response.responses[0]
    return new_state, msgspec.structs.replace(inner, header=response.header)


def range_read(state: EtcdState, request: RangeRequest) -> ResponseOp | EtcdError:
    """A read that changes nothing (a serializable read, or a linearizable one after ReadIndex)."""
    return apply_single(state, request)[1]


def value_at(state: EtcdState, key: bytes, revision: int) -> KeyValue | None:
    """The key's value at ``revision`` (for tests and watch prev_kv)."""
    return version_at(state.history.get(key, EMPTY_KEY_HISTORY), revision)
