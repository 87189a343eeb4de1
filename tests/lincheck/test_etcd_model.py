"""etcd's keyspace model against values computed by hand from etcd's documented semantics
(revisions start at 1, one revision per writing request, versions count puts since creation)."""

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
    LeaseKeepaliveResult,
    LeaseRevokeResult,
    Operation,
    OperationResult,
    PutResult,
    RangeResult,
    TxnResult,
)
from spec.etcd.keyspace import (
    ERROR_COMPACTED,
    ERROR_DUPLICATE_KEY,
    ERROR_FUTURE_REVISION,
    ERROR_LEASE_NOT_FOUND,
    EtcdModel,
    EtcdState,
    apply,
)
from spec.linearizability import Budget
from spec.linearizability_report import check_history
from tests.lincheck.builders import operation


def run(*operations: Operation) -> tuple[list[OperationResult], EtcdState]:
    state = EtcdState()
    results = []
    for request in operations:
        result, state = apply(state, request)
        results.append(result)
    return results, state


def test_puts_bump_revision_and_version() -> None:
    results, state = run(EtcdPut(key="a", value="1"), EtcdPut(key="a", value="2", prev_kv=True))
    first = KeyValue(key="a", value="1", create_revision=2, mod_revision=2, version=1)
    assert results == [PutResult(revision=2), PutResult(revision=3, prev_kv=first)]
    assert state.keys["a"] == KeyValue(
        key="a", value="2", create_revision=2, mod_revision=3, version=2
    )


def test_delete_of_a_missing_key_writes_nothing() -> None:
    results, state = run(EtcdDelete(key="a"), EtcdPut(key="a", value="1"), EtcdDelete(key="a"))
    assert results == [
        DeleteResult(revision=1, deleted=0),
        PutResult(revision=2),
        DeleteResult(revision=3, deleted=1),
    ]
    assert state.revision == 3
    assert "a" not in state.keys


def test_recreated_key_starts_at_version_one() -> None:
    _, state = run(EtcdPut(key="a", value="1"), EtcdDelete(key="a"), EtcdPut(key="a", value="2"))
    assert state.keys["a"] == KeyValue(
        key="a", value="2", create_revision=4, mod_revision=4, version=1
    )


def test_txn_compare_on_mod_revision_and_one_revision_for_all_writes() -> None:
    guard = Compare(key="a", target="mod", result="equal", operand=2)
    txn = EtcdTxn(
        compare=(guard,),
        success=(EtcdPut(key="a", value="2"), EtcdPut(key="b", value="3"), EtcdRange(key="b")),
        failure=(EtcdRange(key="a"),),
    )
    results, state = run(EtcdPut(key="a", value="1"), txn, txn)
    b = KeyValue(key="b", value="3", create_revision=3, mod_revision=3, version=1)
    assert results[1] == TxnResult(
        revision=3,
        succeeded=True,
        responses=(PutResult(), PutResult(), RangeResult(kvs=(b,), count=1)),
    )
    a = KeyValue(key="a", value="2", create_revision=2, mod_revision=3, version=2)
    # The second time mod(a) is 3: the failure branch reads a, and nothing is written.
    assert results[2] == TxnResult(
        revision=3, succeeded=False, responses=(RangeResult(kvs=(a,), count=1),)
    )
    assert state.revision == 3


def test_value_compare_on_a_missing_key_fails() -> None:
    guard = Compare(key="x", target="value", result="not_equal", operand="v")
    results, _ = run(EtcdTxn(compare=(guard,), success=(EtcdPut(key="x", value="v"),)))
    assert results == [TxnResult(revision=1, succeeded=False)]
    create = Compare(key="x", target="create", result="equal", operand=0)
    results, _ = run(EtcdTxn(compare=(create,), success=(EtcdPut(key="x", value="v"),)))
    assert results == [TxnResult(revision=2, succeeded=True, responses=(PutResult(),))]


def test_duplicate_key_in_txn_is_rejected() -> None:
    txn = EtcdTxn(success=(EtcdPut(key="a", value="1"), EtcdPut(key="a", value="2")))
    results, state = run(txn)
    assert results == [ErrorResult(message=ERROR_DUPLICATE_KEY)]
    assert state.revision == 1


def test_range_prefix_limit_and_old_revision() -> None:
    results, _ = run(
        EtcdPut(key="a/1", value="x"),
        EtcdPut(key="a/2", value="y"),
        EtcdPut(key="b", value="z"),
        EtcdRange(key="a/", range_end="a0", limit=1),
        EtcdRange(key="a/", range_end="a0", revision=2),
        EtcdRange(key="a", revision=9),
    )
    one = KeyValue(key="a/1", value="x", create_revision=2, mod_revision=2, version=1)
    assert results[3] == RangeResult(revision=4, kvs=(one,), count=2, more=True)
    assert results[4] == RangeResult(revision=4, kvs=(one,), count=1)
    assert results[5] == ErrorResult(message=ERROR_FUTURE_REVISION)


def test_compaction_errors() -> None:
    results, _ = run(
        EtcdPut(key="a", value="1"),
        EtcdPut(key="a", value="2"),
        EtcdCompact(revision=3),
        EtcdRange(key="a", revision=2),
        EtcdRange(key="a", revision=3),
        EtcdCompact(revision=3),
        EtcdCompact(revision=5),
    )
    assert results[2] == CompactResult(revision=3)
    assert results[3] == ErrorResult(message=ERROR_COMPACTED)
    assert isinstance(results[4], RangeResult)
    assert results[4].count == 1
    assert results[5] == ErrorResult(message=ERROR_COMPACTED)
    assert results[6] == ErrorResult(message=ERROR_FUTURE_REVISION)


def test_lease_revoke_deletes_attached_keys_in_one_revision() -> None:
    results, state = run(
        EtcdLeaseGrant(ttl_seconds=60, lease_id=7),
        EtcdPut(key="a", value="1", lease=7),
        EtcdPut(key="b", value="2", lease=7),
        EtcdPut(key="c", value="3"),
        EtcdPut(key="d", value="4", lease=8),
        EtcdLeaseRevoke(lease_id=7),
        EtcdLeaseKeepalive(lease_id=7),
        EtcdLeaseRevoke(lease_id=7),
    )
    assert results[4] == ErrorResult(message=ERROR_LEASE_NOT_FOUND)
    assert results[5] == LeaseRevokeResult(revision=5)
    assert results[6] == LeaseKeepaliveResult(revision=5, lease_id=7, ttl_seconds=0)
    assert results[7] == ErrorResult(message=ERROR_LEASE_NOT_FOUND)
    assert sorted(state.keys) == ["c"]


def test_stale_read_in_an_etcd_history_is_a_violation() -> None:
    model = EtcdModel()
    kv = KeyValue(key="a", value="1", create_revision=2, mod_revision=2, version=1)
    put = operation(1, 0, 1, EtcdPut(key="a", value="1"), PutResult(revision=2))
    fresh = operation(2, 2, 3, EtcdRange(key="a"), RangeResult(revision=2, kvs=(kv,), count=1))
    stale = operation(2, 4, 5, EtcdRange(key="a"), RangeResult(revision=1))
    assert check_history(model, [put, fresh], Budget()).verdict == "linearizable"
    report = check_history(model, [put, fresh, stale], Budget())
    assert report.verdict == "not_linearizable"
    assert report.violation is not None
    assert report.violation.culprit == 2
    # After the put returned, a range can only see a=1 at revision 2.
    assert report.violation.possible_results == ("{'a': '1'@2} count=1 at revision 2",)


def test_unknown_put_may_have_happened() -> None:
    model = EtcdModel()
    kv = KeyValue(key="a", value="1", create_revision=2, mod_revision=2, version=1)
    lost = operation(1, 0, None, EtcdPut(key="a", value="1"), None)
    seen = operation(2, 5, 6, EtcdRange(key="a"), RangeResult(revision=2, kvs=(kv,), count=1))
    not_seen = operation(3, 1, 2, EtcdRange(key="a"), RangeResult(revision=1))
    assert check_history(model, [lost, not_seen, seen], Budget()).verdict == "linearizable"
    # A serializable read may be stale: it is not checked.
    stale = operation(3, 7, 8, EtcdRange(key="a", serializable=True), RangeResult(revision=1))
    assert check_history(model, [lost, seen, stale], Budget()).verdict == "linearizable"
