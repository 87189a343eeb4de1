"""Writes with an unknown outcome, resolved from what range watches saw."""

from models.history import (
    EtcdPut,
    EtcdTxn,
    History,
    KeyValue,
    OperationRecord,
    PutResult,
    TxnResult,
    WatchEvent,
    WatchRecord,
    WatchRequest,
    WatchResponse,
)
from runner.etcd.conform_patch import patch_history

PREFIX = WatchRequest(key="key", range_end="kez", start_revision=1, prev_kv=True)


def unknown(put: EtcdPut | EtcdTxn) -> OperationRecord:
    return OperationRecord(
        client_id=1, call_time=10, return_time=None, operation=put, definite=False
    )


def seen(request: WatchRequest, *events: WatchEvent) -> WatchRecord:
    return WatchRecord(
        client_id=9,
        request=request,
        responses=(
            WatchResponse(time=5, revision=1, created=True),
            WatchResponse(time=50, revision=3, events=events),
        ),
    )


def put_event(key: str, value: str, revision: int, version: int) -> WatchEvent:
    kv = KeyValue(key=key, value=value, create_revision=2, mod_revision=revision, version=version)
    return WatchEvent(type="put", kv=kv)


def test_a_put_seen_by_a_prefix_watch_becomes_definite_at_its_revision() -> None:
    history = History(
        operations=(unknown(EtcdPut(key="key1", value="v1")),),
        watches=(seen(PREFIX, put_event("key1", "v1", 3, 2)),),
    )
    patched, resolved = patch_history(history)
    record = patched.operations[0]
    assert (resolved, record.definite, record.return_time) == (1, True, 50)
    assert record.result == PutResult(revision=3)


def test_a_txn_branch_is_known_from_its_unique_put() -> None:
    txn = EtcdTxn(
        success=(EtcdPut(key="key1", value="a"),), failure=(EtcdPut(key="key1", value="b"),)
    )
    history = History(
        operations=(unknown(txn),), watches=(seen(PREFIX, put_event("key1", "b", 3, 1)),)
    )
    patched, _ = patch_history(history)
    assert patched.operations[0].result == TxnResult(
        revision=3, succeeded=False, responses=(PutResult(revision=3),)
    )


def test_what_cannot_be_proved_stays_unknown() -> None:
    single_key = WatchRequest(key="key1", start_revision=1)
    no_prev = WatchRequest(key="key", range_end="kez", start_revision=1)
    cases = (
        (EtcdPut(key="key1", value="v1"), single_key),
        (EtcdPut(key="key1", value="v1", prev_kv=True), no_prev),
    )
    for put, request in cases:
        history = History(
            operations=(unknown(put),), watches=(seen(request, put_event("key1", "v1", 3, 2)),)
        )
        patched, resolved = patch_history(history)
        assert (resolved, patched.operations[0].definite) == (0, False)
