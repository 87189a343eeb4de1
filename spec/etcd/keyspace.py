"""Sequential reference model of etcd's keyspace (v3 API, etcd 3.4 semantics), for checking
histories.

The state is a dict-like ``immutables.Map`` of live keys to :class:`KeyValue` plus the revision
counter, the compaction revision, the leases and a snapshot of the keys at every revision (for
ranges at an old revision). The rules, from etcd's mvcc package and its robustness-test model
(reference notes §3.2, §3.7, §4.4):

* the store starts empty at revision 1; every request that writes (a put, a delete that removes
  a key, a txn with such an op, a revoke that removes keys) gets exactly one new revision;
* a put sets ``mod_revision`` to that revision, ``version`` to old+1 (1 for a new key, with
  ``create_revision`` = the revision); a delete removes the key;
* a txn evaluates its compares on the current keys (a missing key has version, create, mod and
  lease 0, and any compare on its value fails), then runs the success or failure ops in order,
  later ops seeing earlier writes; keys written twice in one txn are rejected;
* a range at revision 0 reads the current keys; at a revision above the current one it fails
  with "required revision is a future revision", below the compaction revision with "required
  revision has been compacted"; the response header carries the current revision;
* a lease must exist to attach keys to it; revoking it deletes its keys; a keepalive of an
  unknown lease answers TTL 0; lease expiry by wall clock is not modelled;
* compaction to a revision at or below the compaction revision fails with "compacted", above
  the current revision with "future revision".

Operations touch a global revision counter, so etcd histories are not split per key.
"""

from __future__ import annotations

from collections.abc import Callable

import immutables
import msgspec

from models.history import (
    CompactResult,
    Compare,
    DeleteResult,
    ErrorResult,
    EtcdCompact,
    EtcdDelete,
    EtcdLeaseGrant,
    EtcdLeaseKeepalive,
    EtcdLeaseRevoke,
    EtcdPut,
    EtcdRange,
    EtcdTxn,
    KeyValue,
    LeaseGrantResult,
    LeaseKeepaliveResult,
    LeaseRevokeResult,
    Operation,
    OperationRecord,
    OperationResult,
    PutResult,
    RangeResult,
    TxnOperation,
    TxnResponse,
    TxnResult,
)
from spec.linearizability import ILLEGAL, Illegal

ERROR_COMPACTED = "etcdserver: mvcc: required revision has been compacted"
ERROR_FUTURE_REVISION = "etcdserver: mvcc: required revision is a future revision"
ERROR_LEASE_NOT_FOUND = "etcdserver: requested lease not found"
ERROR_LEASE_EXISTS = "etcdserver: lease already exists"
ERROR_DUPLICATE_KEY = "etcdserver: duplicate key given in txn request"

Keys = immutables.Map[str, KeyValue]


class EtcdState(msgspec.Struct, frozen=True, kw_only=True):
    """The keyspace at one point of a linearization.

    The checker hashes a state at every step, so its hash must not grow with the history:
    instead of the snapshots it covers ``lineage``, a hash chained over every (revision, keys)
    written so far. Equality still compares every field (``lineage`` before ``snapshots``, so
    two different pasts differ at once).
    """

    revision: int = 1
    compact_revision: int = -1
    keys: Keys = msgspec.field(default_factory=immutables.Map)
    leases: immutables.Map[int, frozenset[str]] = msgspec.field(default_factory=immutables.Map)
    lineage: int = 0
    snapshots: immutables.Map[int, Keys] = msgspec.field(default_factory=immutables.Map)
    """The keys as they were after each revision (revision 1: empty)."""

    def __hash__(self) -> int:
        return hash((self.revision, self.compact_revision, self.keys, self.leases, self.lineage))


def in_range(key: str, start: str, end: str) -> bool:
    """Whether ``key`` is in etcd's range ``[start, end)``: no end means the key ``start``; the
    end ``"\\0"`` means every key from ``start`` on."""
    if not end:
        return key == start
    if end == "\0":
        return key >= start
    return start <= key < end


def _select(keys: Keys, start: str, end: str) -> list[KeyValue]:
    if not end:
        found = keys.get(start)
        return [] if found is None else [found]
    return [keys[key] for key in sorted(keys) if in_range(key, start, end)]


def _compare_holds(keys: Keys, compare: Compare) -> bool:
    current = keys.get(compare.key)
    if current is None:
        if compare.target == "value":
            return False
        current = KeyValue(key=compare.key)
    actual: int | str
    if compare.target == "value":
        actual = current.value
    else:
        actual = {
            "version": current.version,
            "create": current.create_revision,
            "mod": current.mod_revision,
            "lease": current.lease,
        }[compare.target]
    if type(actual) is not type(compare.operand):
        return False
    if compare.result == "equal":
        return actual == compare.operand
    if compare.result == "not_equal":
        return actual != compare.operand
    if compare.result == "greater":
        return actual > compare.operand  # type: ignore[operator]
    return actual < compare.operand  # type: ignore[operator]


def _range_result(keys: Keys, request: EtcdRange, revision: int) -> RangeResult:
    found = _select(keys, request.key, request.range_end)
    count = len(found)
    if request.count_only:
        return RangeResult(revision=revision, count=count)
    if request.limit > 0:
        found = found[: request.limit]
    if request.keys_only:
        found = [msgspec.structs.replace(kv, value="") for kv in found]
    return RangeResult(revision=revision, kvs=tuple(found), count=count, more=count > len(found))


class _Writer:
    """Applies one request's writes at one new revision (the txn's shared revision)."""

    def __init__(self, state: EtcdState) -> None:
        self.state = state
        self.keys = state.keys
        self.leases = state.leases
        self.revision = state.revision + 1
        self.changed = False

    def _detach(self, kv: KeyValue) -> None:
        if kv.lease and kv.lease in self.leases:
            self.leases = self.leases.set(kv.lease, self.leases[kv.lease] - {kv.key})

    def put(self, request: EtcdPut) -> PutResult:
        previous = self.keys.get(request.key)
        if previous is not None:
            self._detach(previous)
        kv = KeyValue(
            key=request.key,
            value=request.value,
            create_revision=self.revision if previous is None else previous.create_revision,
            mod_revision=self.revision,
            version=1 if previous is None else previous.version + 1,
            lease=request.lease,
        )
        self.keys = self.keys.set(request.key, kv)
        if request.lease:
            self.leases = self.leases.set(request.lease, self.leases[request.lease] | {kv.key})
        self.changed = True
        return PutResult(prev_kv=previous if request.prev_kv else None)

    def delete(self, request: EtcdDelete) -> DeleteResult:
        found = _select(self.keys, request.key, request.range_end)
        for kv in found:
            self._detach(kv)
            self.keys = self.keys.delete(kv.key)
        self.changed = self.changed or bool(found)
        return DeleteResult(deleted=len(found), prev_kvs=tuple(found) if request.prev_kv else ())

    def run(self, operation: TxnOperation) -> TxnResponse:
        if isinstance(operation, EtcdPut):
            return self.put(operation)
        if isinstance(operation, EtcdDelete):
            return self.delete(operation)
        keys = self.keys
        if 0 < operation.revision <= self.state.revision:
            keys = _keys_at(self.state, operation.revision)
        return _range_result(keys, operation, 0)

    def finish(self) -> EtcdState:
        if not self.changed:
            return self.state
        return msgspec.structs.replace(
            self.state,
            revision=self.revision,
            keys=self.keys,
            leases=self.leases,
            lineage=hash((self.state.lineage, self.revision, self.keys)),
            snapshots=self.state.snapshots.set(self.revision, self.keys),
        )


def _duplicate_key(operations: tuple[TxnOperation, ...]) -> str | None:
    """etcd's first request check: no key written twice in one branch (a put twice, or a put
    inside a deleted range)."""
    put_keys: set[str] = set()
    for operation in operations:
        if isinstance(operation, EtcdPut):
            if operation.key in put_keys:
                return ERROR_DUPLICATE_KEY
            put_keys.add(operation.key)
    for operation in operations:
        if isinstance(operation, EtcdDelete):
            for key in put_keys:
                if in_range(key, operation.key, operation.range_end):
                    return ERROR_DUPLICATE_KEY
    return None


def _unknown_lease(state: EtcdState, operations: tuple[TxnOperation, ...]) -> str | None:
    """The check of the branch that runs: every lease a put attaches exists."""
    for operation in operations:
        if not isinstance(operation, EtcdPut):
            continue
        if operation.lease and operation.lease not in state.leases:
            return ERROR_LEASE_NOT_FOUND
    return None


def _keys_at(state: EtcdState, revision: int) -> Keys:
    """The keys as they were after ``revision`` (at most the current revision)."""
    if revision >= state.revision:
        return state.keys
    for earlier in range(revision, 0, -1):
        if earlier in state.snapshots:
            return state.snapshots[earlier]
    return immutables.Map()


def _check_range(state: EtcdState, request: EtcdRange) -> str | None:
    if request.revision > state.revision:
        return ERROR_FUTURE_REVISION
    if 0 < request.revision < state.compact_revision:
        return ERROR_COMPACTED
    return None


def apply(state: EtcdState, operation: Operation) -> tuple[OperationResult, EtcdState]:
    """etcd's answer to ``operation`` in ``state`` and the state after it."""
    if isinstance(operation, EtcdRange):
        problem = _check_range(state, operation)
        if problem is not None:
            return ErrorResult(message=problem), state
        keys = state.keys
        if operation.revision > 0:
            keys = _keys_at(state, operation.revision)
        return _range_result(keys, operation, state.revision), state
    if isinstance(operation, EtcdPut | EtcdDelete):
        operation = EtcdTxn(success=(operation,))
        result, after = apply(state, operation)
        if isinstance(result, TxnResult):
            return msgspec.structs.replace(result.responses[0], revision=result.revision), after
        return result, after
    if isinstance(operation, EtcdTxn):
        return _apply_txn(state, operation)
    return _apply_lease_or_compact(state, operation)


def _apply_txn(state: EtcdState, operation: EtcdTxn) -> tuple[OperationResult, EtcdState]:
    # etcd rejects a key written twice in either branch before evaluating anything.
    for checked in (operation.success, operation.failure):
        duplicate = _duplicate_key(checked)
        if duplicate is not None:
            return ErrorResult(message=duplicate), state
    succeeded = all(_compare_holds(state.keys, compare) for compare in operation.compare)
    branch = operation.success if succeeded else operation.failure
    problem = _unknown_lease(state, branch)
    for request in branch:
        if isinstance(request, EtcdRange) and problem is None:
            problem = _check_range(state, request)
    if problem is not None:
        return ErrorResult(message=problem), state
    writer = _Writer(state)
    responses = tuple(writer.run(request) for request in branch)
    after = writer.finish()
    return TxnResult(revision=after.revision, succeeded=succeeded, responses=responses), after


def _apply_lease_or_compact(
    state: EtcdState, operation: Operation
) -> tuple[OperationResult, EtcdState]:
    if isinstance(operation, EtcdLeaseGrant):
        if operation.lease_id in state.leases:
            return ErrorResult(message=ERROR_LEASE_EXISTS), state
        leases = state.leases.set(operation.lease_id, frozenset())
        granted = LeaseGrantResult(revision=state.revision, lease_id=operation.lease_id)
        return granted, msgspec.structs.replace(state, leases=leases)
    if isinstance(operation, EtcdLeaseRevoke):
        if operation.lease_id not in state.leases:
            return ErrorResult(message=ERROR_LEASE_NOT_FOUND), state
        writer = _Writer(state)
        for key in sorted(state.leases[operation.lease_id]):
            writer.delete(EtcdDelete(key=key))
        after = writer.finish()
        after = msgspec.structs.replace(after, leases=after.leases.delete(operation.lease_id))
        return LeaseRevokeResult(revision=after.revision), after
    if isinstance(operation, EtcdLeaseKeepalive):
        alive = 1 if operation.lease_id in state.leases else 0
        return (
            LeaseKeepaliveResult(
                revision=state.revision, lease_id=operation.lease_id, ttl_seconds=alive
            ),
            state,
        )
    assert isinstance(operation, EtcdCompact), f"not an etcd operation: {operation!r}"
    if operation.revision <= state.compact_revision:
        return ErrorResult(message=ERROR_COMPACTED), state
    if operation.revision > state.revision:
        return ErrorResult(message=ERROR_FUTURE_REVISION), state
    after = msgspec.structs.replace(state, compact_revision=operation.revision)
    return CompactResult(revision=state.revision), after


def normalize(result: OperationResult) -> OperationResult:
    """The parts of a result the model determines: inner txn responses carry no header
    revision, a lease's TTL only says whether the lease is alive, the header revision of a
    keepalive or a compaction is not determined (see :func:`header_revision_fits`)."""
    if isinstance(result, TxnResult):
        responses = tuple(msgspec.structs.replace(item, revision=0) for item in result.responses)
        return msgspec.structs.replace(result, responses=responses)
    if isinstance(result, LeaseGrantResult):
        return msgspec.structs.replace(result, ttl_seconds=0)
    if isinstance(result, LeaseKeepaliveResult):
        # etcd answers a keepalive outside Raft: the leader's lessor decides the TTL, the
        # member the client talks to fills the header from its own applied revision, which may
        # lag. Only "alive or not" is linearizable.
        return msgspec.structs.replace(result, ttl_seconds=min(result.ttl_seconds, 1), revision=0)
    if isinstance(result, CompactResult):
        return msgspec.structs.replace(result, revision=0)
    return result


def header_revision_fits(state: EtcdState, result: OperationResult) -> bool:
    """Whether a compaction's header revision can be etcd's from ``state``.

    etcd 3.4 (etcdserver/v3_server.go, ``Compact``) fills that header after the apply, from the
    serving member's own store (``resp.Header.Revision = s.kv.Rev()``), not at the compaction's
    place in the Raft log: the member has applied at least up to the compaction, perhaps more,
    and perhaps not yet a write another member already acknowledged. So the header is at least
    the revision where the compaction is linearized; no upper bound is determined.
    """
    return not isinstance(result, CompactResult) or result.revision >= state.revision


EtcdTransition = Callable[[EtcdState], EtcdState | Illegal]


def transition(operation: Operation, result: OperationResult | None) -> EtcdTransition:
    """The search's step for one operation (see :class:`spec.linearizability.SequentialModel`)."""
    if isinstance(operation, EtcdLeaseGrant) and isinstance(result, LeaseGrantResult):
        operation = msgspec.structs.replace(operation, lease_id=result.lease_id)
    observed = None if result is None else normalize(result)
    # Every answer but an error carries the revision the store had before or after the
    # request: a state at another revision cannot produce it (a cheap test before applying).
    revision = getattr(observed, "revision", 0)

    def step(state: EtcdState) -> EtcdState | Illegal:
        if revision and not 0 <= revision - state.revision <= 1:
            return ILLEGAL
        produced, after = apply(state, operation)
        if observed is not None and normalize(produced) != observed:
            return ILLEGAL
        if result is not None and not header_revision_fits(state, result):
            return ILLEGAL
        return after

    return step


def check_record(record: OperationRecord) -> str | None:
    """Why ``record`` is not an etcd operation with a fitting result, if so."""
    operation, result = record.operation, record.result
    answers = {
        EtcdRange: RangeResult,
        EtcdPut: PutResult,
        EtcdDelete: DeleteResult,
        EtcdTxn: TxnResult,
        EtcdLeaseGrant: LeaseGrantResult,
        EtcdLeaseRevoke: LeaseRevokeResult,
        EtcdLeaseKeepalive: LeaseKeepaliveResult,
        EtcdCompact: CompactResult,
    }
    expected = answers.get(type(operation))
    if expected is None:
        return f"operation {type(operation).__name__} is not an etcd operation"
    if not record.definite or result is None or isinstance(result, ErrorResult):
        return None
    if not isinstance(result, expected):
        return f"result {type(result).__name__} does not answer {type(operation).__name__}"
    return None


def _describe_range(request: EtcdRange) -> str:
    where = repr(request.key)
    if request.range_end == "\0":
        where += ".."
    elif request.range_end:
        where += f"..{request.range_end!r}"
    at = f" @{request.revision}" if request.revision else ""
    return f"range({where}{at})"


def describe_operation(operation: Operation) -> str:
    """A short human form: ``put('a', '1')``, ``txn(if mod('a') = 2 then put('a', '2'))``."""
    if isinstance(operation, EtcdRange):
        return _describe_range(operation)
    if isinstance(operation, EtcdPut):
        lease = f", lease={operation.lease}" if operation.lease else ""
        return f"put({operation.key!r}, {operation.value!r}{lease})"
    if isinstance(operation, EtcdDelete):
        end = f"..{operation.range_end!r}" if operation.range_end else ""
        return f"delete({operation.key!r}{end})"
    if isinstance(operation, EtcdTxn):
        symbols = {"equal": "=", "not_equal": "!=", "greater": ">", "less": "<"}
        guards = " and ".join(
            f"{item.target}({item.key!r}) {symbols[item.result]} {item.operand!r}"
            for item in operation.compare
        )
        success = "; ".join(describe_operation(item) for item in operation.success)
        failure = "; ".join(describe_operation(item) for item in operation.failure)
        otherwise = f" else {failure}" if failure else ""
        return f"txn(if {guards or 'true'} then {success or 'nothing'}{otherwise})"
    if isinstance(operation, EtcdLeaseGrant):
        return f"lease_grant(ttl={operation.ttl_seconds}s, id={operation.lease_id})"
    if isinstance(operation, EtcdLeaseRevoke):
        return f"lease_revoke({operation.lease_id})"
    if isinstance(operation, EtcdLeaseKeepalive):
        return f"lease_keepalive({operation.lease_id})"
    assert isinstance(operation, EtcdCompact)
    return f"compact({operation.revision})"


def _describe_kvs(kvs: tuple[KeyValue, ...]) -> str:
    return "{" + ", ".join(f"{kv.key!r}: {kv.value!r}@{kv.mod_revision}" for kv in kvs) + "}"


def describe_result(result: OperationResult) -> str:
    """A short human form of an etcd answer, with its header revision."""
    if isinstance(result, ErrorResult):
        return f"error {result.message!r}"
    if isinstance(result, RangeResult):
        return f"{_describe_kvs(result.kvs)} count={result.count} at revision {result.revision}"
    if isinstance(result, TxnResult):
        branch = "succeeded" if result.succeeded else "failed"
        inner = "; ".join(describe_result(item) for item in result.responses)
        return f"{branch} at revision {result.revision}" + (f" [{inner}]" if inner else "")
    if isinstance(result, DeleteResult):
        return f"deleted {result.deleted} at revision {result.revision}"
    if isinstance(result, LeaseGrantResult):
        return f"lease {result.lease_id}"
    if isinstance(result, LeaseKeepaliveResult):
        return "alive" if result.ttl_seconds else "lease not found (TTL 0)"
    return f"ok at revision {getattr(result, 'revision', 0)}"


class EtcdModel:
    """etcd's keyspace as a :class:`spec.linearizability.SequentialModel`."""

    @property
    def name(self) -> str:
        return "etcd"

    def initial_state(self) -> EtcdState:
        return EtcdState()

    def transition(self, operation: Operation, result: OperationResult | None) -> EtcdTransition:
        return transition(operation, result)

    def expected(self, state: EtcdState, operation: Operation) -> tuple[OperationResult, EtcdState]:
        return apply(state, operation)

    def has_effect(self, operation: Operation) -> bool:
        if isinstance(operation, EtcdLeaseGrant):
            return operation.lease_id != 0
        return not isinstance(operation, EtcdRange | EtcdLeaseKeepalive)

    def read_only(self, operation: Operation, result: OperationResult) -> bool:
        if isinstance(result, ErrorResult) or isinstance(operation, EtcdRange | EtcdLeaseKeepalive):
            return True
        if isinstance(operation, EtcdTxn) and isinstance(result, TxnResult):
            branch = operation.success if result.succeeded else operation.failure
            return all(isinstance(item, EtcdRange) for item in branch)
        return False

    def checked(self, record: OperationRecord) -> bool:
        operation = record.operation
        return not (isinstance(operation, EtcdRange) and operation.serializable)

    def invalid_reason(self, record: OperationRecord) -> str | None:
        return check_record(record)

    def partition_key(self, operation: Operation) -> str | None:
        del operation  # revisions are global: no partitions
        return None

    def describe_operation(self, operation: Operation) -> str:
        return describe_operation(operation)

    def describe_result(self, result: OperationResult) -> str:
        return describe_result(result)

    def describe_state(self, state: EtcdState) -> str:
        live = tuple(state.keys[key] for key in sorted(state.keys))
        return f"revision {state.revision}, keys {_describe_kvs(live)}"
