"""``kubeoracle validate raft``: exit codes and reports, run as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli.main import main
from tests.validate.helpers import ETCD_EXAMPLE, TRACES


def test_consistent_trace_exits_0_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "raft", str(ETCD_EXAMPLE), "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "pass"
    assert report["node_count"] == 10
    assert report["leaders_elected"] == 1
    assert report["highest_term"] == 2


def test_violation_exits_1_naming_file_line_node_and_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    trace = TRACES / "double_vote.jsonl"
    assert main(["validate", "raft", str(trace)]) == 1
    text = capsys.readouterr().out
    assert f"VIOLATION at {trace}:12 (node 3" in text
    assert "one-vote-per-term" in text
    assert "already voted for 1" in text
    assert "reference state of node 3 before this event: term=1 vote=1" in text


def test_violation_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    trace = TRACES / "commit_backwards.jsonl"
    assert main(["validate", "raft", "--format", "kubeoracle", str(trace), "-o", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["file"], report["line"], report["node"]) == (str(trace), 20, "2")
    assert report["rule"] == "commit-index-monotonic"
    assert report["expected"] == "commit>=1"
    assert report["reported"] == "commit=0"


def test_malformed_input_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"kind": "init", "node": "1"}\n{"kind": "commit", "node": "1"}\n')
    assert main(["validate", "raft", str(path)]) == 2
    assert f"{path}:2" in capsys.readouterr().err


def test_violation_after_dropped_choices_is_inconclusive() -> None:
    from runner.cli.validate import render_text, violation_report
    from spec.raft_validation import Violation
    from spec.raft_validation.rules import ONE_VOTE_PER_TERM

    violation = Violation(
        source="t.jsonl",
        line=9,
        position=8,
        node="3",
        event_kind="Send",
        rule=ONE_VOTE_PER_TERM,
        detail="node 3 granted its vote twice",
        expected="vote for 1 only",
        reported="vote granted to 2",
        reference_state="term=1",
        reported_state="term=1",
        choices_cut=2,
    )
    report = violation_report(violation, [Path("t.jsonl")])
    assert report["verdict"] == "inconclusive"
    text = render_text(report)
    assert text.startswith("INCONCLUSIVE (possible violation) at t.jsonl:9")
    assert "after 2 earlier event(s)" in text


def test_undetermined_violation_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two untraced entries at once in a leader's log (etcd-io/raft traces one kind of entry
    not at all): the trace cannot say whether Raft was broken, so exit 3, never 1."""
    from tests.validate.helpers import edited
    from tests.validate.test_etcd_v36_corpus import lines_of

    lines = edited(lines_of("confchange_v2_add_double_auto"), 29, {"log": 6, "msg.index": 6})
    path = tmp_path / "trace.ndjson"
    path.write_text("\n".join(lines) + "\n")
    assert main(["validate", "raft", str(path), "-o", "json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert (report["verdict"], report["undetermined"], report["line"]) == ("inconclusive", True, 29)
