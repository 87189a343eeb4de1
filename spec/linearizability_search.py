"""The linearizability search: Wing & Gong's backtracking with Lowe's memoisation.

Theory of operation. The calls and returns of one (sub-)history are *nodes*, sorted by time
(calls first on ties). Three doubly linked lists hold the calls not yet linearized: the
read-only ones and the definite ones that may change the state, each list with every return not
yet passed, and the calls whose outcome is unknown (no return node: they may take effect at any
point after their call, or never). From the current state the search

* first linearizes a read-only call that is legal here, if any: it changes nothing and its
  interval contains this point, so it can move here in any linearization, and no alternative
  needs trying;
* otherwise tries the other calls before the first remaining return, the definite ones in call
  order, then those with an unknown outcome (delaying them loses nothing: they are tried at
  every later point, and "never" is allowed): the first whose transition is legal and whose
  (linearized set, new state) pair was never seen is linearized, its nodes unlinked. An unknown
  outcome is skipped where it changes nothing, and while an identical one called earlier is
  unused (that one can stand in);
* when no candidate is left, undoes the last choice and tries the next candidate after it;
  with nothing to undo, the history is not linearizable;
* finishes when no return is left.

The linearized set is a *window*, so that a step costs the same however long the history is:
definite operations are numbered in call order and the set is ``(base, bits, unknown_bits)``:
every definite operation below ``base`` is linearized and ``base`` is not, ``bits`` holds the
linearized ones from ``base`` on (bit 0 is ``base``), and ``unknown_bits`` the linearized
unknown-outcome operations, numbered apart because they may stay pending forever. In an easy
history the window spans only the operations running at the same time. A plain bitset of the
whole history (porcupine's, and this checker's before) grows with the history at every step,
which makes time and memory quadratic in its length.

:func:`run_searches` interleaves the searches of several partitions a chunk at a time, like
porcupine's parallel partitions, so that a violation in any of them is found after about as
many steps as its own search needs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

from spec.linearizability import ILLEGAL, Budget, Prepared, PreparedOperation, SearchResult

SearchKey = tuple[int, int, int, Any]
"""A search node: (base, bits from base, unknown-outcome bits, state); see the module
docstring."""

SearchSteps = Generator[None, None, SearchResult]

PartitionSearch = Callable[[Sequence[Prepared[Any]], Budget, bool], list[SearchResult]]
"""How a check searches its partitions: :func:`run_searches` here, or the runner's parallel
search over several processes (the same answers)."""

SKIPPED: SearchKey = (-1, 0, 0, None)
"""A key no search node has, kept in every cache: a candidate given it is passed over."""


def search(prepared: Prepared[Any], budget: Budget) -> SearchResult:
    """The search over ``prepared`` within ``budget``."""
    return run_searches([prepared], budget)[0]


def run_searches(
    prepared: Sequence[Prepared[Any]], budget: Budget, stop_at_violation: bool = False
) -> list[SearchResult]:
    """Search each of ``prepared`` in turn a chunk at a time (round robin): a violation in any
    partition is found after about as many steps as its own search needs. With
    ``stop_at_violation`` the others end as ``unknown`` then."""
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


def _linked(members: Sequence[bool], numbers: list[int]) -> tuple[list[int], list[int]]:
    """A doubly linked list (next, previous) over the nodes with ``members`` true, in node
    order, between the sentinels ``size`` (head) and ``size + 1`` (tail); ``numbers`` holds
    the node numbers, so that every list refers to the same int objects."""
    size = len(numbers) - 2
    head, tail = numbers[size], numbers[size + 1]
    next_node = [-1] * (size + 2)
    previous_node = [-1] * (size + 2)
    last = head
    for node in numbers[:size]:
        if members[node]:
            next_node[last] = node
            previous_node[node] = last
            last = node
    next_node[last] = tail
    previous_node[tail] = last
    return next_node, previous_node


class _Nodes:
    """The search's nodes with per-node arrays. For a call node: its transition, its return
    node (``match``; -1 if the outcome is unknown), whether it is read-only, its slot (its
    number in call order among the definite operations, from 0 up, or among the unknown ones,
    from -1 down) and the number of its earlier identical unknown twin (-1: none). Return nodes
    and the sentinels ``size`` (head) and ``size + 1`` (tail) have None, -1 and False there.
    Every array refers to one set of int objects (``numbers``): a long history's arrays then
    cost a pointer per entry."""

    def __init__(self, prepared: Prepared[Any]) -> None:
        operations = prepared.operations
        entries: list[tuple[int, int, int]] = []  # (time, 0 call / 1 return, position)
        for position, operation in enumerate(operations):
            entries.append((operation.call_time, 0, position))
            if operation.return_time is not None:
                entries.append((operation.return_time, 1, position))
        entries.sort()
        size = self.size = len(entries)
        numbers = list(range(size + 2))
        self.position_of = [numbers[position] for _, _, position in entries]
        self.match = [-1] * (size + 2)
        self.transition_of: list[Callable[[Any], Any] | None] = [None] * (size + 2)
        self.reads_of = [False] * (size + 2)
        self.reach_of: list[Callable[[Any], bool] | None] = [None] * (size + 2)
        self.grows_of = [False] * (size + 2)
        self.slot_of = [-1] * (size + 2)
        self.twin_slot_of = [-1] * (size + 2)
        call_node = [0] * len(operations)
        next_slot = [0, 0]  # definite, unknown
        for node, (_, kind, position) in zip(numbers, entries, strict=False):
            if kind == 1:
                self.match[call_node[position]] = node
                continue
            call_node[position] = node
            outcome_unknown = operations[position].return_time is None
            self.transition_of[node] = prepared.transitions[position]
            self.reads_of[node] = prepared.read_only[position]
            self.reach_of[node] = prepared.reach[position]
            self.grows_of[node] = prepared.grows[position]
            # Definite operations from 0 up, unknown ones from -1 down.
            self.slot_of[node] = numbers[next_slot[0]] if not outcome_unknown else ~next_slot[1]
            next_slot[outcome_unknown] += 1
        for position, twin in enumerate(_earlier_twins(operations)):
            if twin >= 0:
                self.twin_slot_of[call_node[position]] = ~self.slot_of[call_node[twin]]
        self.definite = next_slot[0]
        is_return = [kind == 1 for _, kind, _ in entries]
        del entries, call_node
        self.next_read, self.previous_read = _linked(
            [is_return[node] or self.reads_of[node] for node in range(size)], numbers
        )
        unknown = [self.slot_of[node] < 0 and not is_return[node] for node in range(size)]
        self.next_write, self.previous_write = _linked(
            [is_return[node] or not (self.reads_of[node] or unknown[node]) for node in range(size)],
            numbers,
        )
        self.next_unknown, self.previous_unknown = _linked(unknown, numbers)

    def resets_before(self, limit: int) -> bool:
        """Whether a call not yet linearized that may change the state without growing it
        (see :meth:`spec.linearizability.SequentialModel.grows`) comes before node ``limit``."""
        transition_of, grows_of = self.transition_of, self.grows_of
        for next_node in (self.next_write, self.next_unknown):
            node = next_node[self.size]
            while node < limit:  # the tail sentinel is above every node
                if transition_of[node] is not None and not grows_of[node]:
                    return True
                node = next_node[node]
        return False


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


def search_steps(prepared: Prepared[Any], chunk_steps: int) -> SearchSteps:
    """The search, pausing (``yield``) every ``chunk_steps`` steps; see the module docstring.

    A search node is the key ``(base, bits, unknown_bits, state)``: the linearized set and the
    state. The loop stays in one function on purpose: it is the checker's hot path, and a call
    per step (or per list edit) would double it.
    """
    nodes = _Nodes(prepared)
    head, match, slot_of = nodes.size, nodes.match, nodes.slot_of
    transition_of, reads_of, twin_slot_of = nodes.transition_of, nodes.reads_of, nodes.twin_slot_of
    reach_of, resets_before = nodes.reach_of, nodes.resets_before
    next_read, previous_read = nodes.next_read, nodes.previous_read
    next_write, previous_write = nodes.next_write, nodes.previous_write
    next_unknown, previous_unknown = nodes.next_unknown, nodes.previous_unknown
    remaining = nodes.definite
    chosen: SearchKey = (0, 0, 0, prepared.initial)
    base, bits, unknown_bits, state = chosen
    cache: set[SearchKey] = {chosen, SKIPPED}
    stack_nodes: list[int] = []
    stack_keys: list[SearchKey] = [chosen]
    entry = resume = head
    limit = -1  # scanning the unknown-outcome calls before this return node (-1: the others)
    fresh = True  # just entered a node: look for a legal read-only call first
    steps = total_steps = 0
    while remaining:
        steps += 1
        if steps >= chunk_steps:
            total_steps, steps = total_steps + steps, 0
            yield
        found = False
        if fresh:
            fresh = False
            entry = next_read[resume]  # earlier read-only calls are illegal in this state
            transition = transition_of[entry]
            doomed = False
            while transition is not None and transition(state) is ILLEGAL:
                reach = reach_of[entry]
                if reach is not None and not reach(state) and not resets_before(match[entry]):
                    doomed = True  # no state this one can grow into makes the read legal
                    break
                entry = next_read[entry]
                transition = transition_of[entry]
            if doomed:
                entry = -1
            elif transition is None:
                entry, limit = head, -1
            else:
                slot = slot_of[entry]  # a read-only call is definite: slot >= base
                if slot == base:
                    moved = bits | 1
                    ones = (~moved & (moved + 1)).bit_length() - 1
                    chosen = (base + ones, moved >> ones, unknown_bits, state)
                else:
                    chosen = (base, bits | 1 << (slot - base), unknown_bits, state)
                found = chosen not in cache
                if found:
                    cache.add(chosen)
                else:
                    entry = -1  # explored from here before: a dead end
        while entry >= 0 and not found:
            # The next candidate after ``entry``: calls that may change the state up to the
            # first remaining return (``limit``), then the unknown-outcome calls before it.
            if limit < 0:
                entry = next_write[entry]
                transition = transition_of[entry]
                if transition is None:
                    limit, entry = entry, head
                    continue
            else:
                entry = next_unknown[entry]
                transition = transition_of[entry]
                if transition is None or entry > limit:
                    break
            new_state = transition(state)
            if new_state is ILLEGAL:
                continue
            slot = slot_of[entry]
            if slot == base:
                moved = bits | 1
                ones = (~moved & (moved + 1)).bit_length() - 1
                chosen = (base + ones, moved >> ones, unknown_bits, new_state)
            elif slot > base:
                chosen = (base, bits | 1 << (slot - base), unknown_bits, new_state)
            else:
                # Unknown outcome (slot -1 - its number): skip it when it changes nothing, or
                # while an identical unknown one called earlier is unused (it can stand in).
                twin = twin_slot_of[entry]
                if new_state == state or (twin >= 0 and not unknown_bits >> twin & 1):
                    continue
                chosen = (base, bits, unknown_bits | 1 << ~slot, new_state)
            found = chosen not in cache
            if found:
                cache.add(chosen)
        if found:
            stack_nodes.append(entry)
            stack_keys.append(chosen)
            base, bits, unknown_bits, state = chosen
            fresh, resume = True, head
            returned = match[entry]
            if reads_of[entry]:
                # The state stays, so the read-only calls before this one stay illegal: the
                # next look starts from its predecessor.
                resume = before = previous_read[entry]
                after = next_read[entry]
                next_read[before], previous_read[after] = after, before
            elif returned < 0:
                before, after = previous_unknown[entry], next_unknown[entry]
                next_unknown[before], previous_unknown[after] = after, before
            else:
                before, after = previous_write[entry], next_write[entry]
                next_write[before], previous_write[after] = after, before
            if returned >= 0:
                remaining -= 1
                before, after = previous_read[returned], next_read[returned]
                next_read[before], previous_read[after] = after, before
                before, after = previous_write[returned], next_write[returned]
                next_write[before], previous_write[after] = after, before
            continue
        # Backtrack: undo forced (read-only) choices, then the last choice that changed the
        # state, and go on with the candidate after it.
        while True:
            if not stack_nodes:
                return SearchResult(verdict="not_linearizable", steps=total_steps + steps)
            entry = stack_nodes.pop()
            stack_keys.pop()
            returned = match[entry]
            if returned >= 0:
                remaining += 1
                next_write[previous_write[returned]] = returned
                previous_write[next_write[returned]] = returned
                next_read[previous_read[returned]] = returned
                previous_read[next_read[returned]] = returned
            if reads_of[entry]:
                next_read[previous_read[entry]] = previous_read[next_read[entry]] = entry
                continue
            if returned >= 0:
                next_write[previous_write[entry]] = previous_write[next_write[entry]] = entry
                limit = -1
            else:
                next_unknown[previous_unknown[entry]] = entry
                previous_unknown[next_unknown[entry]] = entry
                limit = next_write[head]  # the first remaining return
                while transition_of[limit] is not None:
                    limit = next_write[limit]
            break
        base, bits, unknown_bits, state = stack_keys[-1]
    order = tuple(prepared.operations[nodes.position_of[node]].index for node in stack_nodes)
    return SearchResult(verdict="linearizable", order=order, steps=total_steps + steps)
