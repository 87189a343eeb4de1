"""A history recorded from a real etcd 3.4.23 (4 clients, 25 operations each: puts, ranges,
deletes and create-if-absent txns on keys a, b, c over the JSON gateway, times in ns): it is
linearizable, and turning one range into a stale read (an older value of its key, written by a
put that had already returned) makes it not linearizable, with that range as the culprit."""

from pathlib import Path

import msgspec

from models.etcd import PutRequest, PutResponse, RangeRequest, RangeResponse
from models.history import History, parse_history
from spec.etcd.keyspace import EtcdModel
from spec.linearizability import Budget
from spec.linearizability_report import check_history

DATA = Path(__file__).resolve().parent / "data" / "etcd-3.4.23-history.jsonl"


def revision_of(result: object) -> int:
    """A put response's header revision (0 for anything else)."""
    return result.header.revision if isinstance(result, PutResponse) else 0


def load() -> History:
    return parse_history(DATA.read_text()).unwrap()


def test_recorded_etcd_history_is_linearizable() -> None:
    history = load()
    assert len(history.operations) == 100
    report = check_history(EtcdModel(), history.operations, Budget(max_steps=1_000_000))
    assert report.verdict == "linearizable"


def test_stale_read_in_the_recorded_history_is_found() -> None:
    operations = list(load().operations)
    puts = [record for record in operations if isinstance(record.operation, PutRequest)]
    target = None
    for index in range(len(operations) - 1, -1, -1):
        record = operations[index]
        if not isinstance(record.operation, RangeRequest):
            continue
        assert isinstance(record.result, RangeResponse)
        if not record.result.kvs:
            continue
        current = record.result.kvs[0]
        older = [
            put
            for put in puts
            if isinstance(put.operation, PutRequest)
            and put.operation.key == current.key
            and put.return_time is not None
            and put.return_time < record.call_time
            and revision_of(put.result) < current.mod_revision
            and put.operation.value != current.value
        ]
        if older:
            target = index
            old = older[-1]
            assert isinstance(old.operation, PutRequest)
            stale = msgspec.structs.replace(
                current, value=old.operation.value, mod_revision=revision_of(old.result)
            )
            operations[index] = msgspec.structs.replace(
                record, result=msgspec.structs.replace(record.result, kvs=(stale,))
            )
            break
    assert target is not None, "the recording has a range after an overwritten put"
    report = check_history(EtcdModel(), operations, Budget(max_steps=2_000_000))
    assert report.verdict == "not_linearizable"
    assert report.violation is not None
    assert report.violation.culprit == target
