"""Bad or hostile trace files are refused with exit code 2 naming the file, line, field and limit,
and huge log indexes cost no memory per index (issue 10's ``validate raft`` defects)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from models.raft_events import MAX_ENTRIES_PER_MESSAGE
from models.strict_input import LIMITS
from runner.cli.main import main
from runner.errors import InputError
from runner.raft.trace_input import read_traces
from spec.raft_validation import Summary
from tests.validate.helpers import validate_lines

BILLION = 1_000_000_000


def run_cli(path: Path) -> int:
    return main(["validate", "raft", str(path)])


def huge_index_trace() -> list[str]:
    """Node 1 starts with 10^9 unknown entries, wins term 2 with node 2's vote, commits them,
    and installs them on node 2 by a snapshot and an append after them."""
    vote_request = {
        "type": "vote_request",
        "source": "1",
        "destination": "2",
        "term": 2,
        "last_log_index": BILLION,
        "last_log_term": 1,
    }
    grant = {"type": "vote_response", "source": "2", "destination": "1", "term": 2, "granted": True}
    snapshot = {
        "type": "snapshot",
        "source": "1",
        "destination": "2",
        "term": 2,
        "snapshot_index": BILLION,
    }
    append = {
        "type": "append_request",
        "source": "1",
        "destination": "2",
        "term": 2,
        "prev_log_index": BILLION,
        "prev_log_term": 1,
        "entry_terms": [2],
        "leader_commit": BILLION,
    }
    config = {"voters": ["1", "2"]}
    events = [
        {
            "kind": "init",
            "node": "1",
            "state": {
                "term": 1,
                "last_log_index": BILLION,
                "commit_index": BILLION,
                "config": config,
            },
        },
        {
            "kind": "init",
            "node": "2",
            "state": {"term": 1, "last_log_index": 0, "commit_index": 0, "config": config},
        },
        {"kind": "become_candidate", "node": "1", "state": {"term": 2}},
        {"kind": "send", "node": "1", "message": vote_request},
        {"kind": "receive", "node": "2", "message": vote_request},
        {"kind": "send", "node": "2", "message": grant, "state": {"term": 2, "vote": "1"}},
        {"kind": "receive", "node": "1", "message": grant},
        {"kind": "become_leader", "node": "1", "state": {"term": 2}},
        {"kind": "send", "node": "1", "message": snapshot},
        {"kind": "receive", "node": "2", "message": snapshot},
        {
            "kind": "observe",
            "node": "2",
            "state": {"last_log_index": BILLION, "commit_index": BILLION},
        },
        {"kind": "append", "node": "1", "state": {"last_log_index": BILLION + 1}},
        {"kind": "send", "node": "1", "message": append},
        {"kind": "receive", "node": "2", "message": append},
        {"kind": "observe", "node": "2", "state": {"last_log_index": BILLION + 1}},
    ]
    return [json.dumps(event) for event in events]


def test_a_billion_unknown_entries_cost_no_memory_per_index(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        verdict = validate_lines(huge_index_trace(), tmp_path, "huge.jsonl")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(verdict, Summary)
    assert verdict.nodes == ("1", "2")
    assert peak < 64 * 1024 * 1024  # one byte per index would be 1 GB


def test_misspelled_field_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "typo.jsonl"
    path.write_text('{"kind": "init", "node": "1", "stat": {"term": 1}}\n')
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert (caught.value.line, caught.value.field) == (1, "stat")
    assert run_cli(path) == 2


def test_misspelled_etcd_event_field_is_refused(tmp_path: Path) -> None:
    line = (
        '{"tag":"trace","ts":1,"event":{"name":"InitState","nid":"1","state":{"term":0,'
        '"vote":"0","comit":0},"role":"StateFollower","log":0,"conf":[[],[]]}}'
    )
    path = tmp_path / "typo.ndjson"
    path.write_text(line + "\n")
    with pytest.raises(InputError) as caught:
        read_traces([path], "etcd-raft")
    assert caught.value.field == "event.state.comit"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.jsonl", b""),
        ("blank.jsonl", b"\n  \n\n"),
        ("blank.jsonl.gz", gzip.compress(b"\n" * 1000)),
        ("other-logs.ndjson", b'{"level":"info","msg":"started","tag":"other"}\n'),
    ],
)
def test_a_file_without_events_is_refused(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert caught.value.reason.startswith("no events")
    assert run_cli(path) == 2


def test_negative_term_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "negative.jsonl"
    path.write_text('{"kind": "init", "node": "1", "state": {"term": -1}}\n')
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert caught.value.field == "state.term"


def test_too_many_entries_in_one_append_names_the_limit(tmp_path: Path) -> None:
    message = {
        "type": "append_request",
        "source": "1",
        "destination": "2",
        "term": 1,
        "prev_log_index": 0,
        "entry_count": MAX_ENTRIES_PER_MESSAGE + 1,
    }
    path = tmp_path / "many.jsonl"
    path.write_text(json.dumps({"kind": "send", "node": "1", "message": message}) + "\n")
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert caught.value.field == "message.entry_count"
    assert str(MAX_ENTRIES_PER_MESSAGE) in caught.value.reason


def test_overlong_line_names_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"kind": "init", "node": "' + b"x" * LIMITS.line_bytes + b'"}\n')
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert (caught.value.line, caught.value.limit) == (1, "line_bytes")


def test_integer_beyond_int64_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.ndjson"
    path.write_text(
        '{"tag":"trace","ts":1,"event":{"name":"InitState","nid":"1","state":{"term":'
        '99999999999999999999999,"vote":"0","commit":0},"role":"StateFollower","log":0,'
        '"conf":[[],[]]}}\n'
    )
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert caught.value.field == "event.state.term"


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"kind": "init", "node": "1"}\n' * 100)[:40])
    assert run_cli(path) == 2


def test_every_record_type_refuses_unknown_fields() -> None:
    from models.raft_events import RaftEvent, TraceHeader
    from models.strict_input import loose_structs
    from runner.raft.trace_etcd import EtcdRecord

    assert loose_structs(RaftEvent) == []
    assert loose_structs(TraceHeader) == []
    # zap adds fields of its own to a log line, and ``prop`` is free-form in state_trace.go;
    # the trace event and everything in it are strict.
    assert loose_structs(EtcdRecord) == ["EtcdProperties", "EtcdRecord"]
