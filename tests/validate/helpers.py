"""Shared helpers for the trace validation tests: run the validator on files or lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from runner.raft.trace_input import TraceFormat, read_traces
from spec.raft_validation import Summary, Violation, validate

HERE = Path(__file__).parent
TRACES = HERE / "traces"
ETCD_EXAMPLE = HERE / "corpus" / "etcd-raft" / "example.ndjson.gz"


def etcd_example_lines() -> list[str]:
    """The lines of etcd-io/raft's tla/example.ndjson."""
    return gzip.decompress(ETCD_EXAMPLE.read_bytes()).decode().splitlines()


def validate_files(paths: list[Path], trace_format: TraceFormat = "auto") -> Summary | Violation:
    """The validator's verdict on ``paths``."""
    trace = read_traces(paths, trace_format)
    return validate(trace.events, trace.options)


def validate_lines(
    lines: list[str], directory: Path, name: str = "trace.ndjson"
) -> Summary | Violation:
    """The verdict on a trace given as lines, written to ``directory/name``."""
    path = directory / name
    path.write_text("\n".join(lines) + "\n")
    return validate_files([path])


def edited(lines: list[str], line: int, change: dict[str, Any]) -> list[str]:
    """``lines`` with the etcd event on 1-based ``line`` changed: ``change`` maps dotted paths
    inside ``event`` (``"state.commit"``, ``"msg.to"``) to new values."""
    copy = list(lines)
    record = json.loads(copy[line - 1])
    for path, value in change.items():
        target = record["event"]
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = value
    copy[line - 1] = json.dumps(record)
    return copy
