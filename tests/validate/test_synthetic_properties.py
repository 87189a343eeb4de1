"""Properties over generated etcd-raft traces: any consistent trace validates, and moving one
event's term (with no message of that term to explain it) is always caught at that event."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.raft.synthetic_trace import synthetic_etcd_trace
from spec.raft_validation import Summary, Violation
from tests.validate.helpers import validate_lines


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), nodes=st.integers(min_value=1, max_value=5))
def test_generated_trace_validates(seed: int, nodes: int) -> None:
    lines = synthetic_etcd_trace(600, nodes, seed=seed)
    with tempfile.TemporaryDirectory() as directory:
        assert isinstance(validate_lines(lines, Path(directory)), Summary)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    position=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    delta=st.sampled_from([-1, 1, 2]),
)
def test_a_term_that_moves_alone_is_caught(seed: int, position: float, delta: int) -> None:
    lines = synthetic_etcd_trace(600, 3, seed=seed)
    first = 3  # after the three InitState lines
    index = first + int(position * (len(lines) - first))
    record = json.loads(lines[index])
    record["event"]["state"]["term"] += delta
    edited = [*lines[:index], json.dumps(record), *lines[index + 1 :]]
    with tempfile.TemporaryDirectory() as directory:
        verdict = validate_lines(edited, Path(directory))
    assert isinstance(verdict, Violation)
    assert verdict.line == index + 1
