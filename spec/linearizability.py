"""Linearizability checking of a client history against a sequential model: the model's
interface, the search budget, and the preparation of a history for the search.

Theory of operation. A history is linearizable (Herlihy & Wing 1990) when each operation can be
given a point between its call and its return such that, run in the order of those points, the
sequential model produces every observed result. The search (Wing & Gong's backtracking with
Lowe's memoisation, as in porcupine) is in :mod:`spec.linearizability_search`.

An operation whose outcome is unknown (no return, or ``definite`` false) may take effect at any
point after its call, or never. An unknown operation without side effects (a read) is dropped.
P-compositionality (Herlihy & Wing's locality, Horn & Kroening): when the model maps every
operation to a partition key (kv: the key), each key's sub-history is checked alone, so
:func:`prepare` splits the history into independent partitions.

On a violation, :mod:`spec.linearizability_report` finds the shortest non-linearizable prefix of
the history (cut at a return; operations pending at the cut become unknown), shrinks it to a
small set of operations that cannot be linearized, and says why in words.

The search has a step budget and an optional ``interrupted`` callback (the runner passes one that
reads the clock); running out gives the verdict ``unknown``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, Literal, Protocol, TypeVar

import msgspec

from models.history import Operation, OperationRecord, OperationResult


class Illegal(enum.Enum):
    """The model cannot produce the observed result from this state."""

    ILLEGAL = 0


ILLEGAL = Illegal.ILLEGAL

StateT = TypeVar("StateT", bound=Hashable)
Transition = Callable[[StateT], "StateT | Illegal"]
ReachTest = Callable[[StateT], bool]


class SequentialModel(Protocol[StateT]):
    """A sequential specification, e.g. a register or etcd's keyspace.

    ``transition(operation, result)`` prepares, once per operation, the function from a state to
    the next state, or ``ILLEGAL`` if the model cannot return ``result`` there. ``result`` is
    ``None`` when the outcome is unknown: the effect applies whatever it would have returned.
    """

    @property
    def name(self) -> str: ...

    def initial_state(self) -> StateT: ...

    def transition(
        self, operation: Operation, result: OperationResult | None
    ) -> Callable[[StateT], StateT | Illegal]: ...

    def expected(self, state: StateT, operation: Operation) -> tuple[OperationResult, StateT]:
        """What the model returns for ``operation`` from ``state``, and the next state."""
        ...

    def has_effect(self, operation: Operation) -> bool:
        """Whether the operation can change the state (unknown reads are dropped)."""
        ...

    def read_only(self, operation: Operation, result: OperationResult) -> bool:
        """Whether the operation, answering ``result``, leaves every state where it is legal
        unchanged (a read, a failed compare-and-set). The search linearizes such operations as
        soon as they are legal, without trying the alternatives."""
        ...

    def grows(self, operation: Operation) -> bool:
        """Whether the operation, whatever its outcome, only *grows* the state: takes it to a
        state at or above it in the model's preorder of states (kv: an append extends the
        string). False is always safe."""
        ...

    def reach_test(
        self, operation: Operation, result: OperationResult
    ) -> Callable[[StateT], bool] | None:
        """For a read-only operation: a test that is false for a state only if no state at or
        above it makes the operation legal (kv: the string read must extend the state). The
        search abandons a state where a pending read fails it and no operation that does not
        grow (see :meth:`grows`) can come before the read. None: no test."""
        ...

    def checked(self, record: OperationRecord) -> bool:
        """Whether the record takes part in the check (e.g. not a serializable read)."""
        ...

    def invalid_reason(self, record: OperationRecord) -> str | None:
        """Why the record does not fit this model (wrong operation or result type), if so."""
        ...

    def partition_key(self, operation: Operation) -> str | None:
        """The independent part of the state the operation touches, or None if unknown."""
        ...

    def describe_operation(self, operation: Operation) -> str: ...

    def describe_result(self, result: OperationResult) -> str: ...

    def describe_state(self, state: StateT) -> str: ...


Verdict = Literal["linearizable", "not_linearizable", "unknown"]


class Budget:
    """How much search is allowed: ``max_steps`` in total, and an interruption poll.

    One budget is shared by every search of one check (partitions, prefixes, shrinking); it is
    created per check, never shared between checks. ``interrupted`` is polled every
    ``CHUNK_STEPS`` steps (the runner passes one that reads the clock).
    """

    CHUNK_STEPS = 4096

    def __init__(
        self, max_steps: int | None = None, interrupted: Callable[[], bool] | None = None
    ) -> None:
        self.max_steps = max_steps
        self.interrupted = interrupted
        self.steps_used = 0
        self.exhausted = False

    def spend(self, steps: int) -> bool:
        """Record ``steps`` more steps; whether the search may go on."""
        self.steps_used += steps
        if self.exhausted:
            return False
        over = self.max_steps is not None and self.steps_used >= self.max_steps
        if over or (self.interrupted is not None and self.interrupted()):
            self.exhausted = True
        return not self.exhausted


class PreparedOperation(msgspec.Struct, frozen=True, kw_only=True):
    """An operation ready for the search: ``index`` in the history, ``return_time`` None when
    the outcome is unknown."""

    index: int
    client_id: int
    call_time: int
    return_time: int | None
    identity: int = 0
    """Operations with equal identity are the same request (equal operation values)."""


class SearchResult(msgspec.Struct, frozen=True, kw_only=True):
    """One search's answer; ``order`` is a linearization (history indices) when found."""

    verdict: Verdict
    order: tuple[int, ...] = ()
    steps: int = 0


class Prepared(Generic[StateT]):
    """The operations of one (sub-)history with their transitions, ready to search.

    ``reach`` and ``grows`` (per operation, see :meth:`SequentialModel.reach_test` and
    :meth:`SequentialModel.grows`) let the search abandon hopeless states early; left out, they
    are None and False: no pruning, the same verdicts."""

    def __init__(
        self,
        operations: Sequence[PreparedOperation],
        transitions: Sequence[Callable[[StateT], StateT | Illegal]],
        read_only: Sequence[bool],
        initial: StateT,
        reach: Sequence[ReachTest[StateT] | None] | None = None,
        grows: Sequence[bool] | None = None,
    ) -> None:
        assert len(operations) == len(transitions) == len(read_only)
        self.operations = tuple(operations)
        self.transitions = tuple(transitions)
        self.read_only = tuple(read_only)
        self.initial = initial
        self.reach = tuple(reach) if reach is not None else (None,) * len(self.operations)
        self.grows = tuple(grows) if grows is not None else (False,) * len(self.operations)
        assert len(self.reach) == len(self.grows) == len(self.operations)

    def subset(self, positions: Sequence[int]) -> Prepared[StateT]:
        """The sub-history of the operations at ``positions`` (positions in this one)."""
        return Prepared(
            [self.operations[p] for p in positions],
            [self.transitions[p] for p in positions],
            [self.read_only[p] for p in positions],
            self.initial,
            [self.reach[p] for p in positions],
            [self.grows[p] for p in positions],
        )

    def cut_at(self, time: int, keep_call_at_cut: bool) -> Prepared[StateT]:
        """The prefix of the history up to ``time``: operations called later are removed,
        operations still running at ``time`` become unknown (they may or may not take effect).

        Operations that return exactly at ``time`` stay complete.
        """
        kept: list[int] = []
        operations: list[PreparedOperation] = []
        for position, operation in enumerate(self.operations):
            if operation.call_time > time or (operation.call_time == time and not keep_call_at_cut):
                continue
            if operation.return_time is not None and operation.return_time > time:
                if self.read_only[position]:
                    continue  # a pending read-only operation has no effect: drop it
                operation = msgspec.structs.replace(operation, return_time=None)
            kept.append(position)
            operations.append(operation)
        cut = self.subset(kept)
        return Prepared(
            operations, cut.transitions, cut.read_only, self.initial, cut.reach, cut.grows
        )


def prepare(
    model: SequentialModel[StateT], records: Sequence[OperationRecord]
) -> dict[str | None, Prepared[StateT]]:
    """The checked operations, split into partitions by the model's key when every operation
    has one (one partition, key None, otherwise). Keys iterate in sorted order."""
    chosen: list[tuple[int, OperationRecord]] = []
    for index, record in enumerate(records):
        if not model.checked(record):
            continue
        unknown = not record.definite or record.return_time is None
        if unknown and not model.has_effect(record.operation):
            continue
        chosen.append((index, record))
    keys = [model.partition_key(record.operation) for _, record in chosen]
    partitioned = all(key is not None for key in keys)
    groups: dict[str | None, list[tuple[int, OperationRecord]]] = {}
    for key, item in zip(keys, chosen, strict=True):
        groups.setdefault(key if partitioned else None, []).append(item)
    initial = model.initial_state()
    identities: dict[Operation, int] = {}
    # Identical requests with identical results share one transition (a long register history
    # repeats a few reads and writes): memory grows with the distinct operations.
    prepared_once: dict[tuple[Operation, OperationResult | None], _Shared[StateT]] = {}
    prepared: dict[str | None, Prepared[StateT]] = {}
    for key in sorted(groups, key=lambda name: "" if name is None else name):
        operations: list[PreparedOperation] = []
        shares: list[_Shared[StateT]] = []
        for index, record in groups[key]:
            unknown = not record.definite or record.return_time is None
            operations.append(
                PreparedOperation(
                    index=index,
                    client_id=record.client_id,
                    call_time=record.call_time,
                    return_time=None if unknown else record.return_time,
                    identity=identities.setdefault(record.operation, len(identities)),
                )
            )
            result = None if unknown else record.result
            shared = prepared_once.get((record.operation, result))
            if shared is None:
                shared = _share(model, record.operation, result)
                prepared_once[(record.operation, result)] = shared
            shares.append(shared)
        transitions, read_only, reach, grows = zip(*shares, strict=True) if shares else ((),) * 4
        prepared[key] = Prepared(operations, transitions, read_only, initial, reach, grows)
    return prepared


_Shared = tuple[Transition[StateT], bool, "ReachTest[StateT] | None", bool]
"""What :func:`prepare` derives once per distinct (operation, result): transition, read-only,
reach test, grows."""


def _share(
    model: SequentialModel[StateT], operation: Operation, result: OperationResult | None
) -> _Shared[StateT]:
    read_only = result is not None and model.read_only(operation, result)
    reach = model.reach_test(operation, result) if result is not None and read_only else None
    return model.transition(operation, result), read_only, reach, model.grows(operation)
