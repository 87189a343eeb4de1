"""Runs the API server machine: feeds it events, carries out its commands.

Theory of operation. The machine (``impl.apiserver.machine``) is pure; ``Driver`` owns its state
and is the only caller of ``on_event``. Events queue up and are handled one at a time, so a
store that answers at once (the in-process etcd) re-enters ``feed`` safely. Storage commands go
to a ``Store``; the answers, and the store watch's events, come back as events. What the machine
says to clients (answers, watch streams) goes to a ``Sink``: the HTTP server in production, a
recorder in tests. ``Driver`` is not thread-safe: a threaded store must hand its callbacks back
to the driver's thread (the HTTP server does it through the event loop).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol, assert_never

from impl.apiserver.context import Config
from impl.apiserver.machine import init, on_event
from impl.apiserver.state import ApiServerState
from models.apiserver.messages import (
    ApiResponse,
    ApiServerCommand,
    ApiServerEvent,
    EndWatch,
    Respond,
    SendWatch,
    StartWatch,
    StorageEvents,
    StorageRange,
    StorageReplied,
    StorageResult,
    StorageTxn,
    StorageWatch,
    StorageWatchLost,
)

StoreCallback = Callable[[StorageResult], None]
WatchCallback = Callable[[StorageEvents | StorageWatchLost], None]


class Store(Protocol):
    """Where the machine's objects live: an etcd (in-process or remote)."""

    def submit(self, command: StorageRange | StorageTxn, done: StoreCallback) -> None:
        """Carry out a range or txn; call ``done`` with the result (maybe before returning)."""

    def watch(self, command: StorageWatch, deliver: WatchCallback) -> None:
        """Watch ``command.prefix`` from ``command.start_revision``; replaces any older watch."""

    def close(self) -> None: ...


class Sink(Protocol):
    """Where answers and watch streams go."""

    def respond(self, request_id: int, response: ApiResponse) -> None: ...

    def start_watch(self, request_id: int, content_type: str) -> None: ...

    def send_watch(self, watch_id: int, line: bytes) -> None: ...

    def end_watch(self, watch_id: int) -> None: ...


class Driver:
    """One API server: the machine's state, its store and its clients."""

    def __init__(self, config: Config, store: Store, sink: Sink) -> None:
        self.config = config
        self.store = store
        self.sink = sink
        self._queue: deque[ApiServerEvent] = deque()
        self._busy = False
        first = init(config)
        self.state: ApiServerState = first.state
        self._carry_out(first.commands)

    def feed(self, event: ApiServerEvent) -> None:
        """Handle ``event`` and everything it leads to (unless already inside ``feed``)."""
        self._queue.append(event)
        if self._busy:
            return
        self._busy = True
        try:
            while self._queue:
                step = on_event(self.config, self.state, self._queue.popleft())
                self.state = step.state
                self._carry_out(step.commands)
        finally:
            self._busy = False

    @property
    def ready(self) -> bool:
        """True once the watch cache holds the store's objects."""
        return self.state.cache.loaded

    def _carry_out(self, commands: tuple[ApiServerCommand, ...]) -> None:
        for command in commands:
            match command:
                case Respond():
                    self.sink.respond(command.request_id, command.response)
                case StartWatch():
                    self.sink.start_watch(command.request_id, command.content_type)
                case SendWatch():
                    self.sink.send_watch(command.watch_id, command.line)
                case EndWatch():
                    self.sink.end_watch(command.watch_id)
                case StorageRange() | StorageTxn():
                    self.store.submit(command, self._storage_callback(command.operation_id))
                case StorageWatch():
                    self.store.watch(command, self.feed)
                case _:
                    assert_never(command)

    def _storage_callback(self, operation_id: int) -> StoreCallback:
        def done(result: StorageResult) -> None:
            self.feed(StorageReplied(operation_id=operation_id, result=result))

        return done
