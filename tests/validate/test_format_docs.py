"""The documented JSON Schema is the one generated from the event types, and the documented
example traces decode as events."""

from __future__ import annotations

from pathlib import Path

import msgspec

from models.raft_events import EVENT_KINDS, RaftEvent, TraceHeader
from runner.raft.events_schema import schema_text
from tests.validate.helpers import TRACES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_schema_file_is_up_to_date() -> None:
    assert (DOCS / "raft-events.schema.json").read_text() == schema_text()


def test_every_event_kind_is_documented() -> None:
    text = (DOCS / "raft-events.md").read_text()
    for kind in EVENT_KINDS:
        assert f"| `{kind}` |" in text


def test_hand_written_traces_decode() -> None:
    for path in sorted(TRACES.glob("*.jsonl")):
        header, *events = path.read_bytes().splitlines()
        assert msgspec.json.decode(header, type=TraceHeader).version == 1
        for line in events:
            msgspec.json.decode(line, type=RaftEvent)
