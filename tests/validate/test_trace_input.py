"""Reading trace files: unreadable input is named by file, line and field; formats are detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.raft_events import Init, Observe, Receive
from runner.errors import InputError
from runner.raft.trace_input import read_traces

ETCD_LINE = (
    '{"tag":"trace","ts":1.0,"event":{"name":"InitState","nid":"1","state":{"term":0,'
    '"vote":"0","commit":0},"role":"StateFollower","log":0,"conf":[["1"],[]]}}'
)


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_not_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "t.ndjson", ETCD_LINE, '{"tag": "trace", "event": ')
    with pytest.raises(InputError) as caught:
        read_traces([path], "etcd-raft")
    assert caught.value.source == str(path)
    assert caught.value.line == 2


def test_missing_etcd_field_names_it(tmp_path: Path) -> None:
    broken = ETCD_LINE.replace('"term":0,', "")
    path = write(tmp_path, "t.ndjson", ETCD_LINE, broken)
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert caught.value.line == 2
    assert caught.value.field == "event.state"
    assert "term" in caught.value.reason


def test_unknown_etcd_event_name(tmp_path: Path) -> None:
    path = write(tmp_path, "t.ndjson", ETCD_LINE.replace("InitState", "Teleport"))
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert caught.value.field == "event.name"


def test_kubeoracle_bad_kind_names_field(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"kind": "teleport", "node": "1"}')
    with pytest.raises(InputError) as caught:
        read_traces([path], "auto")
    assert (caught.value.line, caught.value.field) == (1, "kind")


def test_send_from_another_node_is_rejected(tmp_path: Path) -> None:
    line = (
        '{"kind": "send", "node": "1", "message": {"type": "heartbeat", "source": "2", '
        '"destination": "3", "term": 1}}'
    )
    path = write(tmp_path, "t.jsonl", line)
    with pytest.raises(InputError) as caught:
        read_traces([path], "kubeoracle")
    assert caught.value.field == "message.source"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_traces([tmp_path / "absent.jsonl"], "auto")
    assert caught.value.source.endswith("absent.jsonl")


def test_etcd_receive_becomes_observation_then_receive(tmp_path: Path) -> None:
    receive = (
        '{"tag":"trace","ts":2.0,"event":{"name":"ReceiveAppendEntriesRequest","nid":"1",'
        '"state":{"term":1,"vote":"0","commit":0},"role":"StateFollower","log":0,'
        '"conf":[["1","2"],[]],"msg":{"type":"MsgHeartbeat","term":1,"from":"2","to":"1",'
        '"entries":0,"logTerm":0,"index":0,"commit":0,"vote":"0","reject":false,"rejectHint":0}}}'
    )
    path = write(tmp_path, "t.ndjson", ETCD_LINE, '{"level": "info", "msg": "other"}', receive)
    trace = read_traces([path], "auto")
    events, options = trace.events, trace.options
    kinds = [type(located.event) for located in events]
    assert kinds == [Init, Observe, Receive]
    assert [located.line for located in events] == [1, 3, 3]
    # etcd-io/raft's tracer traces every send and receive of the types it traces.
    assert options.receives_logged == frozenset({"1"})
    assert options.sends_logged == frozenset({"1"})
    assert options.instrumentation == "etcd-raft"


def test_files_without_timestamps_are_concatenated(tmp_path: Path) -> None:
    first = write(tmp_path, "a.jsonl", '{"kind": "init", "node": "1"}')
    second = write(tmp_path, "b.jsonl", '{"kind": "init", "node": "2"}')
    events = read_traces([second, first], "kubeoracle").events
    assert [located.event.node for located in events] == ["2", "1"]


def test_files_with_timestamps_are_merged_by_time(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "a.jsonl",
        '{"kind": "init", "node": "1", "time": 1}',
        '{"kind": "persist", "node": "1", "time": 3}',
    )
    second = write(tmp_path, "b.jsonl", '{"kind": "init", "node": "2", "time": 2}')
    events = read_traces([first, second], "kubeoracle").events
    assert [(located.event.node, located.line) for located in events] == [
        ("1", 1),
        ("2", 1),
        ("1", 2),
    ]


def test_mixed_formats_need_an_explicit_format(tmp_path: Path) -> None:
    etcd = write(tmp_path, "a.ndjson", ETCD_LINE)
    ours = write(tmp_path, "b.jsonl", '{"kind": "init", "node": "2"}')
    with pytest.raises(InputError):
        read_traces([etcd, ours], "auto")


def test_etcd_pre_candidate_role_implies_become_pre_candidate(tmp_path: Path) -> None:
    send = (
        '{"tag":"trace","ts":2.0,"event":{"name":"SendRequestVoteRequest","nid":"1",'
        '"state":{"term":0,"vote":"0","commit":0},"role":"StatePreCandidate","log":0,'
        '"conf":[["1"],[]],"msg":{"type":"MsgPreVote","term":1,"from":"1","to":"2",'
        '"entries":0,"logTerm":0,"index":0,"commit":0,"vote":"0","reject":false,"rejectHint":0}}}'
    )
    path = write(tmp_path, "t.ndjson", ETCD_LINE, send)
    events = read_traces([path], "etcd-raft").events
    assert [type(located.event).__name__ for located in events] == [
        "Init",
        "BecomePreCandidate",
        "Send",
    ]
