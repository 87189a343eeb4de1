"""Engines that run one function over many items in parallel, each item's outcome exactly once.

Three engines share one interface (:class:`Engine`): :class:`InProcessEngine` runs the items
one after another in this process, :class:`LocalEngine` uses worker processes on this machine
(``concurrent.futures`` with the ``spawn`` start method), :class:`DaskEngine`
hands the items to a ``dask.distributed`` cluster (a ``LocalCluster`` it starts, or any
scheduler by address). Both survive the loss of a worker: the items a lost worker was running
are run again elsewhere. An item whose worker is lost :data:`ATTEMPTS_MAX` times is given up on
and reported as :class:`Failed` (a run that kills its worker every time must not stall the
rest). Outcomes are keyed by the item's position, so an item retried after a loss is still
reported once; the order in which outcomes arrive is the only thing the engine and worker
count change, and callers sort.

The function and the items must be picklable by reference (top-level functions, frozen
dataclasses), since they travel to other processes or machines.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeAlias, TypeVar, final

from runner.errors import InputError

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

ATTEMPTS_MAX: Final = 3
"""How many times an item may lose its worker before it is given up on (Dask's own default
``distributed.scheduler.allowed-failures`` is 3 as well)."""
CONNECT_TIMEOUT_SECONDS: Final = 30
BATCHES_PER_WORKER: Final = 8
"""The Dask engine cuts the items into at least this many batches per worker (load balance)..."""
BATCH_ITEMS_MAX: Final = 16
"""...of at most this many items: one Dask task costs a few milliseconds of scheduling, as
much as a short simulation run, so a task runs a batch of items, each settled on its own."""


@final
@dataclass(frozen=True, slots=True)
class Done(Generic[ResultT]):
    """The item ran to its end and returned ``value``."""

    value: ResultT


@final
@dataclass(frozen=True, slots=True)
class Failed:
    """The item produced no value: the function raised, or its worker kept dying."""

    reason: str


Outcome: TypeAlias = Done[ResultT] | Failed
Observer: TypeAlias = Callable[[int, "Outcome[Any]"], None]
"""Called in the coordinating process as each item's outcome arrives: its position and outcome."""


class Engine(Protocol):
    """Runs a function over items in parallel."""

    @property
    def name(self) -> str: ...

    @property
    def workers(self) -> int:
        """How many workers run items at once (for a remote cluster: when the run started)."""
        ...

    @property
    def workers_lost(self) -> int | None:
        """How many times an item had to run again because its worker was lost (``None``:
        the engine does not tell; Dask reschedules on its own)."""
        ...

    def run(
        self,
        function: Callable[[ItemT], ResultT],
        items: Sequence[ItemT],
        observe: Observer | None = None,
    ) -> list[Outcome[ResultT]]:
        """Every item's outcome, in the items' order."""
        ...

    def close(self) -> None: ...


def _raised(error: BaseException) -> Failed:
    return Failed(f"{type(error).__name__}: {error}")


def run_batch(
    function: Callable[[ItemT], ResultT], items: Sequence[ItemT]
) -> list[Outcome[ResultT]]:
    """Each item's outcome, in order: what one Dask task runs (top-level: it travels)."""
    outcomes: list[Outcome[ResultT]] = []
    for item in items:
        try:
            outcomes.append(Done(function(item)))
        except Exception as error:  # the item's outcome, as other engines report it
            outcomes.append(_raised(error))
    return outcomes


def batch_bounds(count: int, workers: int) -> list[tuple[int, int]]:
    """``count`` items cut into consecutive ``[start, end)`` batches: at least
    :data:`BATCHES_PER_WORKER` per worker when there are enough items, none longer than
    :data:`BATCH_ITEMS_MAX`."""
    size = max(1, min(BATCH_ITEMS_MAX, count // (max(workers, 1) * BATCHES_PER_WORKER)))
    return [(start, min(start + size, count)) for start in range(0, count, size)]


@final
class InProcessEngine:
    """Every item in this process, one after another (the baseline engines are measured
    against, and the quickest for a handful of items)."""

    name = "in-process"
    workers = 1
    workers_lost = 0

    def run(
        self,
        function: Callable[[ItemT], ResultT],
        items: Sequence[ItemT],
        observe: Observer | None = None,
    ) -> list[Outcome[ResultT]]:
        outcomes: list[Outcome[ResultT]] = []
        for index, item in enumerate(items):
            outcome: Outcome[ResultT]
            try:
                outcome = Done(function(item))
            except Exception as error:  # reported as the item's outcome, as other engines do
                outcome = _raised(error)
            outcomes.append(outcome)
            if observe is not None:
                observe(index, outcome)
        return outcomes

    def close(self) -> None:
        """Nothing to release."""


@final
class LocalEngine:
    """Worker processes on this machine. A worker that dies (killed, out of memory) breaks
    the pool: a new pool runs every item that had not finished, and the items that were
    running when it broke count one lost attempt."""

    name = "local"

    def __init__(self, workers: int) -> None:
        assert workers >= 1
        self._workers = workers
        self._lost = 0

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def workers_lost(self) -> int:
        return self._lost

    def run(
        self,
        function: Callable[[ItemT], ResultT],
        items: Sequence[ItemT],
        observe: Observer | None = None,
    ) -> list[Outcome[ResultT]]:
        outcomes: dict[int, Outcome[ResultT]] = {}
        attempts = dict.fromkeys(range(len(items)), 0)

        def settle(index: int, outcome: Outcome[ResultT]) -> None:
            assert index not in outcomes, f"item {index} settled twice"
            outcomes[index] = outcome
            if observe is not None:
                observe(index, outcome)

        while len(outcomes) < len(items):
            pending = [index for index in range(len(items)) if index not in outcomes]
            for index in self._run_pool(function, items, pending, settle):
                attempts[index] += 1
                self._lost += 1
                if attempts[index] >= ATTEMPTS_MAX:
                    settle(index, Failed(f"its worker was lost {attempts[index]} times"))
        return [outcomes[index] for index in range(len(items))]

    def _run_pool(
        self,
        function: Callable[[ItemT], ResultT],
        items: Sequence[ItemT],
        pending: list[int],
        settle: Callable[[int, Outcome[ResultT]], None],
    ) -> list[int]:
        """Run ``pending`` in a fresh pool; the items that were running if the pool broke."""
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self._workers, mp_context=context) as pool:
            futures: dict[Future[ResultT], int] = {
                pool.submit(function, items[index]): index for index in pending
            }
            waiting = set(futures)
            while waiting:
                # Futures handed to a worker (or to the queue feeding the workers) are
                # "running"; if the pool breaks, these are the items it may have been running.
                running = [futures[future] for future in waiting if future.running()]
                finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in finished:
                    error = future.exception()
                    if isinstance(error, BrokenProcessPool):
                        return running
                    if error is not None:
                        settle(futures[future], _raised(error))
                    else:
                        settle(futures[future], Done(future.result()))
        return []

    def close(self) -> None:
        """Nothing outlives :meth:`run`."""


@final
class DaskEngine:
    """A ``dask.distributed`` cluster: a ``LocalCluster`` of ``workers`` single-threaded
    worker processes, or the scheduler at ``address`` with whatever workers it has (each must
    have kubeoracle installed). One task runs a batch of consecutive items
    (:func:`batch_bounds`). The scheduler reschedules the tasks of a lost worker (the whole
    batch runs again; its items settle once, when it finishes); after
    ``distributed.scheduler.allowed-failures`` losses a task fails with ``KilledWorker`` and
    each of its items is reported as failed."""

    name = "dask"

    def __init__(self, workers: int, address: str | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster: LocalCluster | None = None
        try:
            if address is None:
                self._cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: the HTTP server always starts
                    silence_logs=logging.ERROR,
                )
                self._client = Client(self._cluster)
            else:
                self._client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, ValueError) as error:
            self.close()
            where = address or "a local cluster"
            raise InputError(f"cannot reach the Dask scheduler at {where}: {error}") from error
        self._workers = len(self._client.scheduler_info().get("workers", {})) or workers

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def workers_lost(self) -> int | None:
        return None

    def run(
        self,
        function: Callable[[ItemT], ResultT],
        items: Sequence[ItemT],
        observe: Observer | None = None,
    ) -> list[Outcome[ResultT]]:
        from distributed import as_completed

        bounds = batch_bounds(len(items), self._workers)
        futures = [
            self._client.submit(run_batch, function, list(items[start:end]), pure=False)
            for start, end in bounds
        ]
        bounds_of = {future.key: bound for future, bound in zip(futures, bounds, strict=True)}
        outcomes: dict[int, Outcome[ResultT]] = {}
        for future in as_completed(futures):
            start, end = bounds_of[future.key]
            batch: list[Outcome[ResultT]]
            if future.status == "finished":
                batch = future.result()
            else:
                batch = [_raised(future.exception())] * (end - start)
            future.release()
            for index, outcome in enumerate(batch, start):
                assert index not in outcomes, f"item {index} settled twice"
                outcomes[index] = outcome
                if observe is not None:
                    observe(index, outcome)
        return [outcomes[index] for index in range(len(items))]

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
