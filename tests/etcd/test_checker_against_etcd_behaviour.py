"""The spec/etcd checkers accept what real etcd 3.4 legitimately does (seen in conformance
runs): a keepalive header revision from a lagging member, and the events of one revision in
the txn's operation order on a resumed watch."""

from models.history import (
    EtcdLeaseGrant,
    EtcdLeaseKeepalive,
    EtcdPut,
    EtcdTxn,
    KeyValue,
    LeaseGrantResult,
    LeaseKeepaliveResult,
    OperationRecord,
    PutResult,
    TxnResult,
    WatchEvent,
    WatchRecord,
    WatchRequest,
    WatchResponse,
)
from spec.etcd.keyspace import EtcdModel
from spec.etcd.watch import check_watches
from spec.linearizability import Budget
from spec.linearizability_report import check_history


def record(client: int, call: int, done: int, operation: object, result: object) -> OperationRecord:
    return OperationRecord(
        client_id=client,
        call_time=call,
        return_time=done,
        operation=operation,  # type: ignore[arg-type]
        result=result,  # type: ignore[arg-type]
    )


def test_a_keepalive_answered_with_a_lagging_members_revision_is_linearizable() -> None:
    records = [
        record(
            0,
            0,
            1,
            EtcdLeaseGrant(ttl_seconds=60, lease_id=7),
            LeaseGrantResult(lease_id=7, revision=1),
        ),
        record(0, 2, 3, EtcdPut(key="a", value="1"), PutResult(revision=2)),
        # etcd's lessor renews on the leader; the header comes from a member still at 1.
        record(
            1,
            4,
            5,
            EtcdLeaseKeepalive(lease_id=7),
            LeaseKeepaliveResult(lease_id=7, ttl_seconds=60, revision=1),
        ),
    ]
    report = check_history(EtcdModel(), records, Budget(max_steps=10_000))
    assert report.verdict == "linearizable"


def test_a_resumed_watch_may_get_a_revisions_events_in_txn_order() -> None:
    put_b = EtcdPut(key="b", value="1")
    records = [
        record(0, 0, 1, EtcdPut(key="a", value="1"), PutResult(revision=2)),
        record(
            0,
            2,
            3,
            EtcdTxn(success=(put_b, EtcdPut(key="a", value="2"))),
            TxnResult(revision=3, succeeded=True, responses=(PutResult(), PutResult())),
        ),
    ]
    b = KeyValue(key="b", value="1", create_revision=3, mod_revision=3, version=1)
    a = KeyValue(key="a", value="2", create_revision=2, mod_revision=3, version=2)
    watch = WatchRecord(
        client_id=9,
        request=WatchRequest(key="a", range_end="c", start_revision=3),
        responses=(
            WatchResponse(time=4, revision=3, created=True),
            WatchResponse(
                time=5,
                revision=3,
                events=(WatchEvent(type="put", kv=b), WatchEvent(type="put", kv=a)),
            ),
        ),
    )
    report = check_history(EtcdModel(), records, Budget(max_steps=10_000))
    assert report.verdict == "linearizable"
    assert check_watches(records, [watch], report.orders[0][1]) == []
