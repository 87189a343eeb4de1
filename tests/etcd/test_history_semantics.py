"""Two points where the history checker must follow what etcd 3.4 actually answers, not an
idealised register: a compaction's header revision, and the linearization that watch streams
are judged against when writes of unknown outcome could be placed in several ways.

Expected verdicts are derived from etcd's semantics by hand (revisions start at 1, each write
takes the next one; a compaction answers from the serving member's store after its apply,
etcdserver/v3_server.go ``Compact`` in v3.4: ``resp.Header.Revision = s.kv.Rev()``).
"""

from models.etcd import (
    ERROR_COMPACTED,
    CompactionRequest,
    CompactionResponse,
    DeleteRangeRequest,
    Event,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    WatchCreateRequest,
    WatchResponse,
)
from models.history import OperationRecord, WatchMessage, WatchRecord
from spec.etcd.keyspace import EtcdModel
from spec.etcd.watch import check_watches
from spec.etcd.witness import judge_watches
from spec.linearizability import Budget
from spec.linearizability_report import check_history
from tests.lincheck.builders import header, key_value, operation


def compaction_history(header_revision: int) -> list[OperationRecord]:
    """put a (revision 2) returns; compact(2) is called; a range at revision 1 fails with
    "compacted" before anything else is written (so the compaction took effect while the store
    was at revision 2); then put b takes revision 3, before the compaction's answer arrives."""
    return [
        operation(1, 0, 1, PutRequest(key=b"a", value=b"1"), PutResponse(header=header(2))),
        operation(
            2,
            2,
            10,
            CompactionRequest(revision=2),
            CompactionResponse(header=header(header_revision)),
        ),
        operation(3, 3, 4, RangeRequest(key=b"a", revision=1), ERROR_COMPACTED),
        operation(1, 5, 6, PutRequest(key=b"b", value=b"2"), PutResponse(header=header(3))),
    ]


def test_a_compaction_header_may_come_from_a_member_that_applied_later_writes() -> None:
    # Linearized at revision 2, answered by a member whose store was already at revision 3.
    report = check_history(EtcdModel(), compaction_history(3), Budget())
    assert report.verdict == "linearizable"


def test_a_compaction_header_below_its_linearization_point_is_a_violation() -> None:
    # The member answering has applied the compaction, so its store is at revision 2 at least.
    report = check_history(EtcdModel(), compaction_history(1), Budget())
    assert report.verdict == "not_linearizable"


def _watch_seeing(*events: tuple[int, Event]) -> WatchRecord:
    messages = [WatchMessage(time=1, response=WatchResponse(header=header(1), created=True))]
    messages += [
        WatchMessage(time=t, response=WatchResponse(header=header(e.kv.mod_revision), events=(e,)))
        for t, e in events
    ]
    request = WatchCreateRequest(key=b"a", range_end=b"c")
    return WatchRecord(client_id=9, request=request, messages=tuple(messages))


A_AT_2 = key_value(b"a", b"0", 2, 2, 1)
PUT_A = Event(type="PUT", kv=A_AT_2)
DELETE_A = Event(type="DELETE", kv=KeyValue(key=b"a", mod_revision=3))


def unknown_writes() -> list[OperationRecord]:
    """put a=0 returns (revision 2); then a delete of a and a put of b are cut off by a fault:
    their outcomes are unknown. The watch saw revision 3 delete a."""
    return [
        operation(1, 0, 2, PutRequest(key=b"a", value=b"0"), PutResponse(header=header(2))),
        operation(2, 3, None, DeleteRangeRequest(key=b"a"), None),
        operation(3, 4, None, PutRequest(key=b"b", value=b"1"), None),
    ]


def test_watches_are_judged_against_the_linearization_they_saw() -> None:
    records = unknown_writes()
    watches = [_watch_seeing((5, PUT_A), (20, DELETE_A))]
    report = check_history(EtcdModel(), records, Budget())
    assert report.verdict == "linearizable"
    # The search's own pick leaves both unknown writes out, so the watch seems to invent
    # revision 3: that is the false alarm seen against real etcd.
    assert check_watches(records, watches, report.orders[0][1])
    verdict = judge_watches(records, watches, report.orders[0][1], Budget())
    assert verdict.problems == ()
    assert verdict.order_chosen_by_watches
    # put a at revision 2, then the delete at revision 3, as the watch saw.
    assert verdict.order[:2] == (0, 1)


def test_a_watch_event_no_write_produced_is_still_reported() -> None:
    records = unknown_writes()
    invented = Event(type="PUT", kv=key_value(b"a", b"9", 2, 3, 2))
    watches = [_watch_seeing((5, PUT_A), (20, invented))]
    report = check_history(EtcdModel(), records, Budget())
    verdict = judge_watches(records, watches, report.orders[0][1], Budget())
    assert not verdict.order_chosen_by_watches
    assert "IsCreate/KeyValue" in {problem.guarantee for problem in verdict.problems}
