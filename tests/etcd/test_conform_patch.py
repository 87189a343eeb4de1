"""Writes with an unknown outcome, resolved from what range watches saw."""

from models.etcd import (
    Event,
    PutRequest,
    PutResponse,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from models.history import History, OperationRecord, WatchMessage, WatchRecord
from runner.etcd.conform_patch import patch_history
from tests.lincheck.builders import header, key_value

PREFIX = WatchCreateRequest(key=b"key", range_end=b"kez", start_revision=1, prev_kv=True)


def unknown(put: PutRequest | TxnRequest) -> OperationRecord:
    return OperationRecord(
        client_id=1, call_time=10, return_time=None, operation=put, definite=False
    )


def seen(request: WatchCreateRequest, *events: Event) -> WatchRecord:
    return WatchRecord(
        client_id=9,
        request=request,
        messages=(
            WatchMessage(time=5, response=WatchResponse(header=header(1), created=True)),
            WatchMessage(time=50, response=WatchResponse(header=header(3), events=events)),
        ),
    )


def put_event(key: bytes, value: bytes, revision: int, version: int) -> Event:
    return Event(type="PUT", kv=key_value(key, value, 2, revision, version))


def test_a_put_seen_by_a_prefix_watch_becomes_definite_at_its_revision() -> None:
    history = History(
        operations=(unknown(PutRequest(key=b"key1", value=b"v1")),),
        watches=(seen(PREFIX, put_event(b"key1", b"v1", 3, 2)),),
    )
    patched, resolved = patch_history(history)
    record = patched.operations[0]
    assert (resolved, record.definite, record.return_time) == (1, True, 50)
    assert record.result == PutResponse(header=header(3))


def test_a_txn_branch_is_known_from_its_unique_put() -> None:
    txn = TxnRequest(
        success=(PutRequest(key=b"key1", value=b"a"),),
        failure=(PutRequest(key=b"key1", value=b"b"),),
    )
    history = History(
        operations=(unknown(txn),), watches=(seen(PREFIX, put_event(b"key1", b"b", 3, 1)),)
    )
    patched, _ = patch_history(history)
    assert patched.operations[0].result == TxnResponse(
        header=header(3), succeeded=False, responses=(PutResponse(header=header(3)),)
    )


def test_what_cannot_be_proved_stays_unknown() -> None:
    single_key = WatchCreateRequest(key=b"key1", start_revision=1)
    no_prev = WatchCreateRequest(key=b"key", range_end=b"kez", start_revision=1)
    cases = (
        (PutRequest(key=b"key1", value=b"v1"), single_key),
        (PutRequest(key=b"key1", value=b"v1", prev_kv=True), no_prev),
    )
    for put, request in cases:
        history = History(
            operations=(unknown(put),),
            watches=(seen(request, put_event(b"key1", b"v1", 3, 2)),),
        )
        patched, resolved = patch_history(history)
        assert (resolved, patched.operations[0].definite) == (0, False)
