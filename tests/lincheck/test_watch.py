"""The watch checker: a correct stream passes, and breaking each guarantee is reported with the
wording of etcd's API guarantees page."""

import pytest

from models.etcd import (
    CompactionRequest,
    CompactionResponse,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    KeyValue,
    PutRequest,
    PutResponse,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from models.history import OperationRecord, WatchMessage, WatchRecord
from spec.etcd.watch import check_watches
from tests.lincheck.builders import header, key_value, operation

# Revision 2: a=1; 3: b=2; 4: a=3 and b=4 in one txn; 5: delete a; then compact at 3.
WRITES: list[OperationRecord] = [
    operation(1, 0, 1, PutRequest(key=b"a", value=b"1"), PutResponse(header=header(2))),
    operation(1, 2, 3, PutRequest(key=b"b", value=b"2"), PutResponse(header=header(3))),
    operation(
        1,
        4,
        5,
        TxnRequest(success=(PutRequest(key=b"a", value=b"3"), PutRequest(key=b"b", value=b"4"))),
        TxnResponse(
            header=header(4),
            succeeded=True,
            responses=(PutResponse(header=header(4)), PutResponse(header=header(4))),
        ),
    ),
    operation(
        1, 6, 7, DeleteRangeRequest(key=b"a"), DeleteRangeResponse(header=header(5), deleted=1)
    ),
    operation(1, 8, 9, CompactionRequest(revision=3), CompactionResponse(header=header(5))),
]
ORDER = [0, 1, 2, 3, 4]

A1 = key_value(b"a", b"1", 2, 2, 1)
B2 = key_value(b"b", b"2", 3, 3, 1)
A3 = key_value(b"a", b"3", 2, 4, 2)
B4 = key_value(b"b", b"4", 3, 4, 2)
PUT_A1 = Event(type="PUT", kv=A1)
PUT_B2 = Event(type="PUT", kv=B2)
PUT_A3 = Event(type="PUT", kv=A3, prev_kv=A1)
PUT_B4 = Event(type="PUT", kv=B4, prev_kv=B2)
DELETE_A = Event(type="DELETE", kv=KeyValue(key=b"a", mod_revision=5), prev_kv=A3)


def response(time: int, revision: int, *events: Event) -> WatchMessage:
    return WatchMessage(time=time, response=WatchResponse(header=header(revision), events=events))


CREATED = WatchMessage(time=0, response=WatchResponse(header=header(1), created=True))
GOOD = (
    CREATED,
    response(1, 2, PUT_A1),
    response(3, 3, PUT_B2),
    response(5, 4, PUT_A3, PUT_B4),
    response(7, 5, DELETE_A),
    response(8, 5),
)
EVERYTHING = WatchCreateRequest(key=b"\0", range_end=b"\0", start_revision=2, prev_kv=True)


def guarantees(request: WatchCreateRequest, messages: tuple[WatchMessage, ...]) -> set[str]:
    watch = WatchRecord(client_id=9, request=request, messages=messages)
    return {problem.guarantee for problem in check_watches(WRITES, [watch], ORDER)}


def test_correct_stream_passes() -> None:
    assert guarantees(EVERYTHING, GOOD) == set()


def test_resumed_single_key_watch_passes() -> None:
    request = WatchCreateRequest(key=b"b", start_revision=4)
    assert guarantees(request, (CREATED, response(5, 4, PUT_B4), response(8, 5))) == set()


def test_a_stream_error_ends_the_stream_without_breaking_anything() -> None:
    ended = WatchMessage(time=9, error="connection reset")
    assert guarantees(EVERYTHING, (*GOOD, ended)) == set()


@pytest.mark.parametrize(
    ("broken", "messages"),
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
                response(5, 4, PUT_A3, Event(type="PUT", kv=key_value(b"b", b"5", 3, 4, 2))),
            ),
        ),
        (
            "PrevKV",
            (*GOOD[:3], response(5, 4, PUT_A3, Event(type="PUT", kv=B4, prev_kv=A1))),
        ),
    ],
)
def test_each_broken_guarantee_is_reported(broken: str, messages: tuple[WatchMessage, ...]) -> None:
    assert broken in guarantees(EVERYTHING, messages)


def test_resumable_first_event_must_be_the_start_revision() -> None:
    request = WatchCreateRequest(key=b"\0", range_end=b"\0", start_revision=3)
    found = guarantees(request, (CREATED, response(5, 4, PUT_A3, PUT_B4)))
    assert {"Resumable", "Reliable"} <= found


def test_filters() -> None:
    no_put = WatchCreateRequest(key=b"\0", range_end=b"\0", start_revision=2, filters=("NOPUT",))
    assert guarantees(no_put, (CREATED, response(7, 5, DELETE_A))) == set()
    assert "Filter" in guarantees(no_put, GOOD)
    single = WatchCreateRequest(key=b"b", start_revision=2)
    assert "Filter" in guarantees(single, (CREATED, GOOD[1]))


def test_compaction_cancel_carries_the_compaction_revision() -> None:
    request = WatchCreateRequest(key=b"a", start_revision=2)

    def canceled(compact_revision: int) -> WatchMessage:
        cancel = WatchResponse(header=header(5), canceled=True, compact_revision=compact_revision)
        return WatchMessage(time=10, response=cancel)

    assert guarantees(request, (CREATED, canceled(3))) == set()
    assert "Compaction" in guarantees(request, (CREATED, canceled(4)))
