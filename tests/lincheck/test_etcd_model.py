"""etcd's keyspace model against values computed by hand from etcd's documented semantics
(revisions start at 1, one revision per writing request, versions count puts since creation)."""

from models.etcd import (
    ERROR_COMPACTED,
    ERROR_DUPLICATE_KEY,
    ERROR_FUTURE_REVISION,
    ERROR_LEASE_NOT_FOUND,
    CompactionRequest,
    CompactionResponse,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    LeaseGrantRequest,
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
)
from models.history import Operation, OperationResult
from spec.etcd.keyspace import EtcdModel, EtcdState, apply
from spec.linearizability import Budget
from spec.linearizability_report import check_history
from tests.lincheck.builders import header, key_value, operation

INNER = ResponseHeader()  # inner txn responses carry no header of their own in the model


def run(*operations: Operation) -> tuple[list[OperationResult], EtcdState]:
    state = EtcdState()
    results = []
    for request in operations:
        result, state = apply(state, request)
        results.append(result)
    return results, state


def test_puts_bump_revision_and_version() -> None:
    results, state = run(
        PutRequest(key=b"a", value=b"1"), PutRequest(key=b"a", value=b"2", prev_kv=True)
    )
    first = key_value(b"a", b"1", 2, 2, 1)
    assert results == [
        PutResponse(header=header(2)),
        PutResponse(header=header(3), prev_kv=first),
    ]
    assert state.keys[b"a"] == key_value(b"a", b"2", 2, 3, 2)


def test_delete_of_a_missing_key_writes_nothing() -> None:
    results, state = run(
        DeleteRangeRequest(key=b"a"), PutRequest(key=b"a", value=b"1"), DeleteRangeRequest(key=b"a")
    )
    assert results == [
        DeleteRangeResponse(header=header(1), deleted=0),
        PutResponse(header=header(2)),
        DeleteRangeResponse(header=header(3), deleted=1),
    ]
    assert state.revision == 3
    assert b"a" not in state.keys


def test_recreated_key_starts_at_version_one() -> None:
    _, state = run(
        PutRequest(key=b"a", value=b"1"),
        DeleteRangeRequest(key=b"a"),
        PutRequest(key=b"a", value=b"2"),
    )
    assert state.keys[b"a"] == key_value(b"a", b"2", 4, 4, 1)


def test_txn_compare_on_mod_revision_and_one_revision_for_all_writes() -> None:
    guard = Compare(key=b"a", target="MOD", result="EQUAL", mod_revision=2)
    txn = TxnRequest(
        compare=(guard,),
        success=(
            PutRequest(key=b"a", value=b"2"),
            PutRequest(key=b"b", value=b"3"),
            RangeRequest(key=b"b"),
        ),
        failure=(RangeRequest(key=b"a"),),
    )
    results, state = run(PutRequest(key=b"a", value=b"1"), txn, txn)
    b = key_value(b"b", b"3", 3, 3, 1)
    assert results[1] == TxnResponse(
        header=header(3),
        succeeded=True,
        responses=(
            PutResponse(header=INNER),
            PutResponse(header=INNER),
            RangeResponse(header=INNER, kvs=(b,), count=1),
        ),
    )
    a = key_value(b"a", b"2", 2, 3, 2)
    # The second time mod(a) is 3: the failure branch reads a, and nothing is written.
    assert results[2] == TxnResponse(
        header=header(3),
        succeeded=False,
        responses=(RangeResponse(header=INNER, kvs=(a,), count=1),),
    )
    assert state.revision == 3


def test_value_compare_on_a_missing_key_fails() -> None:
    guard = Compare(key=b"x", target="VALUE", result="NOT_EQUAL", value=b"v")
    results, _ = run(TxnRequest(compare=(guard,), success=(PutRequest(key=b"x", value=b"v"),)))
    assert results == [TxnResponse(header=header(1), succeeded=False)]
    create = Compare(key=b"x", target="CREATE", result="EQUAL", create_revision=0)
    results, _ = run(TxnRequest(compare=(create,), success=(PutRequest(key=b"x", value=b"v"),)))
    assert results == [
        TxnResponse(header=header(2), succeeded=True, responses=(PutResponse(header=INNER),))
    ]


def test_compare_over_a_range_needs_every_key() -> None:
    # etcd's applyCompare: with a range_end, every key in the range must pass.
    setup = (PutRequest(key=b"a1", value=b"x"), PutRequest(key=b"a2", value=b"y"))
    every = Compare(key=b"a", range_end=b"b", target="VALUE", result="GREATER", value=b"w")
    one = Compare(key=b"a", range_end=b"b", target="VALUE", result="EQUAL", value=b"x")
    results, _ = run(*setup, TxnRequest(compare=(every,)), TxnRequest(compare=(one,)))
    assert [result.succeeded for result in results[2:]] == [True, False]  # type: ignore[union-attr]


def test_duplicate_key_in_txn_is_rejected() -> None:
    txn = TxnRequest(success=(PutRequest(key=b"a", value=b"1"), PutRequest(key=b"a", value=b"2")))
    results, state = run(txn)
    assert results == [ERROR_DUPLICATE_KEY]
    assert state.revision == 1


def test_range_prefix_limit_and_old_revision() -> None:
    results, _ = run(
        PutRequest(key=b"a/1", value=b"x"),
        PutRequest(key=b"a/2", value=b"y"),
        PutRequest(key=b"b", value=b"z"),
        RangeRequest(key=b"a/", range_end=b"a0", limit=1),
        RangeRequest(key=b"a/", range_end=b"a0", revision=2),
        RangeRequest(key=b"a", revision=9),
    )
    one = key_value(b"a/1", b"x", 2, 2, 1)
    assert results[3] == RangeResponse(header=header(4), kvs=(one,), count=2, more=True)
    assert results[4] == RangeResponse(header=header(4), kvs=(one,), count=1)
    assert results[5] == ERROR_FUTURE_REVISION


def test_compaction_errors() -> None:
    results, _ = run(
        PutRequest(key=b"a", value=b"1"),
        PutRequest(key=b"a", value=b"2"),
        CompactionRequest(revision=3),
        RangeRequest(key=b"a", revision=2),
        RangeRequest(key=b"a", revision=3),
        CompactionRequest(revision=3),
        CompactionRequest(revision=5),
    )
    assert results[2] == CompactionResponse(header=header(3))
    assert results[3] == ERROR_COMPACTED
    assert isinstance(results[4], RangeResponse)
    assert results[4].count == 1
    assert results[5] == ERROR_COMPACTED
    assert results[6] == ERROR_FUTURE_REVISION


def test_lease_revoke_deletes_attached_keys_in_one_revision() -> None:
    results, state = run(
        LeaseGrantRequest(TTL=60, ID=7),
        PutRequest(key=b"a", value=b"1", lease=7),
        PutRequest(key=b"b", value=b"2", lease=7),
        PutRequest(key=b"c", value=b"3"),
        PutRequest(key=b"d", value=b"4", lease=8),
        LeaseRevokeRequest(ID=7),
        LeaseKeepAliveRequest(ID=7),
        LeaseRevokeRequest(ID=7),
    )
    assert results[4] == ERROR_LEASE_NOT_FOUND
    assert results[5] == LeaseRevokeResponse(header=header(5))
    assert results[6] == LeaseKeepAliveResponse(header=header(5), ID=7, TTL=0)
    assert results[7] == ERROR_LEASE_NOT_FOUND
    assert sorted(state.keys) == [b"c"]


def test_stale_read_in_an_etcd_history_is_a_violation() -> None:
    model = EtcdModel()
    kv = key_value(b"a", b"1", 2, 2, 1)
    put = operation(1, 0, 1, PutRequest(key=b"a", value=b"1"), PutResponse(header=header(2)))
    fresh = operation(
        2, 2, 3, RangeRequest(key=b"a"), RangeResponse(header=header(2), kvs=(kv,), count=1)
    )
    stale = operation(2, 4, 5, RangeRequest(key=b"a"), RangeResponse(header=header(1)))
    assert check_history(model, [put, fresh], Budget()).verdict == "linearizable"
    report = check_history(model, [put, fresh, stale], Budget())
    assert report.verdict == "not_linearizable"
    assert report.violation is not None
    assert report.violation.culprit == 2
    # After the put returned, a range can only see a=1 at revision 2.
    assert report.violation.possible_results == ("{'a': '1'@2} count=1 at revision 2",)


def test_a_real_header_with_cluster_member_and_term_is_judged_on_its_revision() -> None:
    model = EtcdModel()
    real = ResponseHeader(cluster_id=14841639068965178418, member_id=10276657743932975437,
                          revision=2, raft_term=3)  # fmt: skip
    put = operation(1, 0, 1, PutRequest(key=b"a", value=b"1"), PutResponse(header=real))
    assert check_history(model, [put], Budget()).verdict == "linearizable"


def test_unknown_put_may_have_happened() -> None:
    model = EtcdModel()
    kv = key_value(b"a", b"1", 2, 2, 1)
    lost = operation(1, 0, None, PutRequest(key=b"a", value=b"1"), None)
    seen = operation(
        2, 5, 6, RangeRequest(key=b"a"), RangeResponse(header=header(2), kvs=(kv,), count=1)
    )
    not_seen = operation(3, 1, 2, RangeRequest(key=b"a"), RangeResponse(header=header(1)))
    assert check_history(model, [lost, not_seen, seen], Budget()).verdict == "linearizable"
    # A serializable read may be stale: it is not checked.
    stale = operation(
        3, 7, 8, RangeRequest(key=b"a", serializable=True), RangeResponse(header=header(1))
    )
    assert check_history(model, [lost, seen, stale], Budget()).verdict == "linearizable"
