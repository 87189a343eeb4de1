"""The spec/etcd checkers accept what real etcd 3.4 legitimately does (seen in conformance
runs): a keepalive header revision from a lagging member, and the events of one revision in
the txn's operation order on a resumed watch."""

from models.etcd import (
    Event,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    PutRequest,
    PutResponse,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from models.history import OperationRecord, WatchMessage, WatchRecord
from spec.etcd.keyspace import EtcdModel
from spec.etcd.watch import check_watches
from spec.linearizability import Budget
from spec.linearizability_report import check_history
from tests.lincheck.builders import header, key_value, operation


def test_a_keepalive_answered_with_a_lagging_members_revision_is_linearizable() -> None:
    records: list[OperationRecord] = [
        operation(
            0, 0, 1, LeaseGrantRequest(TTL=60, ID=7), LeaseGrantResponse(header=header(1), ID=7)
        ),
        operation(0, 2, 3, PutRequest(key=b"a", value=b"1"), PutResponse(header=header(2))),
        # etcd's lessor renews on the leader; the header comes from a member still at 1.
        operation(
            1,
            4,
            5,
            LeaseKeepAliveRequest(ID=7),
            LeaseKeepAliveResponse(header=header(1), ID=7, TTL=60),
        ),
    ]
    report = check_history(EtcdModel(), records, Budget(max_steps=10_000))
    assert report.verdict == "linearizable"


def test_a_resumed_watch_may_get_a_revisions_events_in_txn_order() -> None:
    put_b = PutRequest(key=b"b", value=b"1")
    records: list[OperationRecord] = [
        operation(0, 0, 1, PutRequest(key=b"a", value=b"1"), PutResponse(header=header(2))),
        operation(
            0,
            2,
            3,
            TxnRequest(success=(put_b, PutRequest(key=b"a", value=b"2"))),
            TxnResponse(
                header=header(3),
                succeeded=True,
                responses=(PutResponse(header=header(3)), PutResponse(header=header(3))),
            ),
        ),
    ]
    b = key_value(b"b", b"1", 3, 3, 1)
    a = key_value(b"a", b"2", 2, 3, 2)
    both = (Event(type="PUT", kv=b), Event(type="PUT", kv=a))
    watch = WatchRecord(
        client_id=9,
        request=WatchCreateRequest(key=b"a", range_end=b"c", start_revision=3),
        messages=(
            WatchMessage(time=4, response=WatchResponse(header=header(3), created=True)),
            WatchMessage(time=5, response=WatchResponse(header=header(3), events=both)),
        ),
    )
    report = check_history(EtcdModel(), records, Budget(max_steps=10_000))
    assert report.verdict == "linearizable"
    assert check_watches(records, [watch], report.orders[0][1]) == []
