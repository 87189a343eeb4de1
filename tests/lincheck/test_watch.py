"""The watch checker: a correct stream passes, and breaking each guarantee is reported with the
wording of etcd's API guarantees page."""

import pytest

from models.history import (
    CompactResult,
    DeleteResult,
    EtcdCompact,
    EtcdDelete,
    EtcdPut,
    EtcdTxn,
    KeyValue,
    OperationRecord,
    PutResult,
    TxnResult,
    WatchEvent,
    WatchRecord,
    WatchRequest,
    WatchResponse,
)
from spec.etcd.watch import check_watches
from tests.lincheck.builders import operation


def kv(key: str, value: str, created: int, modified: int, version: int) -> KeyValue:
    return KeyValue(
        key=key, value=value, create_revision=created, mod_revision=modified, version=version
    )


# Revision 2: a=1; 3: b=2; 4: a=3 and b=4 in one txn; 5: delete a; then compact at 3.
WRITES: list[OperationRecord] = [
    operation(1, 0, 1, EtcdPut(key="a", value="1"), PutResult(revision=2)),
    operation(1, 2, 3, EtcdPut(key="b", value="2"), PutResult(revision=3)),
    operation(
        1,
        4,
        5,
        EtcdTxn(success=(EtcdPut(key="a", value="3"), EtcdPut(key="b", value="4"))),
        TxnResult(revision=4, succeeded=True, responses=(PutResult(), PutResult())),
    ),
    operation(1, 6, 7, EtcdDelete(key="a"), DeleteResult(revision=5, deleted=1)),
    operation(1, 8, 9, EtcdCompact(revision=3), CompactResult(revision=5)),
]
ORDER = [0, 1, 2, 3, 4]

A1 = kv("a", "1", 2, 2, 1)
B2 = kv("b", "2", 3, 3, 1)
A3 = kv("a", "3", 2, 4, 2)
B4 = kv("b", "4", 3, 4, 2)
PUT_A1 = WatchEvent(type="put", kv=A1)
PUT_B2 = WatchEvent(type="put", kv=B2)
PUT_A3 = WatchEvent(type="put", kv=A3, prev_kv=A1)
PUT_B4 = WatchEvent(type="put", kv=B4, prev_kv=B2)
DELETE_A = WatchEvent(type="delete", kv=KeyValue(key="a", mod_revision=5), prev_kv=A3)


def response(time: int, revision: int, *events: WatchEvent) -> WatchResponse:
    return WatchResponse(time=time, revision=revision, events=events)


CREATED = WatchResponse(time=0, revision=1, created=True)
GOOD = (
    CREATED,
    response(1, 2, PUT_A1),
    response(3, 3, PUT_B2),
    response(5, 4, PUT_A3, PUT_B4),
    response(7, 5, DELETE_A),
    response(8, 5),
)
EVERYTHING = WatchRequest(key="\0", range_end="\0", start_revision=2, prev_kv=True)


def guarantees(request: WatchRequest, responses: tuple[WatchResponse, ...]) -> set[str]:
    watch = WatchRecord(client_id=9, request=request, responses=responses)
    return {problem.guarantee for problem in check_watches(WRITES, [watch], ORDER)}


def test_correct_stream_passes() -> None:
    assert guarantees(EVERYTHING, GOOD) == set()


def test_resumed_single_key_watch_passes() -> None:
    request = WatchRequest(key="b", start_revision=4)
    assert guarantees(request, (CREATED, response(5, 4, PUT_B4), response(8, 5))) == set()


@pytest.mark.parametrize(
    ("broken", "responses"),
    [
        ("Ordered", (CREATED, GOOD[2], GOOD[1], *GOOD[3:])),
        ("Unique", (*GOOD[:3], GOOD[2], *GOOD[3:])),
        ("Atomic", (*GOOD[:3], response(5, 4, PUT_A3), response(5, 4, PUT_B4), *GOOD[4:])),
        ("Bookmarkable", (*GOOD[:4], response(6, 5), GOOD[4])),
        ("Reliable", (GOOD[0], GOOD[1], *GOOD[3:])),
        ("Created", GOOD[1:]),
        (
            "IsCreate/KeyValue",
            (
                *GOOD[:3],
                response(5, 4, PUT_A3, WatchEvent(type="put", kv=kv("b", "5", 3, 4, 2))),
            ),
        ),
        (
            "PrevKV",
            (*GOOD[:3], response(5, 4, PUT_A3, WatchEvent(type="put", kv=B4, prev_kv=A1))),
        ),
    ],
)
def test_each_broken_guarantee_is_reported(
    broken: str, responses: tuple[WatchResponse, ...]
) -> None:
    assert broken in guarantees(EVERYTHING, responses)


def test_resumable_first_event_must_be_the_start_revision() -> None:
    request = WatchRequest(key="\0", range_end="\0", start_revision=3)
    found = guarantees(request, (CREATED, response(5, 4, PUT_A3, PUT_B4)))
    assert {"Resumable", "Reliable"} <= found


def test_filters() -> None:
    no_put = WatchRequest(key="\0", range_end="\0", start_revision=2, filters=("noput",))
    assert guarantees(no_put, (CREATED, response(7, 5, DELETE_A))) == set()
    assert "Filter" in guarantees(no_put, GOOD)
    single = WatchRequest(key="b", start_revision=2)
    assert "Filter" in guarantees(single, (CREATED, GOOD[1]))


def test_compaction_cancel_carries_the_compaction_revision() -> None:
    request = WatchRequest(key="a", start_revision=2)
    right = WatchResponse(time=10, canceled=True, compact_revision=3)
    wrong = WatchResponse(time=10, canceled=True, compact_revision=4)
    assert guarantees(request, (CREATED, right)) == set()
    assert "Compaction" in guarantees(request, (CREATED, wrong))
