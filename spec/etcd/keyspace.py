"""Sequential reference model of etcd's keyspace (v3 API, etcd 3.4 semantics), for checking
histories.

The model speaks etcd's own messages (:mod:`models.etcd`: requests in, responses or errors
out, keys and values as bytes). The state is an ``immutables.Map`` of live keys to
:class:`~models.etcd.KeyValue` plus the revision counter, the compaction revision, the leases
and the keys at every revision (for ranges at an old revision). The rules, from etcd's mvcc
package and its robustness-test model (reference notes §3.2, §3.7, §4.4):

* the store starts empty at revision 1; every request that writes (a put, a delete that removes
  a key, a txn with such an op, a revoke that removes keys) gets exactly one new revision;
* a put sets ``mod_revision`` to that revision, ``version`` to old+1 (1 for a new key, with
  ``create_revision`` = the revision); a delete removes the key;
* a txn evaluates its compares on the current keys (every key of a compare's range must pass; a
  missing key has version, create, mod and lease 0, and any compare on its value fails), then
  runs the success or failure ops in order, later ops seeing earlier writes; keys written twice
  in one branch are rejected;
* a range at revision 0 reads the current keys; at a revision above the current one it fails
  with "required revision is a future revision", below the compaction revision with "required
  revision has been compacted"; the response header carries the current revision;
* a lease must exist to attach keys to it; revoking it deletes its keys; a keepalive of an
  unknown lease answers TTL 0; lease expiry by wall clock is not modelled;
* compaction to a revision at or below the compaction revision fails with "compacted", above
  the current revision with "future revision".

What the model does not decide is left out of the comparison (:func:`normalize`): the header's
cluster, member and term, inner txn headers, a granted TTL, a keepalive's TTL beyond "alive"
and its header, a compaction's header beyond a lower bound (:func:`header_revision_fits`), and
an error's gRPC code (its message is compared). Operations touch a global revision counter, so
etcd histories are not split per key. Human descriptions are in :mod:`spec.etcd.describe`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import immutables
import msgspec

from models.etcd import (
    ERROR_COMPACTED,
    ERROR_DUPLICATE_KEY,
    ERROR_FUTURE_REVISION,
    ERROR_LEASE_EXISTS,
    ERROR_LEASE_NOT_FOUND,
    CompactionRequest,
    CompactionResponse,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    KeyValue,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseRevokeRequest,
    LeaseRevokeResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    ResponseHeader,
    TxnRequest,
    TxnResponse,
    range_end_covers,
)
from models.history import Operation, OperationRecord, OperationResult
from spec.etcd.describe import describe_kvs, describe_operation, describe_result
from spec.linearizability import ILLEGAL, Illegal

Keys = immutables.Map[bytes, KeyValue]
BranchOp = RangeRequest | PutRequest | DeleteRangeRequest
BranchResponse = RangeResponse | PutResponse | DeleteRangeResponse


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
    leases: immutables.Map[int, frozenset[bytes]] = msgspec.field(default_factory=immutables.Map)
    lineage: int = 0
    snapshots: immutables.Map[int, Keys] = msgspec.field(default_factory=immutables.Map)
    """The keys as they were after each revision (revision 1: empty)."""

    def __hash__(self) -> int:
        return hash((self.revision, self.compact_revision, self.keys, self.leases, self.lineage))


def header(revision: int) -> ResponseHeader:
    """The header the model gives a response: only the revision is determined."""
    return ResponseHeader(revision=revision)


def select(keys: Keys, start: bytes, end: bytes) -> list[KeyValue]:
    """The live key-values in etcd's range ``[start, end)``, by key."""
    if not end:
        found = keys.get(start)
        return [] if found is None else [found]
    return [keys[key] for key in sorted(keys) if range_end_covers(start, end, key)]


def _compare_one(current: KeyValue, compare: Compare) -> bool:
    """etcd's ``compareKV``: the target of ``current`` against the compare's operand."""
    actual: int | bytes
    operand: int | bytes
    if compare.target == "VALUE":
        actual, operand = current.value, compare.value
    else:
        actual, operand = {
            "VERSION": (current.version, compare.version),
            "CREATE": (current.create_revision, compare.create_revision),
            "MOD": (current.mod_revision, compare.mod_revision),
            "LEASE": (current.lease, compare.lease),
        }[compare.target]
    if compare.result == "EQUAL":
        return actual == operand
    if compare.result == "NOT_EQUAL":
        return actual != operand
    if compare.result == "GREATER":
        return actual > operand  # type: ignore[operator]
    return actual < operand  # type: ignore[operator]


def _compare_holds(keys: Keys, compare: Compare) -> bool:
    """etcd's ``applyCompare``: every key of the range passes; none at all is compared as a
    missing key (zero fields), except that a value compare then fails."""
    found = select(keys, compare.key, compare.range_end)
    if not found:
        return compare.target != "VALUE" and _compare_one(KeyValue(key=compare.key), compare)
    return all(_compare_one(kv, compare) for kv in found)


def _range_response(keys: Keys, request: RangeRequest, revision: int) -> RangeResponse:
    found = select(keys, request.key, request.range_end)
    count = len(found)
    if request.count_only:
        return RangeResponse(header=header(revision), count=count)
    if request.limit > 0:
        found = found[: request.limit]
    if request.keys_only:
        found = [msgspec.structs.replace(kv, value=b"") for kv in found]
    more = count > len(found)
    return RangeResponse(header=header(revision), kvs=tuple(found), count=count, more=more)


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

    def put(self, request: PutRequest) -> PutResponse:
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
        return PutResponse(header=header(0), prev_kv=previous if request.prev_kv else None)

    def delete(self, request: DeleteRangeRequest) -> DeleteRangeResponse:
        found = select(self.keys, request.key, request.range_end)
        for kv in found:
            self._detach(kv)
            self.keys = self.keys.delete(kv.key)
        self.changed = self.changed or bool(found)
        previous = tuple(found) if request.prev_kv else ()
        return DeleteRangeResponse(header=header(0), deleted=len(found), prev_kvs=previous)

    def run(self, operation: BranchOp) -> BranchResponse:
        if isinstance(operation, PutRequest):
            return self.put(operation)
        if isinstance(operation, DeleteRangeRequest):
            return self.delete(operation)
        keys = self.keys
        if 0 < operation.revision <= self.state.revision:
            keys = _keys_at(self.state, operation.revision)
        return _range_response(keys, operation, 0)

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


def _duplicate_key(operations: tuple[BranchOp, ...]) -> EtcdError | None:
    """etcd's first request check: no key written twice in one branch (a put twice, or a put
    inside a deleted range)."""
    put_keys: set[bytes] = set()
    for operation in operations:
        if isinstance(operation, PutRequest):
            if operation.key in put_keys:
                return ERROR_DUPLICATE_KEY
            put_keys.add(operation.key)
    for operation in operations:
        if isinstance(operation, DeleteRangeRequest):
            for key in put_keys:
                if range_end_covers(operation.key, operation.range_end, key):
                    return ERROR_DUPLICATE_KEY
    return None


def _unknown_lease(state: EtcdState, operations: tuple[BranchOp, ...]) -> EtcdError | None:
    """The check of the branch that runs: every lease a put attaches exists."""
    for operation in operations:
        if not isinstance(operation, PutRequest):
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


def _check_range(state: EtcdState, request: RangeRequest) -> EtcdError | None:
    if request.revision > state.revision:
        return ERROR_FUTURE_REVISION
    if 0 < request.revision < state.compact_revision:
        return ERROR_COMPACTED
    return None


def branch(operation: TxnRequest, succeeded: bool) -> tuple[BranchOp, ...]:
    """The ops of the branch that runs (the model has no nested txns: ``check_record``
    refuses them)."""
    ops = operation.success if succeeded else operation.failure
    return tuple(op for op in ops if not isinstance(op, TxnRequest))


def apply(state: EtcdState, operation: Operation) -> tuple[OperationResult, EtcdState]:
    """etcd's answer to ``operation`` in ``state`` and the state after it."""
    if isinstance(operation, RangeRequest):
        problem = _check_range(state, operation)
        if problem is not None:
            return problem, state
        keys = state.keys
        if operation.revision > 0:
            keys = _keys_at(state, operation.revision)
        return _range_response(keys, operation, state.revision), state
    if isinstance(operation, PutRequest | DeleteRangeRequest):
        result, after = apply(state, TxnRequest(success=(operation,)))
        if isinstance(result, TxnResponse):
            only = result.responses[0]
            return msgspec.structs.replace(only, header=result.header), after
        return result, after
    if isinstance(operation, TxnRequest):
        return _apply_txn(state, operation)
    return _apply_lease_or_compact(state, operation)


def _apply_txn(state: EtcdState, operation: TxnRequest) -> tuple[OperationResult, EtcdState]:
    # etcd rejects a key written twice in either branch before evaluating anything.
    for succeeded in (True, False):
        duplicate = _duplicate_key(branch(operation, succeeded))
        if duplicate is not None:
            return duplicate, state
    succeeded = all(_compare_holds(state.keys, compare) for compare in operation.compare)
    ops = branch(operation, succeeded)
    problem = _unknown_lease(state, ops)
    for request in ops:
        if isinstance(request, RangeRequest) and problem is None:
            problem = _check_range(state, request)
    if problem is not None:
        return problem, state
    writer = _Writer(state)
    responses = tuple(writer.run(request) for request in ops)
    after = writer.finish()
    answer = TxnResponse(header=header(after.revision), succeeded=succeeded, responses=responses)
    return answer, after


def _apply_lease_or_compact(
    state: EtcdState, operation: Operation
) -> tuple[OperationResult, EtcdState]:
    if isinstance(operation, LeaseGrantRequest):
        if operation.ID in state.leases:
            return ERROR_LEASE_EXISTS, state
        leases = state.leases.set(operation.ID, frozenset())
        granted = LeaseGrantResponse(header=header(state.revision), ID=operation.ID)
        return granted, msgspec.structs.replace(state, leases=leases)
    if isinstance(operation, LeaseRevokeRequest):
        if operation.ID not in state.leases:
            return ERROR_LEASE_NOT_FOUND, state
        writer = _Writer(state)
        for key in sorted(state.leases[operation.ID]):
            writer.delete(DeleteRangeRequest(key=key))
        after = writer.finish()
        after = msgspec.structs.replace(after, leases=after.leases.delete(operation.ID))
        return LeaseRevokeResponse(header=header(after.revision)), after
    if isinstance(operation, LeaseKeepAliveRequest):
        alive = 1 if operation.ID in state.leases else 0
        kept = LeaseKeepAliveResponse(header=header(state.revision), ID=operation.ID, TTL=alive)
        return kept, state
    assert isinstance(operation, CompactionRequest), f"not an etcd operation: {operation!r}"
    if operation.revision <= state.compact_revision:
        return ERROR_COMPACTED, state
    if operation.revision > state.revision:
        return ERROR_FUTURE_REVISION, state
    after = msgspec.structs.replace(state, compact_revision=operation.revision)
    return CompactionResponse(header=header(state.revision)), after


UNDETERMINED = ResponseHeader()


def normalize(result: OperationResult) -> OperationResult:
    """The parts of a result the model determines (see the module docstring)."""
    if isinstance(result, EtcdError):
        return msgspec.structs.replace(result, code=0)
    if not isinstance(
        result,
        RangeResponse
        | PutResponse
        | DeleteRangeResponse
        | TxnResponse
        | LeaseGrantResponse
        | LeaseRevokeResponse
        | LeaseKeepAliveResponse
        | CompactionResponse,
    ):
        return result
    determined = header(result.header.revision)
    if isinstance(result, TxnResponse):
        responses = tuple(
            msgspec.structs.replace(item, header=UNDETERMINED) for item in result.responses
        )
        return msgspec.structs.replace(result, header=determined, responses=responses)
    if isinstance(result, LeaseGrantResponse):
        return msgspec.structs.replace(result, header=determined, TTL=0)
    if isinstance(result, LeaseKeepAliveResponse):
        # etcd answers a keepalive outside Raft: the leader's lessor decides the TTL, the
        # member the client talks to fills the header from its own applied revision, which may
        # lag. Only "alive or not" is linearizable.
        return msgspec.structs.replace(result, header=UNDETERMINED, TTL=min(result.TTL, 1))
    if isinstance(result, CompactionResponse):
        return msgspec.structs.replace(result, header=UNDETERMINED)
    return msgspec.structs.replace(result, header=determined)


def header_revision_fits(state: EtcdState, result: OperationResult) -> bool:
    """Whether a compaction's header revision can be etcd's from ``state``.

    etcd 3.4 (etcdserver/v3_server.go, ``Compact``) fills that header after the apply, from the
    serving member's own store (``resp.Header.Revision = s.kv.Rev()``), not at the compaction's
    place in the Raft log: the member has applied at least up to the compaction, perhaps more,
    and perhaps not yet a write another member already acknowledged. So the header is at least
    the revision where the compaction is linearized; no upper bound is determined.
    """
    if not isinstance(result, CompactionResponse):
        return True
    return result.header.revision >= state.revision


EtcdTransition = Callable[[EtcdState], EtcdState | Illegal]


def _determined_revision(observed: OperationResult | None) -> int:
    """The header revision the model checks in ``observed`` (0: none)."""
    found = getattr(observed, "header", None)
    return found.revision if isinstance(found, ResponseHeader) else 0


def transition(operation: Operation, result: OperationResult | None) -> EtcdTransition:
    """The search's step for one operation (see :class:`spec.linearizability.SequentialModel`)."""
    if isinstance(operation, LeaseGrantRequest) and isinstance(result, LeaseGrantResponse):
        operation = msgspec.structs.replace(operation, ID=result.ID)
    observed = None if result is None else normalize(result)
    # Every answer but an error carries the revision the store had before or after the
    # request: a state at another revision cannot produce it (a cheap test before applying).
    revision = _determined_revision(observed)

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


ANSWERS: Mapping[type, type] = {
    RangeRequest: RangeResponse,
    PutRequest: PutResponse,
    DeleteRangeRequest: DeleteRangeResponse,
    TxnRequest: TxnResponse,
    CompactionRequest: CompactionResponse,
    LeaseGrantRequest: LeaseGrantResponse,
    LeaseRevokeRequest: LeaseRevokeResponse,
    LeaseKeepAliveRequest: LeaseKeepAliveResponse,
}
"""Each request the model takes, and the response that answers it."""


def _unmodelled(operation: object) -> str | None:
    """The first request field the model does not implement, if the request sets one."""
    if isinstance(operation, RangeRequest):
        if operation.sort_order != "NONE" or operation.sort_target != "KEY":
            return "sorted ranges"
        bounds = (operation.min_mod_revision, operation.max_mod_revision)
        if any((*bounds, operation.min_create_revision, operation.max_create_revision)):
            return "ranges filtered by revision"
    if isinstance(operation, PutRequest) and (operation.ignore_value or operation.ignore_lease):
        return "put ignore_value/ignore_lease"
    if isinstance(operation, TxnRequest):
        for op in (*operation.success, *operation.failure):
            if isinstance(op, TxnRequest):
                return "nested txn"
            found = _unmodelled(op)
            if found is not None:
                return found
    return None


def check_record(
    operation: Operation, result: OperationResult | None, definite: bool
) -> str | None:
    """Why a record is not an etcd operation with a fitting result the model can judge."""
    expected = ANSWERS.get(type(operation))
    if expected is None:
        return f"operation {type(operation).__name__} is not an etcd operation"
    unmodelled = _unmodelled(operation)
    if unmodelled is not None:
        return f"the etcd model does not implement {unmodelled}"
    if not definite or result is None or isinstance(result, EtcdError):
        return None
    if not isinstance(result, expected):
        return f"result {type(result).__name__} does not answer {type(operation).__name__}"
    return None


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
        if isinstance(operation, LeaseGrantRequest):
            return operation.ID != 0  # the client never learned the id it would need
        return not isinstance(operation, RangeRequest | LeaseKeepAliveRequest)

    def read_only(self, operation: Operation, result: OperationResult) -> bool:
        if isinstance(result, EtcdError):
            return True
        if isinstance(operation, RangeRequest | LeaseKeepAliveRequest):
            return True
        if isinstance(operation, TxnRequest) and isinstance(result, TxnResponse):
            return all(isinstance(op, RangeRequest) for op in branch(operation, result.succeeded))
        return False

    def grows(self, operation: Operation) -> bool:
        del operation  # no preorder of keyspaces is used for pruning (yet)
        return False

    def reach_test(
        self, operation: Operation, result: OperationResult
    ) -> Callable[[EtcdState], bool] | None:
        del operation, result
        return None

    def checked(self, record: OperationRecord) -> bool:
        operation = record.operation
        return not (isinstance(operation, RangeRequest) and operation.serializable)

    def invalid_reason(self, record: OperationRecord) -> str | None:
        return check_record(record.operation, record.result, record.definite)

    def partition_key(self, operation: Operation) -> str | None:
        del operation  # revisions are global: no partitions
        return None

    def describe_operation(self, operation: Operation) -> str:
        return describe_operation(operation)

    def describe_result(self, result: OperationResult) -> str:
        return describe_result(result)

    def describe_state(self, state: EtcdState) -> str:
        live = tuple(state.keys[key] for key in sorted(state.keys))
        return f"revision {state.revision}, keys {describe_kvs(live)}"
