"""Linearizability checking of a client history against a sequential model.

Theory of operation. A history is linearizable (Herlihy & Wing 1990) when each operation can be
given a point between its call and its return such that, run in the order of those points, the
sequential model produces every observed result. The search is Wing & Gong's backtracking with
Lowe's memoisation, as in porcupine:

* calls and returns are sorted by time (calls first on ties) into a doubly linked list;
* from the head, the search tries to linearize the next call whose return has not been passed:
  if the model accepts the operation's result from the current state and the pair (set of
  linearized operations as an int bitset, new state) was never seen, the call and its return are
  unlinked and the search restarts from the head;
* reaching a return whose call is not linearized means the current prefix cannot be extended:
  the last choice is undone and the next candidate tried;
* the history is linearizable once no return is left.

An operation whose outcome is unknown (no return, or ``definite`` false) has no return entry:
it may be linearized at any point after its call, or never. An unknown operation without side
effects (a read) is dropped. P-compositionality (Herlihy & Wing's locality, Horn & Kroening):
when the model maps every operation to a partition key (kv: the key), each key's sub-history is
checked alone.

On a violation, :mod:`spec.linearizability_report` finds the shortest non-linearizable prefix of
the history (cut at a return; operations pending at the cut become unknown), shrinks it to a
small set of operations that cannot be linearized, and says why in words.

The search has a step budget and an optional ``interrupted`` callback (the runner passes one that
reads the clock); running out gives the verdict ``unknown``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator, Hashable, Sequence
from typing import Any, Generic, Literal, Protocol, TypeVar

import msgspec

from models.history import Operation, OperationRecord, OperationResult


class Illegal(enum.Enum):
    """The model cannot produce the observed result from this state."""

    ILLEGAL = 0


ILLEGAL = Illegal.ILLEGAL

StateT = TypeVar("StateT", bound=Hashable)
Transition = Callable[[StateT], "StateT | Illegal"]


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
    """The operations of one (sub-)history with their transitions, ready to search."""

    def __init__(
        self,
        operations: Sequence[PreparedOperation],
        transitions: Sequence[Callable[[StateT], StateT | Illegal]],
        read_only: Sequence[bool],
        initial: StateT,
    ) -> None:
        assert len(operations) == len(transitions) == len(read_only)
        self.operations = tuple(operations)
        self.transitions = tuple(transitions)
        self.read_only = tuple(read_only)
        self.initial = initial

    def subset(self, positions: Sequence[int]) -> Prepared[StateT]:
        """The sub-history of the operations at ``positions`` (positions in this one)."""
        return Prepared(
            [self.operations[p] for p in positions],
            [self.transitions[p] for p in positions],
            [self.read_only[p] for p in positions],
            self.initial,
        )

    def cut_at(self, time: int, keep_call_at_cut: bool) -> Prepared[StateT]:
        """The prefix of the history up to ``time``: operations called later are removed,
        operations still running at ``time`` become unknown (they may or may not take effect).

        Operations that return exactly at ``time`` stay complete.
        """
        kept: list[PreparedOperation] = []
        transitions: list[Callable[[StateT], StateT | Illegal]] = []
        read_only: list[bool] = []
        for operation, transition, reads in zip(
            self.operations, self.transitions, self.read_only, strict=True
        ):
            if operation.call_time > time or (operation.call_time == time and not keep_call_at_cut):
                continue
            if operation.return_time is not None and operation.return_time > time:
                if reads:
                    continue  # a pending read-only operation has no effect: drop it
                operation = PreparedOperation(
                    index=operation.index,
                    client_id=operation.client_id,
                    call_time=operation.call_time,
                    return_time=None,
                    identity=operation.identity,
                )
            kept.append(operation)
            transitions.append(transition)
            read_only.append(reads)
        return Prepared(kept, transitions, read_only, self.initial)


SearchSteps = Generator[None, None, SearchResult]


def search(prepared: Prepared[StateT], budget: Budget) -> SearchResult:
    """Wing & Gong / Lowe search over ``prepared`` within ``budget``."""
    return run_searches([prepared], budget)[0]


def run_searches(
    prepared: Sequence[Prepared[StateT]], budget: Budget, stop_at_violation: bool = False
) -> list[SearchResult]:
    """Search each of ``prepared`` in turn a chunk at a time (round robin), like porcupine's
    parallel partitions: a violation in any partition is found after about as many steps as
    its own search needs. With ``stop_at_violation`` the others end as ``unknown`` then."""
    searches = [search_steps(item, Budget.CHUNK_STEPS) for item in prepared]
    results: list[SearchResult | None] = [None] * len(searches)

    def finished() -> list[SearchResult]:
        return [result or SearchResult(verdict="unknown") for result in results]

    spent = [0] * len(searches)
    running = list(range(len(searches)))
    while running:
        next_round: list[int] = []
        for number in running:
            try:
                next(searches[number])
            except StopIteration as done:
                results[number] = done.value
                budget.spend(max(0, done.value.steps - spent[number]))
                if stop_at_violation and done.value.verdict == "not_linearizable":
                    return finished()
                continue
            next_round.append(number)
            spent[number] += Budget.CHUNK_STEPS
            if not budget.spend(Budget.CHUNK_STEPS):
                return finished()
        running = next_round
    return finished()


def _linked(members: Sequence[bool], size: int) -> tuple[list[int], list[int]]:
    """A doubly linked list (next, previous) over the nodes with ``members`` true, in node
    order, between the sentinels ``size`` (head) and ``size + 1`` (tail)."""
    head, tail = size, size + 1
    next_node = [-1] * (size + 2)
    previous_node = [-1] * (size + 2)
    last = head
    for node in range(size):
        if members[node]:
            next_node[last] = node
            previous_node[node] = last
            last = node
    next_node[last] = tail
    previous_node[tail] = last
    return next_node, previous_node


def _unlink(next_node: list[int], previous_node: list[int], node: int) -> None:
    after, before = next_node[node], previous_node[node]
    next_node[before] = after
    previous_node[after] = before


def _relink(next_node: list[int], previous_node: list[int], node: int) -> None:
    next_node[previous_node[node]] = node
    previous_node[next_node[node]] = node


class _Nodes:
    """The search's nodes: the calls and returns in time order (calls first on ties), with
    per-node arrays (None / False / 0 for returns and the sentinels ``size`` (head) and
    ``size + 1`` (tail)) and two linked lists sharing the returns: one of the read-only calls,
    one of the calls that may change the state."""

    def __init__(self, prepared: Prepared[Any]) -> None:
        operations = prepared.operations
        entries: list[tuple[int, int, int]] = []  # (time, 0 call / 1 return, position)
        for position, operation in enumerate(operations):
            entries.append((operation.call_time, 0, position))
            if operation.return_time is not None:
                entries.append((operation.return_time, 1, position))
        entries.sort()
        size = len(entries)
        self.size = size
        self.entries = entries
        self.match = [-1] * (size + 2)
        call_node = [0] * len(operations)
        for node, (_, kind, position) in enumerate(entries):
            if kind == 0:
                call_node[position] = node
            else:
                self.match[call_node[position]] = node
        # States are opaque here (hashable values of the model's state type).
        self.transition_of: list[Callable[[Any], Any] | None] = [None] * (size + 2)
        self.reads_of = [False] * (size + 2)
        self.unknown_of = [False] * (size + 2)
        self.bit_of = [0] * (size + 2)
        self.twin_bit_of = [0] * (size + 2)
        twin = _earlier_twins(operations)
        for position, node in enumerate(call_node):
            self.transition_of[node] = prepared.transitions[position]
            self.reads_of[node] = prepared.read_only[position]
            self.unknown_of[node] = operations[position].return_time is None
            self.bit_of[node] = 1 << position
            self.twin_bit_of[node] = 1 << twin[position] if twin[position] >= 0 else 0
        is_return = [kind == 1 for _, kind, _ in entries]
        self.next_read, self.previous_read = _linked(
            [is_return[node] or self.reads_of[node] for node in range(size)], size
        )
        self.next_write, self.previous_write = _linked(
            [is_return[node] or not self.reads_of[node] for node in range(size)], size
        )


def search_steps(prepared: Prepared[StateT], chunk_steps: int) -> SearchSteps:
    """The search itself, pausing (``yield``) every ``chunk_steps`` steps; see the module
    docstring.

    Nodes are the calls and returns in time order. Two linked lists share the return nodes:
    one holds the read-only calls, the other the calls that may change the state, so each scan
    walks only its own kind until the first return not yet linearized. The loop stays in one
    function on purpose: it is the checker's hot path, and a call per step would double it.
    """
    operations = prepared.operations
    nodes = _Nodes(prepared)
    head, entries, match = nodes.size, nodes.entries, nodes.match
    transition_of, reads_of, unknown_of = nodes.transition_of, nodes.reads_of, nodes.unknown_of
    bit_of, twin_bit_of = nodes.bit_of, nodes.twin_bit_of
    next_read, previous_read = nodes.next_read, nodes.previous_read
    next_write, previous_write = nodes.next_write, nodes.previous_write
    remaining = sum(1 for operation in operations if operation.return_time is not None)
    state: Any = prepared.initial
    linearized = 0
    cache: set[tuple[int, Hashable]] = set()
    stack_nodes: list[int] = []
    stack_states: list[Any] = []
    entry = head
    resume = head
    fresh = True  # just entered a node: look for a legal read-only operation first
    steps = 0
    total_steps = 0
    new_state: Any = state
    while remaining:
        steps += 1
        if steps >= chunk_steps:
            total_steps += steps
            steps = 0
            yield
        forced = False
        if fresh:
            # A read-only operation that is legal here can move to this point in any
            # linearization (it changes nothing, its call has passed, its return has not):
            # linearize it first, as the node's only child.
            fresh = False
            node = next_read[resume]
            transition = transition_of[node]
            while transition is not None:
                if transition(state) is not ILLEGAL:
                    break
                node = next_read[node]
                transition = transition_of[node]
            if transition is not None:
                key = (linearized | bit_of[node], state)
                if key in cache:
                    entry = -1  # explored before from here: a dead end
                else:
                    cache.add(key)
                    entry = node
                    new_state = state
                    forced = True
            else:
                entry = next_write[head]
        if entry >= 0 and not forced:
            # Candidates that change the state (read-only ones are not legal at this node).
            transition = transition_of[entry]
            while transition is not None:
                new_state = transition(state)
                if new_state is not ILLEGAL and not (
                    # Unknown outcome: skip it when it would change nothing, or when an
                    # identical unknown one called earlier is unused (it can stand in).
                    unknown_of[entry]
                    and (
                        new_state == state
                        or (twin_bit_of[entry] and not linearized & twin_bit_of[entry])
                    )
                ):
                    key = (linearized | bit_of[entry], new_state)
                    if key not in cache:
                        cache.add(key)
                        break
                entry = next_write[entry]
                transition = transition_of[entry]
            if transition is None:
                entry = -1
        if entry >= 0:
            stack_nodes.append(entry)
            stack_states.append(state)
            state = new_state
            linearized |= bit_of[entry]
            if forced:
                # The state stays: read-only calls before this one stay illegal, so the next
                # look starts from its predecessor (linked while later ones are forced).
                resume = previous_read[entry]
                _unlink(next_read, previous_read, entry)
            else:
                resume = head
                _unlink(next_write, previous_write, entry)
            returned = match[entry]
            if returned >= 0:
                remaining -= 1
                _unlink(next_read, previous_read, returned)
                _unlink(next_write, previous_write, returned)
            fresh = True
            continue
        # Backtrack: undo forced (read-only) choices, then the last choice that changed the
        # state, and try the next candidate after it.
        forced = True
        while forced:
            if not stack_nodes:
                return SearchResult(verdict="not_linearizable", steps=total_steps + steps)
            entry = stack_nodes.pop()
            state = stack_states.pop()
            forced = reads_of[entry]
            linearized &= ~bit_of[entry]
            returned = match[entry]
            if returned >= 0:
                remaining += 1
                _relink(next_write, previous_write, returned)
                _relink(next_read, previous_read, returned)
            if forced:
                _relink(next_read, previous_read, entry)
            else:
                _relink(next_write, previous_write, entry)
        entry = next_write[entry]
    order = tuple(operations[entries[node][2]].index for node in stack_nodes)
    return SearchResult(verdict="linearizable", order=order, steps=total_steps + steps)


def _earlier_twins(operations: Sequence[PreparedOperation]) -> list[int]:
    """For each unknown-outcome operation, the latest identical unknown one called before it
    (-1 if none): using the earlier one first loses nothing, so the later waits for it."""
    twins = [-1] * len(operations)
    latest: dict[int, int] = {}
    by_call = sorted(range(len(operations)), key=lambda position: operations[position].call_time)
    for position in by_call:
        if operations[position].return_time is None:
            identity = operations[position].identity
            twins[position] = latest.get(identity, -1)
            latest[identity] = position
    return twins


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
    prepared: dict[str | None, Prepared[StateT]] = {}
    for key in sorted(groups, key=lambda name: "" if name is None else name):
        operations: list[PreparedOperation] = []
        transitions: list[Callable[[StateT], StateT | Illegal]] = []
        read_only: list[bool] = []
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
            transitions.append(model.transition(record.operation, result))
            read_only.append(result is not None and model.read_only(record.operation, result))
        prepared[key] = Prepared(operations, transitions, read_only, initial)
    return prepared
