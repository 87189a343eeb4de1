"""A history recorded by ``kubeoracle conform etcd --faults kill,pause`` against etcd 3.4.23.

Its KV operations are linearizable; one watch, cancelled by compaction and resumed at the
compaction revision 287, never got the DELETE of key4 made at revision 287 (etcd #18089). The
check must say so, name the issue, and keep saying so.
"""

import gzip
from pathlib import Path

from models.history import parse_history
from runner.conform_etcd_check import check_recorded
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
    assert all("#18089" in v["known_issue"] for v in details["violations"])
