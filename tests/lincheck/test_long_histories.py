"""Long, easy histories cost time and memory in proportion to their length (issue 10: a 20 MB
Jepsen log used 5.4 GB, 150k reads timed out). Work counters and memory peaks are compared
between a history and one four times as long; nothing here measures time."""

import tracemalloc
from pathlib import Path

import pytest

from models.history import OperationRecord
from models.strict_input import InputError, Limits
from runner.cli.main import main
from runner.history.read import read_history
from runner.history.synthetic import (
    concurrent_events,
    jepsen_lines,
    operation_records,
    read_request,
    register_request,
)
from spec.etcd.registers import RegisterModel
from spec.linearizability import Budget, prepare
from spec.linearizability_search import run_searches

MODEL = RegisterModel(with_cas=True)
LINEAR_GROWTH_LIMIT = 6.0
"""Four times the operations may cost at most this many times the memory: linear growth gives
about 4, the old whole-history bitset about 10 at these sizes (16 in the limit)."""


def records(operations: int, unknown_every: int = 0) -> list[OperationRecord]:
    events = concurrent_events(
        MODEL, register_request, operations, clients=5, seed=3, unknown_every=unknown_every
    )
    return list(operation_records(events))


def search_peak_bytes(history: list[OperationRecord]) -> tuple[int, int]:
    """(peak bytes allocated by the search, its steps)."""
    partitions = list(prepare(MODEL, history).values())
    tracemalloc.start()
    try:
        (result,) = run_searches(partitions, Budget())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.verdict == "linearizable"
    return peak, result.steps


@pytest.mark.parametrize("unknown_every", [0, 200])
def test_search_memory_and_steps_grow_linearly(unknown_every: int) -> None:
    small_peak, small_steps = search_peak_bytes(records(4_000, unknown_every))
    large_peak, large_steps = search_peak_bytes(records(16_000, unknown_every))
    assert large_peak < LINEAR_GROWTH_LIMIT * small_peak
    # An easy history needs about one step per operation, however long it is.
    assert small_steps < 2 * 4_000
    assert large_steps < 2 * 16_000


def test_trivially_linearizable_reads_take_one_step_each() -> None:
    reads = list(operation_records(concurrent_events(MODEL, read_request, 20_000, clients=8)))
    (result,) = run_searches(list(prepare(MODEL, reads).values()), Budget())
    assert (result.verdict, result.steps) == ("linearizable", 20_000)


def write_jepsen(path: Path, operations: int, request: object = register_request) -> Path:
    assert callable(request)
    events = concurrent_events(MODEL, request, operations, clients=5, seed=5)
    path.write_text("".join(jepsen_lines(events)))
    return path


def test_reader_streams_within_the_documented_limits(tmp_path: Path) -> None:
    path = write_jepsen(tmp_path / "h.log", 50)  # 100 lines
    assert len(read_history(path, "jepsen").operations) == 50
    with pytest.raises(InputError) as refused:
        read_history(path, "jepsen", Limits(lines=60))
    assert (refused.value.limit, refused.value.source) == ("lines", str(path))


def test_sixty_thousand_reads_pass_the_command(tmp_path: Path) -> None:
    # Issue 10's case: 60k trivially linearizable reads took 6.4 s and 584 MB.
    path = write_jepsen(tmp_path / "reads.log", 60_000, read_request)
    assert main(["check", "history", str(path), "--format", "jepsen", "--workers", "1"]) == 0
