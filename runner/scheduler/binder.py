"""The binding cycle off the scheduling path, as kube-scheduler runs it in a goroutine per pod:
worker threads post ``pods/binding`` while the driver schedules the next pods (the machine
keeps each pod assumed until the answer comes back).

``submit`` queues a binding; a free worker sends it on its own connection; ``done`` hands the
driver every answer that has come (status 201 or the error), in the order they came.
``in_flight`` counts bindings queued or being sent (``scheduler_goroutines{operation=
"binding"}``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Final

import msgspec

from models.k8s.core.pod import Pod
from runner.scheduler.writes import Writer
from runner.served.rest import RestClient

WORKERS: Final = 4
STOP_SECONDS: Final = 5.0


class Binding(msgspec.Struct, frozen=True, kw_only=True):
    """A binding to send: the pod as the scheduler knew it, its node, its attempt number, and
    when its scheduling attempt started (``time.perf_counter``)."""

    key: str
    pod: Pod
    node: str
    attempt: int
    started: float


class Bound(msgspec.Struct, frozen=True, kw_only=True):
    """A binding's answer: HTTP status (201: bound) and error message, and how long the call
    took."""

    binding: Binding
    status: int
    error: str
    seconds: float


class Binder:
    """``WORKERS`` threads, each with its own REST client from ``connect``."""

    def __init__(self, connect: Callable[[], RestClient]) -> None:
        self.todo: queue.Queue[Binding | None] = queue.Queue()
        self.answers: queue.Queue[Bound] = queue.Queue()
        self.connect = connect
        self._lock = threading.Lock()
        self._in_flight = 0
        self.threads = [
            threading.Thread(target=self._work, daemon=True, name=f"binder-{index}")
            for index in range(WORKERS)
        ]

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join(timeout=STOP_SECONDS)

    def submit(self, binding: Binding) -> None:
        with self._lock:
            self._in_flight += 1
        self.todo.put(binding)

    def done(self) -> list[Bound]:
        """Every answer that has come since the last call."""
        found = []
        while True:
            try:
                found.append(self.answers.get_nowait())
            except queue.Empty:
                return found

    def _work(self) -> None:
        rest = self.connect()
        writer = Writer(rest)
        try:
            while (binding := self.todo.get()) is not None:
                sent = time.perf_counter()
                status, error = writer.bind(binding.pod, binding.node)
                answer = Bound(
                    binding=binding,
                    status=status,
                    error=error,
                    seconds=time.perf_counter() - sent,
                )
                with self._lock:
                    self._in_flight -= 1
                self.answers.put(answer)
        finally:
            rest.close()
