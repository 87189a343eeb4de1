"""Long, easy client histories for benchmarks and scale tests: linearizable by construction.

Clients run a sequential model concurrently, as a real system would: at each event one client,
drawn by a seeded PRNG, either calls a new operation, reaches the point where its pending
operation takes effect (the model's ``expected`` state and result there), or returns. So every
history is linearizable (the effect points are a linearization), operations overlap as much as
the client count allows, and its length is free. With ``unknown_every`` N, one operation in N
that changes the state ends without an answer (Jepsen's ``:info``): it took effect or not, at
random, and its client continues under a new process number, as Jepsen does.

Writers turn the events into the formats ``check history`` reads: Jepsen's register log and
kubeoracle JSON Lines.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any, Literal

import msgspec

from models.history import (
    CasResult,
    HistoryHeader,
    ModelName,
    Operation,
    OperationRecord,
    OperationResult,
    RegisterCas,
    RegisterRead,
    RegisterValue,
    RegisterWrite,
    ValueResult,
    encode_line,
)
from spec.linearizability import SequentialModel

EventKind = Literal["invoke", "ok", "info"]


class HistoryEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A call (``invoke``), an answer (``ok``) or a lost answer (``info``), at ``time``."""

    kind: EventKind
    time: int
    process: int
    operation: Operation
    result: OperationResult | None = None


class _Client:
    def __init__(self, process: int) -> None:
        self.process = process
        self.operation: Operation | None = None
        self.result: OperationResult | None = None
        self.applied = False
        self.lost = False


def concurrent_events(
    model: SequentialModel[Any],
    request: Callable[[random.Random], Operation],
    operations: int,
    *,
    clients: int = 5,
    seed: int = 1,
    unknown_every: int = 0,
) -> Iterator[HistoryEvent]:
    """The events of ``operations`` operations by ``clients`` concurrent clients (see the
    module docstring); ``request`` draws each operation."""
    prng = random.Random(seed)
    state = model.initial_state()
    pool = [_Client(number) for number in range(clients)]
    next_process = clients
    started = time = 0
    while started < operations or any(client.operation is not None for client in pool):
        client = pool[prng.randrange(clients)]
        if client.operation is None:
            if started == operations:
                continue
            client.operation = request(prng)
            client.applied = False
            client.lost = unknown_every > 0 and model.has_effect(client.operation)
            client.lost = client.lost and prng.randrange(unknown_every) == 0
            started += 1
            time += 1
            yield HistoryEvent(
                kind="invoke", time=time, process=client.process, operation=client.operation
            )
        elif not client.applied:
            client.applied = True
            if not client.lost or prng.random() < 0.5:
                client.result, state = model.expected(state, client.operation)
        else:
            time += 1
            kind: EventKind = "info" if client.lost else "ok"
            yield HistoryEvent(
                kind=kind,
                time=time,
                process=client.process,
                operation=client.operation,
                result=None if client.lost else client.result,
            )
            if client.lost:
                client.process, next_process = next_process, next_process + 1
            client.operation = None


def register_request(prng: random.Random) -> Operation:
    """A Jepsen etcd-test operation: read (half the time), write or cas over the values 0-4."""
    draw = prng.random()
    if draw < 0.5:
        return RegisterRead()
    if draw < 0.75:
        return RegisterWrite(value=prng.randrange(5))
    return RegisterCas(expected=prng.randrange(5), new=prng.randrange(5))


def read_request(_prng: random.Random) -> Operation:
    """Only reads: the trivially linearizable history of issue 10."""
    return RegisterRead()


def _jepsen_value(value: RegisterValue) -> str:
    return "nil" if value is None else str(value)


def _jepsen_argument(operation: Operation) -> tuple[str, str]:
    if isinstance(operation, RegisterRead):
        return "read", "nil"
    if isinstance(operation, RegisterWrite):
        return "write", _jepsen_value(operation.value)
    assert isinstance(operation, RegisterCas), "Jepsen logs hold register operations"
    return "cas", f"[{_jepsen_value(operation.expected)} {_jepsen_value(operation.new)}]"


def jepsen_lines(events: Iterator[HistoryEvent]) -> Iterator[str]:
    """Jepsen's etcd register log (the porcupine corpus format), one line per event."""
    for event in events:
        function, argument = _jepsen_argument(event.operation)
        kind: str = event.kind
        if event.kind == "ok" and isinstance(event.result, ValueResult):
            argument = _jepsen_value(event.result.value)
        elif event.kind == "ok" and isinstance(event.result, CasResult):
            kind = "ok" if event.result.succeeded else "fail"
        elif event.kind == "info":
            argument = ":timed-out"
        yield f"INFO  jepsen.util - {event.process}\t:{kind}\t:{function}\t{argument}\n"


def operation_records(events: Iterator[HistoryEvent]) -> Iterator[OperationRecord]:
    """One record per operation, as it ends (an unanswered one with an unknown outcome)."""
    calls: dict[int, HistoryEvent] = {}
    for event in events:
        if event.kind == "invoke":
            calls[event.process] = event
            continue
        call = calls.pop(event.process)
        yield OperationRecord(
            client_id=event.process,
            call_time=call.time,
            return_time=event.time if event.kind == "ok" else None,
            operation=event.operation,
            result=event.result,
            definite=event.kind == "ok",
        )


def kubeoracle_lines(events: Iterator[HistoryEvent], model: ModelName) -> Iterator[str]:
    """kubeoracle JSON Lines: a header, then :func:`operation_records`."""
    yield encode_line(HistoryHeader(model=model)).decode() + "\n"
    for record in operation_records(events):
        yield encode_line(record).decode() + "\n"
