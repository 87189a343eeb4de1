"""The partitions of a history searched on several cores, as porcupine checks its partitions in
parallel goroutines.

P-compositionality makes the partitions (kv: one per key) independent searches. Each worker
process is forked with the prepared partitions in its memory (transitions are closures, which
cannot be pickled, and need not be) and searches its share round robin
(:func:`spec.linearizability_search.run_searches`), so that a violation in any of its partitions
is found after about as many steps as that partition's own search needs. Shares are balanced by
operation count, largest first. The first violation stops every worker (with
``stop_at_violation``); the deadline of the caller's budget applies in every worker, and its
step limit to each worker separately.

Small histories, a single partition, one core or a platform without ``fork`` are searched in
this process: forking costs more than it saves there.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any, Final

import msgspec

from spec.linearizability import Budget, Prepared, SearchResult
from spec.linearizability_search import run_searches

MIN_PARALLEL_OPERATIONS: Final = 10_000
"""Below this many operations in all, forking costs more than the search it would share
(porcupine's 50-client kv histories, 3,700 operations, take 0.07 s of search in one process;
forking two workers added 0.1 s of wall time on a loaded 2-core machine)."""


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shares(prepared: Sequence[Prepared[Any]], workers: int) -> list[list[int]]:
    """Partition numbers per worker: largest first, each to the least loaded (LPT)."""
    loads = [0] * workers
    assigned: list[list[int]] = [[] for _ in range(workers)]
    for number in sorted(range(len(prepared)), key=lambda n: -len(prepared[n].operations)):
        lightest = loads.index(min(loads))
        assigned[lightest].append(number)
        loads[lightest] += len(prepared[number].operations)
    return [sorted(share) for share in assigned if share]


class _WorkerReport(msgspec.Struct, frozen=True):
    numbers: tuple[int, ...]
    results: tuple[SearchResult, ...]
    steps_used: int


def parallel_searcher(
    workers: int | None = None, min_operations: int = MIN_PARALLEL_OPERATIONS
) -> Callable[[Sequence[Prepared[Any]], Budget, bool], list[SearchResult]]:
    """A drop-in for :func:`run_searches` that shares the partitions among ``workers``
    processes (default: the cores available) when they hold ``min_operations`` or more."""
    count = default_workers() if workers is None else workers

    def search(
        prepared: Sequence[Prepared[Any]], budget: Budget, stop_at_violation: bool = False
    ) -> list[SearchResult]:
        operations = sum(len(item.operations) for item in prepared)
        if (
            count < 2
            or len(prepared) < 2
            or operations < min_operations
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            return run_searches(prepared, budget, stop_at_violation)
        return _search_forked(prepared, budget, stop_at_violation, shares(prepared, count))

    return search


def _search_forked(
    prepared: Sequence[Prepared[Any]],
    budget: Budget,
    stop_at_violation: bool,
    assigned: list[list[int]],
) -> list[SearchResult]:
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    receivers: list[Connection] = []
    processes = []
    for share in assigned:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_work, args=(prepared, share, budget, stop_at_violation, stop, sender)
        )
        process.start()
        sender.close()
        receivers.append(receiver)
        processes.append(process)
    results: list[SearchResult] = [SearchResult(verdict="unknown")] * len(prepared)
    try:
        for receiver in _ready_in_turn(receivers):
            try:
                data = receiver.recv_bytes()
            except EOFError:
                raise AssertionError("a search worker ended without reporting") from None
            report = msgspec.msgpack.decode(data, type=_WorkerReport)
            budget.spend(report.steps_used)
            for number, result in zip(report.numbers, report.results, strict=True):
                results[number] = result
                if stop_at_violation and result.verdict == "not_linearizable":
                    stop.set()
    finally:
        stop.set()
        for process in processes:
            process.join()
    return results


def _ready_in_turn(receivers: list[Connection]) -> Iterator[Connection]:
    """The connections, each as soon as its worker has reported."""
    waiting = list(receivers)
    while waiting:
        for ready in multiprocessing.connection.wait(waiting):
            assert isinstance(ready, Connection)
            waiting.remove(ready)
            yield ready


def _work(
    prepared: Sequence[Prepared[Any]],
    share: list[int],
    budget: Budget,
    stop_at_violation: bool,
    stop: Event,
    sender: Connection,
) -> None:
    """One worker: search ``share`` round robin until done, a violation, the caller's deadline
    or ``stop``; send the results."""
    deadline_passed = budget.interrupted

    def interrupted() -> bool:
        return stop.is_set() or (deadline_passed is not None and deadline_passed())

    remaining = None if budget.max_steps is None else max(0, budget.max_steps - budget.steps_used)
    local = Budget(max_steps=remaining, interrupted=interrupted)
    results = run_searches([prepared[number] for number in share], local, stop_at_violation)
    report = _WorkerReport(tuple(share), tuple(results), local.steps_used)
    sender.send_bytes(msgspec.msgpack.encode(report))
    sender.close()
