"""A history recorded by ``kubeoracle conform etcd --faults kill,pause`` against etcd 3.4.23.

Its KV operations are linearizable; one watch, cancelled by compaction and resumed at the
compaction revision 287, never got the DELETE of key4 made at revision 287 (etcd #18089). The
check must say so, name the issue, and keep saying so.
"""

import gzip
import json
from pathlib import Path

from models.history import parse_history
from runner.etcd.conform_check import check_recorded
from runner.exit_codes import ExitCode

HISTORY = Path(__file__).parent / "data" / "etcd-3.4.23-issue-18089.jsonl.gz"


def test_the_recorded_etcd_history_shows_issue_18089() -> None:
    history = parse_history(gzip.decompress(HISTORY.read_bytes()).decode()).unwrap()
    verdict, details = check_recorded(history)
    assert details["linearizability"]["verdict"] == "linearizable"
    assert verdict == ExitCode.VIOLATION
    problems = [
        (v["check"], v["revision"], v["request"]["start_revision"]) for v in details["violations"]
    ]
    assert problems == [("watch Resumable", 288, 287), ("watch Reliable", 287, 287)]
    # The report is JSON (-o json): the watched range is text, as the workload's keys are.
    assert json.loads(json.dumps(details))["violations"][0]["request"]["key"] == "key"
    assert all("#18089" in v["known_issue"] for v in details["violations"])


def test_a_stale_read_planted_in_the_recorded_history_is_caught_with_its_operations() -> None:
    import msgspec

    from models.etcd import RangeResponse

    history = parse_history(gzip.decompress(HISTORY.read_bytes()).decode()).unwrap()
    # A prefix in real time (every operation called before the 40th call) keeps the
    # violation analysis short.
    cutoff = sorted(record.call_time for record in history.operations)[40]
    operations = [record for record in history.operations if record.call_time < cutoff]
    index = next(
        i
        for i, record in enumerate(operations)
        if isinstance(record.result, RangeResponse) and record.result.kvs and i > 20
    )
    record = operations[index]
    assert isinstance(record.result, RangeResponse)
    stale = msgspec.structs.replace(
        record.result,
        kvs=tuple(msgspec.structs.replace(kv, value=b"never-written") for kv in record.result.kvs),
    )
    operations[index] = msgspec.structs.replace(record, result=stale)
    planted = msgspec.structs.replace(history, operations=tuple(operations), watches=())
    verdict, details = check_recorded(planted)
    assert verdict == ExitCode.VIOLATION
    violation = details["violations"][0]
    assert violation["check"] == "linearizability"
    assert index in [operation["index"] for operation in violation["operations"]]


UNKNOWN_DELETE = (
    Path(__file__).parent / "data" / "etcd-3.4.23-unknown-delete-seen-by-watches.jsonl.gz"
)


def test_watches_are_judged_against_the_linearization_they_saw() -> None:
    """Recorded by ``conform etcd --duration 3 --seed 5 --faults kill,pause``: member m1 was
    killed with a delete of key1 (client 1) and a put of key5 (client 0) in flight. Every watch
    saw revision 818 delete key1; the search's first linearization left the delete out, which
    made each stream seem to break Reliable and IsCreate/KeyValue. Judged against the
    linearization the watches agree with, etcd did nothing wrong."""
    history = parse_history(gzip.decompress(UNKNOWN_DELETE.read_bytes()).decode()).unwrap()
    verdict, details = check_recorded(history)
    assert details["violations"] == []
    assert verdict == ExitCode.PASS
    assert details["linearizability"]["order_chosen_by_watches"] is True
